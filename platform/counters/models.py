from __future__ import annotations

from django.db import models


class VariantImpressions(models.Model):
    """Every impression a variant has had, as the daily rollups count them.

    Kept by the rollup refresh (analytics.rollups.refresh_day adds the change in each recounted day), so
    a catalogue reload reads one row per live variant instead of counting the events table. Pruning raw
    events leaves it alone: the rollups it follows are kept.
    """

    placement_id = models.BigIntegerField()
    variant_id = models.BigIntegerField()
    impressions = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["placement_id", "variant_id"],
                                               name="unique_variant_impressions")]

    def __str__(self) -> str:
        return f"{self.placement_id}/{self.variant_id}: {self.impressions}"
