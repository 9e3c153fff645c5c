from django.core.management.base import BaseCommand, CommandError

from creative.models import Placement
from ranking import services
from ranking.models import ModelVersion


class Command(BaseCommand):
    help = "Activate a model version, or roll back to the previously active one."

    def add_arguments(self, parser):
        parser.add_argument("version", nargs="?")
        parser.add_argument("--rollback", action="store_true", help="Back to the version active before.")
        parser.add_argument("--placement", help="With --rollback: the placement (leave out for the general model).")

    def handle(self, *args, version, rollback, placement, **options):
        try:
            if rollback:
                target = Placement.objects.get(slug=placement) if placement else None
                mv = services.model_rollback(placement=target, to_version=version)
            elif version:
                mv = services.model_activate(version=version)
            else:
                raise CommandError("Give a VERSION or --rollback.")
        except (ModelVersion.DoesNotExist, Placement.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"v{mv.version} is active for {mv.placement.slug if mv.placement_id else 'all placements'}.")
