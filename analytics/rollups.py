"""Daily rollups, kept current incrementally: only (placement, day)s that received events are recounted.

Recounting a whole day from raw events (instead of adding deltas) makes late events, replays and
re-enrichment trivially exact; on PostgreSQL the day is one partition, so the recount is a scan of
one small table.

Bounded segments: a `DailyRollup` row's segment key keeps only a few features of the events' keys
(`rollup_segment_features`), so a high-cardinality feature (a user id, a postcode) or fifty features
together never give a rollup row per event. `UserDayRollup` keeps the whole key: it has a row per user
already, and the experiment report reads segments from it.

Serving counts: each recount adds the change in the day's impressions per variant to
`counters.VariantImpressions` in the same transaction, so the catalogue reads a running total instead
of counting the events table (docs/scaling.md).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from counters.services import add_impressions, prune_conversions, replace_impression_totals
from kaleido.db_router import primary_reads

from . import interaction_log, partitions
from .ingestion import settle_late_events
from .interaction_log import reenrich_events
from .models import DailyRollup, Event, EventKey, ExperimentUser, RollupDirty, UserDayRollup
from .segments import MAX_SEGMENT_KEY

_DAILY_SQL = """
INSERT INTO analytics_dailyrollup (day, placement_id, variant_id, bucket, experiment_id, segment_key,
    impressions, clicks, conversions, logged_impressions, weighted_impressions, weighted_clicks)
SELECT %s, placement_id, variant_id, bucket, COALESCE(experiment_id, 0), {key},
    SUM(CASE WHEN type = 'impression' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'click' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'conversion' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'impression' AND bucket <> '' AND propensity > 0 THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'impression' AND propensity > 0 THEN 1.0 / propensity ELSE 0.0 END),
    SUM(CASE WHEN type = 'click' AND propensity > 0 THEN 1.0 / propensity ELSE 0.0 END)
FROM analytics_event
WHERE placement_id = %s AND ts >= %s AND ts < %s
GROUP BY placement_id, variant_id, bucket, COALESCE(experiment_id, 0), {key}
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


# --- experiment users: one row per (experiment, bucket, user), kept with the user-day rows ----------------------

# Every user of the rows matching {where}, from their user-day rows: totals, first day and first-exposure key.
_EXPERIMENT_USERS_SQL = """
INSERT INTO analytics_experimentuser (placement_id, experiment_id, bucket, user_id, first_day, segment_key,
    impressions, clicks, conversions)
SELECT placement_id, experiment_id, bucket, user_id, day, segment_key, i, c, v FROM (
    SELECT placement_id, experiment_id, bucket, user_id, day, segment_key,
        SUM(impressions) OVER per_user AS i, SUM(clicks) OVER per_user AS c, SUM(conversions) OVER per_user AS v,
        ROW_NUMBER() OVER (PARTITION BY experiment_id, bucket, user_id
                           ORDER BY day, impressions DESC, segment_key{collate}) AS r
    FROM analytics_userdayrollup WHERE experiment_id <> 0 AND {where}
    WINDOW per_user AS (PARTITION BY experiment_id, bucket, user_id)
) AS t WHERE r = 1
"""

# The day's user counts before its recount, kept for the length of the refresh's transaction.
_KEEP_OLD_DAY_SQL = """
CREATE TEMP TABLE kaleido_day_users_before AS
SELECT experiment_id, bucket, user_id, SUM(impressions) AS i, SUM(clicks) AS c, SUM(conversions) AS v
FROM analytics_userdayrollup WHERE placement_id = %s AND day = %s AND experiment_id <> 0
GROUP BY experiment_id, bucket, user_id
"""

