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


class HourlyConversions(models.Model):
    """Conversions stored per placement and UTC hour of the event, added to as ingestion stores them.

    What a copy line's `{conversions_24h}` reads (counters.services.conversions_in_last_day): about 24 indexed
    rows per placement, never the events table.
    """

    placement_id = models.BigIntegerField()
    hour = models.DateTimeField(help_text="The hour's start (UTC).")
    conversions = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["placement_id", "hour"], name="unique_hourly_conversions")]

    def __str__(self) -> str:
        return f"{self.placement_id}@{self.hour:%Y-%m-%d %H}h: {self.conversions}"
