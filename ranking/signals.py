"""Drop a placement's cached serving catalogue whenever its variants, settings or experiments change.

Receivers, not service calls, because the writes happen in other areas (operators publish, pin and
block variants in creative); bulk updates bypass signals, so the catalogue also expires after
KALEIDO_RANK_CATALOGUE_TTL seconds.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from creative.models import Placement, StyleVariant

from .models import Experiment


@receiver([post_save, post_delete], sender=StyleVariant, dispatch_uid="ranking-variant-changed")
@receiver([post_save, post_delete], sender=Experiment, dispatch_uid="ranking-experiment-changed")
def _placement_child_changed(sender, instance, **kwargs) -> None:
    from .serving import invalidate_catalogue

    invalidate_catalogue(instance.placement_id)


@receiver([post_save, post_delete], sender=Placement, dispatch_uid="ranking-placement-changed")
def _placement_changed(sender, instance, **kwargs) -> None:
    from .serving import invalidate_catalogue

    invalidate_catalogue(instance.pk)
