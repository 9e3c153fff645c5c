import json

from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug


class Command(BaseCommand):
    help = ("Estimate the CTR of the policy that would serve a candidate model, from logged decisions "
            "(IPS, SNIPS, doubly robust, BCa intervals by user) as JSON.")

    def add_arguments(self, parser):
        parser.add_argument("placement")
        parser.add_argument("--model-version", required=True)
        parser.add_argument("--buckets", default="random")
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--include-training", action="store_true",
                            help="Also use the decisions the model was trained on (optimistic).")
        parser.add_argument("--clip", type=float, default=None,
                            help="Cap importance weights at this value (default: unclipped).")

    def handle(self, *args, placement, model_version, buckets="random", days=None, include_training=False,
               clip=None, **options):
        from analytics.attribution import split_buckets
        from analytics.ope import OpeError, off_policy_estimate

        try:
            found = placement_by_slug(placement)
        except UnknownPlacement as exc:
            raise CommandError(str(exc)) from exc
        try:
            result = off_policy_estimate(placement=found, model_version=model_version, days=days,
                                         include_training=include_training,
                                         buckets=split_buckets(buckets), clip=clip)
        except OpeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, indent=2))