# The recounted day's users: each adds (new - old) day counts to their totals, and takes the day's top key
# when the day is their first exposure (earlier than the one kept, or that day recounted). A user kept whose
# counts and key did not change is not written.
_ADD_DAY_SQL = """
INSERT INTO analytics_experimentuser (placement_id, experiment_id, bucket, user_id, first_day, segment_key,
    impressions, clicks, conversions)
SELECT t.placement_id, t.experiment_id, t.bucket, t.user_id, t.day, t.segment_key,
    t.i - COALESCE(o.i, 0), t.c - COALESCE(o.c, 0), t.v - COALESCE(o.v, 0) FROM (
    SELECT placement_id, experiment_id, bucket, user_id, day, segment_key,
        SUM(impressions) OVER per_user AS i, SUM(clicks) OVER per_user AS c, SUM(conversions) OVER per_user AS v,
        ROW_NUMBER() OVER (PARTITION BY experiment_id, bucket, user_id
                           ORDER BY impressions DESC, segment_key{collate}) AS r
    FROM analytics_userdayrollup WHERE placement_id = %s AND day = %s AND experiment_id <> 0
    WINDOW per_user AS (PARTITION BY experiment_id, bucket, user_id)
) AS t LEFT JOIN kaleido_day_users_before o
    ON o.experiment_id = t.experiment_id AND o.bucket = t.bucket AND o.user_id = t.user_id
WHERE t.r = 1
ON CONFLICT (experiment_id, bucket, user_id) DO UPDATE SET
    impressions = analytics_experimentuser.impressions + excluded.impressions,
    clicks = analytics_experimentuser.clicks + excluded.clicks,
    conversions = analytics_experimentuser.conversions + excluded.conversions,
    segment_key = CASE WHEN excluded.first_day <= analytics_experimentuser.first_day THEN excluded.segment_key
                       ELSE analytics_experimentuser.segment_key END,
    first_day = CASE WHEN excluded.first_day < analytics_experimentuser.first_day THEN excluded.first_day
                     ELSE analytics_experimentuser.first_day END
WHERE excluded.impressions <> 0 OR excluded.clicks <> 0 OR excluded.conversions <> 0
    OR excluded.first_day < analytics_experimentuser.first_day
    OR (excluded.first_day = analytics_experimentuser.first_day
        AND excluded.segment_key <> analytics_experimentuser.segment_key)
"""

# Users the day had before its recount and not after: their old day counts come off their totals.
_SUBTRACT_GONE_SQL = """
UPDATE analytics_experimentuser AS u SET impressions = u.impressions - o.i, clicks = u.clicks - o.c,
    conversions = u.conversions - o.v
FROM (SELECT b.experiment_id, b.bucket, b.user_id, b.i, b.c, b.v FROM kaleido_day_users_before b
      LEFT JOIN (SELECT DISTINCT experiment_id, bucket, user_id FROM analytics_userdayrollup
                 WHERE placement_id = %s AND day = %s AND experiment_id <> 0) AS n
      ON n.experiment_id = b.experiment_id AND n.bucket = b.bucket AND n.user_id = b.user_id
      WHERE n.user_id IS NULL) AS o
WHERE u.experiment_id = o.experiment_id AND u.bucket = o.bucket AND u.user_id = o.user_id
"""

# Users whose first day is this day but who have no row on it any more: their first day moved later.
_LEFT_FIRST_DAY_SQL = """
SELECT u.experiment_id, u.bucket, u.user_id FROM analytics_experimentuser u
WHERE u.placement_id = %s AND u.first_day = %s AND NOT EXISTS (
    SELECT 1 FROM analytics_userdayrollup r WHERE r.placement_id = u.placement_id AND r.day = u.first_day
    AND r.experiment_id = u.experiment_id AND r.bucket = u.bucket AND r.user_id = u.user_id)
"""


def _code_point_order() -> str:
    """Keys order as Python orders strings: PostgreSQL's "C" collation; SQLite's default is binary already."""
    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _keep_experiment_users_day(cursor, placement_id: int, day_value) -> None:  # noqa: ANN001
    """Before a day's user rows are recounted: keep their counts, to move the totals by the difference."""
    cursor.execute("DROP TABLE IF EXISTS kaleido_day_users_before")
    cursor.execute(_KEEP_OLD_DAY_SQL, [placement_id, day_value])


def _move_experiment_users_day(cursor, placement_id: int, day_value) -> None:  # noqa: ANN001
    """After the recount: each of the day's users moves by (new - old), once."""
    cursor.execute(_ADD_DAY_SQL.format(collate=_code_point_order()), [placement_id, day_value])
    cursor.execute(_SUBTRACT_GONE_SQL, [placement_id, day_value])
    cursor.execute("DROP TABLE kaleido_day_users_before")
    cursor.execute(_LEFT_FIRST_DAY_SQL, [placement_id, day_value])
    for experiment_id, bucket, user_id in cursor.fetchall():
        ExperimentUser.objects.filter(experiment_id=experiment_id, bucket=bucket, user_id=user_id).delete()
        cursor.execute(_EXPERIMENT_USERS_SQL.format(
            collate=_code_point_order(), where="experiment_id = %s AND bucket = %s AND user_id = %s"),
            [experiment_id, bucket, user_id])


