"""Daily rollups, kept current incrementally: only (placement, day)s that received events are recounted.

Recounting a whole day from raw events (instead of adding deltas) makes late events, replays and
re-enrichment trivially exact; on PostgreSQL the day is one partition, so the recount is a scan of
one small table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import interaction_log, partitions
from .ingestion import settle_late_events
from .interaction_log import reenrich_events
from .models import DailyRollup, Event, EventKey, RollupDirty, UserDayRollup

_DAILY_SQL = """
INSERT INTO analytics_dailyrollup (day, placement_id, variant_id, bucket, experiment_id, segment_key,
    impressions, clicks, conversions, logged_impressions, weighted_impressions, weighted_clicks)
SELECT %s, placement_id, variant_id, bucket, COALESCE(experiment_id, 0), segment_key,
    SUM(CASE WHEN type = 'impression' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'click' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'conversion' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'impression' AND bucket <> '' AND propensity > 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'impression' AND propensity > 0 THEN 1.0 / propensity ELSE 0.0 END),
    SUM(CASE WHEN type = 'click' AND propensity > 0 THEN 1.0 / propensity ELSE 0.0 END)
FROM analytics_event
WHERE placement_id = %s AND ts >= %s AND ts < %s
GROUP BY placement_id, variant_id, bucket, COALESCE(experiment_id, 0), segment_key
"""

_USER_SQL = """
INSERT INTO analytics_userdayrollup (day, placement_id, experiment_id, bucket, user_id, segment_key,
    impressions, clicks, conversions)
SELECT %s, placement_id, COALESCE(experiment_id, 0), bucket, user_id, segment_key,
    SUM(CASE WHEN type = 'impression' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'click' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'conversion' THEN 1 ELSE 0 END)
FROM analytics_event
WHERE placement_id = %s AND ts >= %s AND ts < %s
GROUP BY placement_id, COALESCE(experiment_id, 0), bucket, user_id, segment_key
"""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def refresh_day(*, placement_id: int, day: date) -> None:
    """Recount one placement's rollups for one day from its raw events."""
    start, end = day_bounds(day)
    ops = connection.ops
    params = [ops.adapt_datefield_value(day), placement_id, ops.adapt_datetimefield_value(start),
              ops.adapt_datetimefield_value(end)]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two refreshers of the same day must not interleave their delete and insert.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [placement_id % 2**31, day.toordinal()])
        reenrich_events(placement_id, start, end)
        DailyRollup.objects.filter(placement_id=placement_id, day=day).delete()
        UserDayRollup.objects.filter(placement_id=placement_id, day=day).delete()
        cursor.execute(_DAILY_SQL, params)
        cursor.execute(_USER_SQL, params)


def refresh_rollups(*, placement_id: int | None = None, limit: int = 5000) -> int:
    """Refresh every dirty (placement, day); returns how many were refreshed.

    Deletes exactly the dirty marks it read: a mark written while it runs stays for the next run.
    Events held for their decision are settled first, so those confirmed now count in this run.
    """
    settle_late_events()
    marks = RollupDirty.objects.order_by("id")
    if placement_id is not None:
        marks = marks.filter(placement_id=placement_id)
    by_day: dict[tuple[int, date], list[int]] = defaultdict(list)
    for mark_id, mark_placement, day in marks.values_list("id", "placement_id", "day")[:limit]:
        by_day[(mark_placement, day)].append(mark_id)
    for (mark_placement, day), mark_ids in sorted(by_day.items()):
        refresh_day(placement_id=mark_placement, day=day)
        RollupDirty.objects.filter(id__in=mark_ids).delete()
    return len(by_day)


def refresh_for_read(*, placement_id: int) -> None:
    """What a report read does about rollups that may be stale.

    With a worker (a broker is configured): nothing. Beat refreshes every KALEIDO_ROLLUP_EVERY_S on the
    cpu queue, so a GET never pays for a recount, never waits on the refresher's day locks, and reads
    numbers at most that old. In the embedded default (one process, SQLite) there is no worker and no
    beat, so the read recounts this placement's dirty days itself, as before.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        refresh_rollups(placement_id=placement_id)


def rebuild_rollups(*, placement_id: int) -> int:
    """Recount every day a placement has events for (after a restore, or to check the increments)."""
    days = {moment.date() for moment in
            Event.objects.filter(placement_id=placement_id).datetimes("ts", "day", tzinfo=UTC)}
    for day in sorted(days):
        refresh_day(placement_id=placement_id, day=day)
    return len(days)


DECISION_DELETE_CHUNK = interaction_log.DECISION_DELETE_CHUNK


def prune_decisions(*, before: datetime) -> int:
    """Delete decisions made before `before`, except imported history, in chunks; returns how many."""
    return interaction_log.prune_decisions(before=before, chunk=DECISION_DELETE_CHUNK)


def apply_retention(*, days: int | None = None, today: date | None = None,
                    decision_days: int | None = None) -> dict[str, int]:
    """Drop raw events (whole partitions on PostgreSQL) and idempotency keys older than `days`, and
    decisions older than `decision_days` (KALEIDO_DECISION_RETENTION_DAYS).

    Rollups are kept: they are small and reports over long periods read them. Imported history
    (`historical` rows) is kept too, until `prune_history` deletes it.
    """
    days = settings.KALEIDO_EVENT_RETENTION_DAYS if days is None else days
    decision_days = settings.KALEIDO_DECISION_RETENTION_DAYS if decision_days is None else decision_days
    today = today or timezone.now().astimezone(UTC).date()
    cutoff = today - timedelta(days=days)
    cutoff_ts = day_bounds(cutoff)[0]
    dropped_partitions = 0
    if partitions.is_partitioned():
        partitions.keep_history_before(cutoff=cutoff)  # days holding imported history are kept, renamed
        dropped_partitions = len(partitions.drop_partitions_before(cutoff=cutoff))
        deleted_events = 0
    else:
        deleted_events, _ = Event.objects.filter(ts__lt=cutoff_ts, historical=False).delete()
    deleted_keys, _ = EventKey.objects.filter(ts__lt=cutoff_ts, historical=False).delete()
    decision_cutoff = today - timedelta(days=decision_days)
    deleted_decisions = prune_decisions(before=day_bounds(decision_cutoff)[0])
    return {"dropped_partitions": dropped_partitions, "deleted_events": deleted_events,
            "deleted_keys": deleted_keys, "cutoff": cutoff.isoformat(), "deleted_decisions": deleted_decisions,
            "decision_cutoff": decision_cutoff.isoformat()}
