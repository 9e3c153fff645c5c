from __future__ import annotations

from django.db import models


class GenerationJob(models.Model):
    """A batch of images generated for a kit. Filled in by the generation engine."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kit = models.ForeignKey("creative.CreativeKit", on_delete=models.CASCADE, related_name="generation_jobs")
    prompt_template = models.TextField(default="{offer}, marketing banner illustration")
    negative_prompt = models.TextField(blank=True)
    images_per_mix = models.PositiveIntegerField(default=1)
    width = models.PositiveIntegerField(default=512)
    height = models.PositiveIntegerField(default=512)
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"job {self.pk} for {self.kit}"