def recount_experiment_users(*, placement_id: int | None = None) -> int:
    """Rebuild the experiment users (of one placement, or all) from the user-day rollups; returns how many.
    Not needed in normal operation: each day's refresh keeps them (after a restore, or to check them)."""
    with transaction.atomic(), connection.cursor() as cursor:
        kept = ExperimentUser.objects.all()
        if placement_id is not None:
            kept = kept.filter(placement_id=placement_id)
        kept.delete()
        where, params = ("placement_id = %s", [placement_id]) if placement_id is not None else ("1 = 1", [])
        cursor.execute(_EXPERIMENT_USERS_SQL.format(collate=_code_point_order(), where=where), params)
    found = ExperimentUser.objects.all()
    return (found.filter(placement_id=placement_id) if placement_id is not None else found).count()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


# --- bounded segment keys -----------------------------------------------------------------------------------

_SQLITE_KEY_FUNCTION = "kaleido_rollup_segment_key"
# A part of a key is whole when it has its `=` and is not the last part of a key cut at MAX_SEGMENT_KEY.
_WHOLE_PART_SQL = (f"position('=' in part) > 0 AND (length({{key}}) < {MAX_SEGMENT_KEY} "
                   "OR o < array_length(string_to_array({key}, '|'), 1))")


def _whole_parts(key: str) -> list[str]:
    """The name=value parts of a key; a key cut at MAX_SEGMENT_KEY loses its last, possibly partial, part."""
    parts = key.split("|")
    if len(key) >= MAX_SEGMENT_KEY:
        parts = parts[:-1]
    return [part for part in parts if "=" in part]


def project_segment_key(key: str, names: frozenset[str] | set[str]) -> str:
    """`key` (name=value|name=value) with only the features in `names`, in the key's order."""
    if not key:
        return ""
    return "|".join(part for part in _whole_parts(key) if part.partition("=")[0] in names)


def _feature_value_counts(placement_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """How many distinct values each feature has in one placement-day's event keys."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The distinct keys first (one hash of the day), then their parts: no key leaves the server.
            cursor.execute(
                "SELECT split_part(part, '=', 1), COUNT(DISTINCT part) FROM "  # noqa: S608 - constants only
                "(SELECT DISTINCT segment_key FROM analytics_event WHERE placement_id = %s AND ts >= %s AND ts < %s"
                " AND segment_key <> '') AS k, unnest(string_to_array(k.segment_key, '|')) WITH ORDINALITY AS t(part, o)"
                f" WHERE {_WHOLE_PART_SQL.format(key='k.segment_key')} GROUP BY 1",
                [placement_id, start, end])
            return {name: int(n) for name, n in cursor.fetchall()}
        cursor.execute("SELECT DISTINCT segment_key FROM analytics_event WHERE placement_id = %s AND ts >= %s "
                       "AND ts < %s AND segment_key <> ''", [placement_id, connection.ops.adapt_datetimefield_value(
                           start), connection.ops.adapt_datetimefield_value(end)])
        values: dict[str, set[str]] = defaultdict(set)
        for (key,) in cursor.fetchall():
            for part in _whole_parts(key):
                values[part.partition("=")[0]].add(part)
        return {name: len(found) for name, found in values.items()}


def choose_segment_features(value_counts: dict[str, int], max_keys: int) -> list[str]:
    """The fewest-valued features (ties by name) whose value combinations stay within `max_keys`.

    A feature that alone has more than `max_keys` values is never kept; each feature kept multiplies the
    possible keys by its value count plus one (the feature may be missing from a key).
    """
    chosen, combinations = [], 1
    for name, count in sorted(value_counts.items(), key=lambda item: (item[1], item[0])):
        if combinations * (count + 1) > max_keys:
            break
        chosen.append(name)
        combinations *= count + 1
    return sorted(chosen)


def rollup_segment_features(placement_id: int, start: datetime, end: datetime) -> list[str] | None:
    """The features a placement-day's rollup rows keep in their segment key; None: the whole key (every
    feature of the day fits)."""
    if settings.KALEIDO_ROLLUP_SEGMENT_FEATURES:
        return list(settings.KALEIDO_ROLLUP_SEGMENT_FEATURES)
    counts = _feature_value_counts(placement_id, start, end)
    chosen = choose_segment_features(counts, settings.KALEIDO_ROLLUP_SEGMENT_MAX_KEYS)
    return None if len(chosen) == len(counts) else chosen


def _segment_key_sql(names: list[str] | None) -> tuple[str, list]:
    """The SQL expression of a rollup row's segment key and its parameters (once per use in _DAILY_SQL)."""
    if names is None:
        return "segment_key", []
    if connection.vendor == "postgresql":
        whole = _WHOLE_PART_SQL.format(key="segment_key").replace("part", "p")
        return ("COALESCE((SELECT string_agg(p, '|' ORDER BY o) FROM unnest(string_to_array(segment_key, '|')) "  # noqa: S608
                f"WITH ORDINALITY AS t(p, o) WHERE split_part(p, '=', 1) = ANY(%s) AND {whole}), '')", [list(names)])
    connection.ensure_connection()
    connection.connection.create_function(
        _SQLITE_KEY_FUNCTION, 2, lambda key, joined: project_segment_key(key or "", set(joined.split("|"))),
        deterministic=True)
    return f"{_SQLITE_KEY_FUNCTION}(segment_key, %s)", ["|".join(names)]


