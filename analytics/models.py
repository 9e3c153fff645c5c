from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    IMPRESSION = "impression", "Impression"
    CLICK = "click", "Click"
    CONVERSION = "conversion", "Conversion"


class Event(models.Model):
    """One impression, click or conversion reported by a client; stored once per event_id.

    On PostgreSQL the table is partitioned by day on `ts` (see migration 0004), so the
    primary key there is (id, ts) and uniqueness of event_id is enforced by `EventKey`.
    """

    event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=12, choices=EventType.choices)  # noqa: A003
    decision_id = models.UUIDField(null=True, blank=True, db_index=True)
    variant_id = models.BigIntegerField()
    user_id = models.CharField(max_length=128)
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="events")
    position = models.PositiveSmallIntegerField(default=1)
    ts = models.DateTimeField(help_text="When it happened on the client.")
    received_at = models.DateTimeField(auto_now_add=True)
    # Copied from the decision at ingestion so rollups are a plain GROUP BY over one table.
    bucket = models.CharField(max_length=10, blank=True, default="")
    experiment = models.ForeignKey(
        "ranking.Experiment", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    propensity = models.FloatField(null=True, blank=True)
    segment_key = models.CharField(max_length=255, blank=True, default="")
    # Imported with `import_impressions --historical`: the retention job keeps it (prune_history deletes it).
    historical = models.BooleanField(default=False, db_default=False)
    # A client re-rank after /rank logged the decision (the SDK's fatigue re-rank): `position` is where the
    # variant was shown, the decision's items keep where the policy put it (interaction_log reads both).
    rerank = models.CharField(max_length=16, blank=True, default="", db_default="",
                              help_text="Why the client moved this variant from the decision's order ('' = it did not).")
    rerank_probability = models.FloatField(
        null=True, blank=True, help_text="With `rerank`: the probability the client's re-rank had of this shown order "
                                         "given the decision's order (1.0 for a deterministic re-rank).")

    class Meta:
        indexes = [
            models.Index(fields=["placement", "ts"], name="event_placement_time"),
            # Small (history only) and free for live inserts: how retention finds the partitions holding history.
            models.Index(fields=["ts"], condition=models.Q(historical=True), name="event_history_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class EventKey(models.Model):
    """The idempotency ledger: one row per event_id ever stored (the unique constraint decides)."""

    event_id = models.CharField(max_length=64, primary_key=True)
    ts = models.DateTimeField(db_index=True, help_text="The event's time, so retention can prune keys.")
    historical = models.BooleanField(default=False, db_default=False, help_text="Kept with its imported event.")

    def __str__(self) -> str:
        return self.event_id


class RollupDirty(models.Model):
    """A (placement, day) that received events since its rollups were last refreshed.

    Insert-only from ingestion (no lock contention); the refresh deletes exactly the rows it read.
    """

    placement_id = models.BigIntegerField()
    day = models.DateField()

    def __str__(self) -> str:
        return f"{self.placement_id}@{self.day}"


class DailyRollup(models.Model):
    """Counts per day × placement × variant × bucket × experiment × segment values."""

    day = models.DateField()
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="+")
    variant_id = models.BigIntegerField()
    bucket = models.CharField(max_length=10, blank=True, default="")
    experiment_id = models.BigIntegerField(default=0, help_text="0 when served outside an experiment.")
    segment_key = models.CharField(max_length=255, blank=True, default="")
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    # Impressions whose decision logged a bucket and a propensity (logging health).
    logged_impressions = models.BigIntegerField(default=0)
    # Σ 1/propensity over impressions and clicks: inverse-propensity weighted counts.
    weighted_impressions = models.FloatField(default=0.0)
    weighted_clicks = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["placement", "day", "variant_id", "bucket", "experiment_id", "segment_key"],
                name="unique_daily_rollup_cell",
            )
        ]
        indexes = [models.Index(fields=["experiment_id", "bucket"], name="rollup_experiment_bucket")]

    def __str__(self) -> str:
        return f"{self.placement_id}/{self.day}/{self.variant_id}/{self.bucket}"


