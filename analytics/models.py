from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    IMPRESSION = "impression", "Impression"
    CLICK = "click", "Click"
    CONVERSION = "conversion", "Conversion"


class Event(models.Model):
    """One impression, click or conversion reported by a client; stored once per event_id."""

    event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=12, choices=EventType.choices)  # noqa: A003
    decision_id = models.UUIDField(null=True, blank=True, db_index=True)
    variant_id = models.BigIntegerField()
    user_id = models.CharField(max_length=128)
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="events")
    position = models.PositiveSmallIntegerField(default=1)
    ts = models.DateTimeField(help_text="When it happened on the client.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["placement", "ts"], name="event_placement_time")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