def _day_impressions(placement_id: int, day: date) -> dict[int, int]:
    return dict(DailyRollup.objects.filter(placement_id=placement_id, day=day).values("variant_id")
                .annotate(n=Sum("impressions")).values_list("variant_id", "n"))


def refresh_day(*, placement_id: int, day: date) -> None:
    """Recount one placement's rollups for one day from its raw events, and move its variants' running
    impression totals by what the recount changed."""
    start, end = day_bounds(day)
    ops = connection.ops
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two refreshers of the same day must not interleave their delete and insert.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [placement_id % 2**31, day.toordinal()])
        reenrich_events(placement_id, start, end)
        key_sql, key_params = _segment_key_sql(rollup_segment_features(placement_id, start, end))
        before = _day_impressions(placement_id, day)
        day_value = ops.adapt_datefield_value(day)
        # The experiment users move by the difference between the day's old counts and its recount.
        _keep_experiment_users_day(cursor, placement_id, day_value)
        DailyRollup.objects.filter(placement_id=placement_id, day=day).delete()
        UserDayRollup.objects.filter(placement_id=placement_id, day=day).delete()
        bounds = [placement_id, ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end)]
        cursor.execute(_DAILY_SQL.format(key=key_sql), [day_value, *key_params, *bounds, *key_params])
        cursor.execute(_USER_SQL, [day_value, *bounds])
        _move_experiment_users_day(cursor, placement_id, day_value)
        after = _day_impressions(placement_id, day)
        add_impressions(placement_id=placement_id,
                        deltas={v: after.get(v, 0) - before.get(v, 0) for v in before.keys() | after.keys()})


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
        with primary_reads():  # inside a replica-routed GET: the dirty marks it deletes are the primary's
            refresh_rollups(placement_id=placement_id)


def rebuild_rollups(*, placement_id: int) -> int:
    """Recount every day a placement has events for (after a restore, or to check the increments)."""
    days = {moment.date() for moment in
            Event.objects.filter(placement_id=placement_id).datetimes("ts", "day", tzinfo=UTC)}
    for day in sorted(days):
        refresh_day(placement_id=placement_id, day=day)
    return len(days)


def recount_impression_totals(*, placement_id: int | None = None) -> int:
    """Rebuild the serving's running impression totals (counters) from the daily rollups (after a restore,
    or to check the increments); returns how many variants were written."""
    rollups = DailyRollup.objects.all()
    if placement_id is not None:
        rollups = rollups.filter(placement_id=placement_id)
    sums = rollups.values("placement_id", "variant_id").annotate(n=Sum("impressions")).values_list(
        "placement_id", "variant_id", "n")
    return replace_impression_totals(sums, placement_id=placement_id)


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
    # Live copy reads only the last 24 hourly conversion counts; two days are kept for the hour boundary.
    deleted_hours = prune_conversions(before=timezone.now() - timedelta(days=2))
    return {"dropped_partitions": dropped_partitions, "deleted_events": deleted_events,
            "deleted_keys": deleted_keys, "cutoff": cutoff.isoformat(), "deleted_decisions": deleted_decisions,
            "decision_cutoff": decision_cutoff.isoformat(), "deleted_conversion_hours": deleted_hours}