class UserDayRollup(models.Model):
    """Counts per user and day: users are the randomisation unit of experiment reports."""

    day = models.DateField()
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="+")
    experiment_id = models.BigIntegerField(default=0)
    bucket = models.CharField(max_length=10, blank=True, default="")
    user_id = models.CharField(max_length=128)
    segment_key = models.CharField(max_length=255, blank=True, default="")
    impressions = models.IntegerField(default=0)
    clicks = models.IntegerField(default=0)
    conversions = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["placement", "day", "experiment_id", "bucket", "user_id", "segment_key"],
                name="unique_user_day_rollup",
            )
        ]
        indexes = [
            models.Index(fields=["experiment_id", "bucket"], name="userday_experiment_bucket"),
            models.Index(fields=["placement", "day"], name="userday_placement_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.day}"


class ExperimentUser(models.Model):
    """One user of one experiment bucket: their totals over every day, and the segment key of their first
    exposure (the first day's key with the most impressions; ties: the first key in code-point order).

    Kept by the rollup refresh from the user-day rows it recounts (analytics.rollups), so the experiment
    report reads one row per user instead of grouping every user-day. Users outside an experiment
    (experiment 0) are not kept."""

    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="+")
    experiment_id = models.BigIntegerField()
    bucket = models.CharField(max_length=10, blank=True, default="")
    user_id = models.CharField(max_length=128)
    first_day = models.DateField()
    segment_key = models.CharField(max_length=255, blank=True, default="")
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment_id", "bucket", "user_id"], name="unique_experiment_user"),
        ]
        indexes = [models.Index(fields=["placement", "first_day"], name="experimentuser_first_day")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.experiment_id}/{self.bucket}"


class PlacementExplanation(models.Model):
    """The cached EBM explanation of one placement, refreshed by a Celery job on the cpu queue."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    placement = models.OneToOneField("creative.Placement", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    rows = models.IntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"explanation of {self.placement_id} ({self.status})"


class LateEvent(models.Model):
    """An event whose decision was not stored yet when it arrived, held outside every count.

    In journal mode a decision reaches the table up to a flush interval after its rank call, so an
    impression often arrives first. Its event_id is claimed in `EventKey` at once (a resend is a
    duplicate), but the event itself waits here: reports, rollups and training read `Event` only, so
    an event that names a decision nobody made can never inflate a placement's counts. The rollup
    refresh moves it to `Event` once its decision is stored and agrees with it (same placement, the
    variant among the decision's items), rejects it if the decision disagrees, and drops it once it
    has waited KALEIDO_EVENT_LATE_DECISION_S with no decision (analytics.rollups.settle_late_events).
    """

    event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=12, choices=EventType.choices)  # noqa: A003
    decision_id = models.UUIDField(db_index=True)
    variant_id = models.BigIntegerField()
    user_id = models.CharField(max_length=128)
    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=1)
    ts = models.DateTimeField()
    received_at = models.DateTimeField(db_index=True)
    rerank = models.CharField(max_length=16, blank=True, default="", db_default="")
    rerank_probability = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"late {self.type} {self.event_id}"



class AttributionSnapshot(models.Model):
    """A placement's prepared attribution answers for one parameter set (analytics.attribution_snapshots):
    what the grids were computed from, and when. Its grids are in AttributionSnapshotGrid.

    `complete`: the job computed every grid of the impressions read (every bounded feature × tag group), so
    a pair it lacks has no cells; a snapshot a live read started holds only the grids read since."""

    placement = models.ForeignKey("creative.Placement", on_delete=models.CASCADE, related_name="+")
    buckets = models.CharField(max_length=80, help_text="Comma-separated, as the API takes them.")
    min_support = models.IntegerField()
    max_levels = models.IntegerField(help_text="KALEIDO_SEGMENT_MAX_LEVELS when it was computed.")
    watermark = models.JSONField(default=dict, help_text="The data it was computed from (data_watermark).")
    impressions = models.IntegerField(default=0)
    skipped_features = models.JSONField(default=list, blank=True)
    complete = models.BooleanField(default=False)
    computed_at = models.DateTimeField()
    compute_seconds = models.FloatField(null=True, blank=True, help_text="The job's time for every grid.")
    read_at = models.DateTimeField(null=True, blank=True, help_text="The last read served from it or stored in it "
                                                                    "(to the hour): the job keeps read placements.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["placement", "buckets", "min_support", "max_levels"],
                                    name="unique_attribution_snapshot"),
        ]

    def __str__(self) -> str:
        return f"attribution of {self.placement_id} ({self.buckets}) at {self.computed_at:%Y-%m-%d %H:%M}"


class AttributionSnapshotGrid(models.Model):
    """One prepared grid (segment × tag group): the API's answer as a live read computed it."""

    snapshot = models.ForeignKey(AttributionSnapshot, on_delete=models.CASCADE, related_name="grids")
    segment = models.CharField(max_length=80)
    tag_group = models.CharField(max_length=60)
    answer = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "segment", "tag_group"], name="unique_attribution_grid"),
        ]

    def __str__(self) -> str:
        return f"{self.segment} × {self.tag_group} of snapshot {self.snapshot_id}"
