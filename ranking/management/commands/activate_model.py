from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug
from ranking import services
from ranking.gate import ActivationRefused
from ranking.models import ModelVersion


class Command(BaseCommand):
    help = ("Activate a model version (if it passes the activation gate, or with --force), or roll back to the "
            "previously active one.")

    def add_arguments(self, parser):
        parser.add_argument("version", nargs="?")
        parser.add_argument("--rollback", action="store_true", help="Back to the version active before.")
        parser.add_argument("--placement", help="With --rollback: the placement (leave out for the general model).")
        parser.add_argument("--force", action="store_true",
                            help="Activate even if the gate refuses; recorded in the version's activation log.")

    def handle(self, *args, version, rollback, placement, force, **options):
        try:
            if rollback:
                target = placement_by_slug(placement) if placement else None
                mv = services.model_rollback(placement=target, to_version=version)
            elif version:
                mv = services.model_activate(version=version, force=force, by="activate_model")
            else:
                raise CommandError("Give a VERSION or --rollback.")
        except (ModelVersion.DoesNotExist, UnknownPlacement) as exc:
            raise CommandError(str(exc)) from exc
        except ActivationRefused as exc:
            raise CommandError(str(exc)) from exc
        forced = (mv.params or {}).get("activations", [{}])[-1].get("forced") if not rollback else False
        self.stdout.write(f"v{mv.version} is active for {mv.placement.slug if mv.placement_id else 'all placements'}"
                          + (" (gate overridden with --force)." if forced else "."))
