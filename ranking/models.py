from __future__ import annotations

import uuid

from django.db import models


class Experiment(models.Model):
    """An A/B test on one placement: users split by a stable hash into control / random / model."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    slug = models.SlugField(max_length=80, unique=True)
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="experiments")
    # bucket -> share, shares sum to 1, e.g. {"control": 0.2, "random": 0.2, "model": 0.6}
    buckets = models.JSONField()
    salt = models.CharField(max_length=40, help_text="Hashed with the user id to assign buckets.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.slug


class Decision(models.Model):
    """What was served to whom and why: the unit that events and training rows join on."""

    decision_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="decisions")
    user_id = models.CharField(max_length=128, db_index=True)
    features = models.JSONField(default=dict)
    context = models.JSONField(default=dict)
    bucket = models.CharField(max_length=10)
    experiment = models.ForeignKey(Experiment, null=True, blank=True, on_delete=models.SET_NULL)
    model_version = models.CharField(max_length=40, blank=True)
    # [{"variant_id": 412, "rank": 1, "score": 0.031, "propensity": 0.82}, ...]
    items = models.JSONField(default=list)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["placement", "created_at"], name="decision_placement_time")]

    def __str__(self) -> str:
        return str(self.decision_id)
