import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from creative.selectors import UnknownPlacement, placement_by_slug
from ranking import rollout
from ranking.gate import ActivationRefused
from ranking.models import ModelRollout, ModelVersion


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = ("Release a model version gradually: `start VERSION` ramps it over the model bucket's users "
            "(guardrails roll it back automatically); `start-variants PLACEMENT --variants ID,ID` ramps newly "
            "published variants the same way; `status`, `evaluate` (what the periodic task does) and "
            "`cancel PLACEMENT`. Prints JSON last.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "start-variants", "status", "evaluate", "cancel"])
        parser.add_argument("target", nargs="?",
                            help="start: the model version; start-variants/status/cancel: a placement slug.")
        parser.add_argument("--variants", help="start-variants: the live variant ids to ramp, e.g. 412,413.")
        parser.add_argument("--steps", help="Shares of the model bucket's users, e.g. 0.05,0.2,0.5.")
        parser.add_argument("--min-dwell-s", type=int, help="Seconds each step lasts at least.")
        parser.add_argument("--min-impressions", type=int, help="Impressions each arm needs per step.")
        parser.add_argument("--force", action="store_true",
                            help="Start even if the activation gate refuses (recorded on the ramp).")

    def handle(self, *args, action, target, steps, min_dwell_s, min_impressions, force, variants, **options):
        out: Any  # one ramp's summary, or a list of summaries or checks: printed as JSON last
        try:
            if action == "start-variants":
                if not target or not variants:
                    raise CommandError("Give the PLACEMENT and --variants ID,ID.")
                started = rollout.start_variant_rollout(
                    placement=placement_by_slug(target), variant_ids=variants.split(","),
                    steps=steps.split(",") if steps else None, min_dwell_s=min_dwell_s,
                    min_impressions=min_impressions, by="rollout_model")
                out = rollout.rollout_summary(started)
                self.stdout.write(f"{len(started.variant_ids)} variants ramp on {target}: "
                                  + " → ".join(f"{s:.0%}" for s in started.steps) + " → 100%.")
            elif action == "start":
                if not target:
                    raise CommandError("Give the model VERSION to ramp.")
                started = rollout.start_rollout(
                    version=target, steps=steps.split(",") if steps else None, min_dwell_s=min_dwell_s,
                    min_impressions=min_impressions, force=force, by="rollout_model")
                out = rollout.rollout_summary(started)
                self.stdout.write(f"v{target} ramps on {started.placement.slug}: "
                                  + " → ".join(f"{s:.0%}" for s in started.steps) + " → 100%.")
            elif action == "evaluate":
                out = [check.as_dict() for check in rollout.evaluate_ramping()]
                for check in out:
                    self.stdout.write(f"rollout {check['rollout_id']} at {check['share']:.0%}: {check['action']} "
                                      f"({check['reason']})")
            else:
                ramps = ModelRollout.objects.select_related("placement", "candidate", "incumbent")
                if target:
                    ramps = ramps.filter(placement=placement_by_slug(target))
                if action == "cancel":
                    if not target:
                        raise CommandError("Give the PLACEMENT whose ramp to cancel.")
                    current = ramps.filter(status=ModelRollout.Status.RAMPING).first()
                    if current is None:
                        raise CommandError(f"{target} has no ramp under way.")
                    rollout.cancel_rollout(current, by="rollout_model")
                    out = rollout.rollout_summary(current)
                    self.stdout.write(f"Ramp {current.id} cancelled; the incumbent serves everyone.")
                else:
                    out = [rollout.rollout_summary(r) for r in ramps[:20]]
                    for r in out:
                        what = f"v{r['candidate']}" if r["candidate"] else f"{len(r['variant_ids'])} variants"
                        self.stdout.write(f"{r['placement']}: {what} {r['status']} at {r['share']:.0%}"
                                          + (f" — {r['reason']}" if r["reason"] else ""))
        except (ModelVersion.DoesNotExist, UnknownPlacement) as exc:
            raise CommandError(str(exc)) from exc
        except ActivationRefused as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        self.stdout.write(json.dumps(out, default=str))
