import json

from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug
from ranking import services


class Command(BaseCommand):
    help = ("Train a ranker on logged decisions and events; prints one JSON object last. With --activate the "
            "model goes live only if it passes the activation gate (exit status 1 and the reasons otherwise).")

    def add_arguments(self, parser):
        parser.add_argument("--placement", help="Placement slug; leave out with --general for the general model.")
        parser.add_argument("--algo", choices=["auto", "lightgbm", "logreg"], default="auto",
                            help="auto (default): LightGBM and logistic-regression candidates, chosen on the "
                                 "validation split (one-standard-error rule on calibrated log loss).")
        parser.add_argument("--general", action="store_true", help="One model over every placement's data.")
        parser.add_argument("--variant-id", action="store_true", help="Also learn a per-variant effect.")
        parser.add_argument("--activate", action="store_true", help="Make it serve if it passes the gate.")
        parser.add_argument("--force", action="store_true",
                            help="With --activate: activate even if the gate refuses (recorded on the version).")

    def handle(self, *args, placement, algo, general, variant_id, activate, force, **options):
        target = None
        if placement:
            try:
                target = placement_by_slug(placement)
            except UnknownPlacement as exc:
                raise CommandError(str(exc)) from exc
        elif not general:
            raise CommandError("Give --placement SLUG, or --general.")
        try:
            result = services.train_model(placement=target, algo=algo, activate=activate, general=general,
                                          use_variant_id=variant_id, force=force, by="train_ranker")
        except services.TrainingError as exc:
            raise CommandError(str(exc)) from exc
        gate = result.gate
        self.stdout.write(f"v{result.model_version} {result.algo} ({result.scope}): {result.rows} rows, "
                          f"positive rate {result.positive_rate:.4f}, calibration error "
                          f"{result.calibration_error}, {result.train_seconds:.1f}s"
                          + (", active" if result.activated else ""))
        clicks, needed = gate.get("training_clicks"), gate.get("clicks_needed")
        if clicks is not None and needed and clicks < needed:
            self.stdout.write(f"Small data: the model learnt from {clicks} clicks; about {needed} are needed "
                              "before a model usually beats predicting the mean click rate.")
        if not gate.get("passed"):
            self.stdout.write(("Gate overridden (--force): " if result.activated else "Gate: not good enough to "
                               "serve: ") + "; ".join(gate.get("reasons", [])) + ".")
        self.stdout.write(json.dumps(result.summary()))
        if activate and not result.activated:
            raise CommandError(f"v{result.model_version} was stored but not activated: "
                               + "; ".join(gate.get("reasons", [])) + ". Use --force to activate it anyway.")
