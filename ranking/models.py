from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


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
        constraints = [
            # One running experiment per placement: the bucket of a user must never be ambiguous.
            models.UniqueConstraint(fields=["placement"], condition=Q(status="running"),
                                    name="one_running_experiment_per_placement"),
        ]

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
    # The bucket the hash assigned; differs from `bucket` only when the model bucket fell back to control.
    assigned_bucket = models.CharField(max_length=10, blank=True)
    fallback_reason = models.CharField(max_length=40, blank=True)
    candidates = models.PositiveIntegerField(default=0, help_text="Live variants the policy chose from.")
    # Imported with `import_impressions --historical`: retention keeps it (prune_history deletes it).
    historical = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [models.Index(fields=["placement", "created_at"], name="decision_placement_time"),
                   # the experiment report's logging-health sample: an experiment's latest decisions
                   models.Index(fields=["experiment", "created_at"], name="decision_experiment_time")]

    def __str__(self) -> str:
        return str(self.decision_id)


class ModelVersion(models.Model):
    """One trained ranker in the registry: its artefact on disk, what it was trained on, how good it is."""

    class Algo(models.TextChoices):
        LIGHTGBM = "lightgbm", "LightGBM"
        LOGREG = "logreg", "Logistic regression"

    class Scope(models.TextChoices):
        DEDICATED = "dedicated", "Dedicated (one placement)"
        GENERAL = "general", "General (all placements)"

    version = models.CharField(max_length=40, unique=True)
    placement = models.ForeignKey("creative.Placement", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="model_versions", help_text="Empty for a general model.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.DEDICATED)
    algo = models.CharField(max_length=10, choices=Algo.choices, default=Algo.LIGHTGBM)
    artefact = models.CharField(max_length=255, help_text="Path under MODEL_ROOT (LightGBM text or JSON).")
    artefact_sha256 = models.CharField(max_length=64)
    feature_spec = models.JSONField(default=dict)
    params = models.JSONField(default=dict, blank=True)
    data_from = models.DateTimeField(null=True, blank=True)
    data_to = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0)
    positive_rate = models.FloatField(null=True, blank=True)
    auc = models.FloatField(null=True, blank=True, help_text="On the time-ordered holdout.")
    logloss = models.FloatField(null=True, blank=True)
    calibration_error = models.FloatField(null=True, blank=True, help_text="Expected calibration error, 10 bins.")
    train_seconds = models.FloatField(default=0.0)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["placement"], condition=Q(is_active=True, scope="dedicated"),
                                    name="one_active_dedicated_model_per_placement"),
            models.UniqueConstraint(fields=["scope"], condition=Q(is_active=True, scope="general"),
                                    name="one_active_general_model"),
        ]
        # Changing which model serves is its own right (admin actions activate and roll back).
        permissions = [("activate_model", "Can activate and roll back model versions")]

    def __str__(self) -> str:
        where = self.placement.slug if self.placement_id else "general"
        return f"v{self.version} {self.algo} ({where})"


class ServingVersion(models.Model):
    """A counter per serving scope, bumped after a change to what serves commits (ranking.serving_versions).

    Scopes: `placement:<id>` (its live variants, settings and experiments) and `models` (which model
    versions are active). Every serving process reads the table at most once a second.
    """

    scope = models.CharField(max_length=40, primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.scope} v{self.version}"


class ModelRollout(models.Model):
    """A gradual release of a model version on one placement (ranking.rollout).

    The candidate serves a growing share of the model bucket's users (`steps`), chosen by a stable hash
    of (salt, user id), so a user keeps their arm within a step and stays with the candidate as the share
    grows. Guardrails compare the candidate's users with the incumbent's at every check; a breach rolls
    the ramp back, and passing the last step activates the candidate.
    """

    class Kind(models.TextChoices):
        MODEL = "model", "A model version"
        VARIANTS = "variants", "Newly published variants"

    class Status(models.TextChoices):
        RAMPING = "ramping", "Ramping"
        COMPLETED = "completed", "Completed (candidate active)"
        ROLLED_BACK = "rolled_back", "Rolled back by a guardrail"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MODEL)
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="model_rollouts")
    candidate = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="rollouts", help_text="The model ramped (kind model).")
    # Kind variants: the live variants only the ramp's users see until it completes.
    variant_ids = models.JSONField(default=list, blank=True)
    # What served the model bucket when the ramp started (None: no model, the bucket served the control design).
    incumbent = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    steps = models.JSONField(help_text="Shares of the model bucket's users, increasing, e.g. [0.05, 0.2, 0.5].")
    min_dwell_s = models.PositiveIntegerField(help_text="Seconds a step lasts at least.")
    min_impressions = models.PositiveIntegerField(help_text="Impressions each arm needs in a step before it ends.")
    salt = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RAMPING)
    step_index = models.PositiveSmallIntegerField(default=0)
    step_started_at = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True, help_text="Why it ended (the guardrail that was breached).")
    # [{"at", "event", "step", "share", ...}]: every step change, check verdict and the end, in order.
    history = models.JSONField(default=list)
    last_check = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # A user's model must never be ambiguous: one ramp at a time per placement.
            models.UniqueConstraint(fields=["placement"], condition=Q(status="ramping"),
                                    name="one_ramping_rollout_per_placement"),
        ]

    def __str__(self) -> str:
        what = f"v{self.candidate.version}" if self.candidate_id else f"{len(self.variant_ids)} new variants"
        return f"rollout of {what} ({self.status})"

    @property
    def share(self) -> float:
        """The candidate's share of the model bucket's users now (0 once the ramp has ended)."""
        if self.status != self.Status.RAMPING:
            return 0.0
        return float(self.steps[min(self.step_index, len(self.steps) - 1)])
