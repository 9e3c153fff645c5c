"""Daily partitions of the events table on PostgreSQL: create ahead, drop behind.

Events whose day has no partition land in `analytics_event_default`; creating that day's
partition later moves them out, so nothing is ever refused for want of a partition.

Imported history (`historical` rows, import_impressions --historical) outlives the retention window:
a day partition past it that holds history is not dropped but emptied of everything else and renamed
`analytics_event_h<day>` (keep_history_before), which retention never lists again; prune_history
deletes the history itself.

Creating, attaching or dropping a partition takes a strong lock on the events table, and a lock
request that waits (behind a long report query, say) makes every insert queue behind it. So each
of these statements runs with a short `lock_timeout` (LOCK_TIMEOUT_MS): if the lock is not free at
once, the maintainer gives up on that day, logs it, and the next run (hourly, or the task's retry)
tries again. Ingestion never waits more than that for partition upkeep, and an event whose day has no
partition yet still lands in the default one.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time, timedelta

from django.db import OperationalError, transaction
from django.db import connection as default_connection

log = logging.getLogger(__name__)

PARENT = "analytics_event"
DEFAULT_PARTITION = "analytics_event_default"
_NAME = re.compile(r"^analytics_event_p(\d{8})$")
DAYS_AHEAD = 7
DAYS_BEHIND = 1
LOCK_TIMEOUT_MS = 500  # how long partition upkeep may wait for a lock on the events table


def is_partitioned(connection=default_connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [PARENT])
        return cursor.fetchone() is not None


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def history_partition_name(day: date) -> str:
    """A day partition past the retention window that keeps imported history only."""
    return f"{PARENT}_h{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def list_partitions(connection=default_connection) -> list[date]:
    """Days that have their own partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass", [PARENT])
        names = [row[0] for row in cursor.fetchall()]
    days = []
    for name in names:
        match = _NAME.match(name)
        if match:
            days.append(datetime.strptime(match.group(1), "%Y%m%d").date())
    return sorted(days)


def ensure_partition(day: date, connection=default_connection) -> bool:
    """Create the partition for `day` if missing, moving that day's rows out of the default one."""
    name = partition_name(day)
    start, end = _bounds(day)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # One maintainer at a time; ingestion is not blocked by this lock.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics_event_partitions'))")
        _short_lock_wait(cursor)
        cursor.execute("SELECT to_regclass(%s), to_regclass(%s)", [name, history_partition_name(day)])
        if any(found is not None for found in cursor.fetchone()):  # a history partition covers the day too
            return False
        # Table names below come from constants and a date, never from input.
        cursor.execute(f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE ts >= %s AND ts < %s LIMIT 1",  # noqa: S608
                       [start, end])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM (%s) TO (%s)", [start, end])
            return True
        cursor.execute(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE ts >= %s AND ts < %s RETURNING *) "  # noqa: S608
            f"INSERT INTO {name} SELECT * FROM moved", [start, end])
        cursor.execute(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
        return True


def _short_lock_wait(cursor) -> None:
    """Give up on a lock after LOCK_TIMEOUT_MS for the rest of this transaction (not the session)."""
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{LOCK_TIMEOUT_MS}ms"])


def _lock_not_free(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"  # lock_not_available


def _ensure_or_defer(day: date, connection) -> bool:
    """ensure_partition, but a lock that is not free within LOCK_TIMEOUT_MS defers the day to the next run."""
    try:
        return ensure_partition(day, connection=connection)
    except OperationalError as exc:
        if not _lock_not_free(exc):
            raise
        log.warning("partition for %s deferred: the events table was busy for %d ms; the next run retries",
                    day, LOCK_TIMEOUT_MS)
        return False


def ensure_upcoming_partitions(*, today: date | None = None, days_ahead: int = DAYS_AHEAD,
                               days_behind: int = DAYS_BEHIND, connection=default_connection) -> list[date]:
    """Partitions from `days_behind` before today to `days_ahead` after it; returns the days created."""
    if not is_partitioned(connection):
        return []
    today = today or datetime.now(UTC).date()
    created = []
    for offset in range(-days_behind, days_ahead + 1):
        day = today + timedelta(days=offset)
        if _ensure_or_defer(day, connection):
            created.append(day)
    return created


def ensure_partitions_for_range(*, first: date, last: date, connection=default_connection) -> list[date]:
    """Partitions for every day in [first, last], e.g. before importing history."""
    if not is_partitioned(connection):
        return []
    created, day = [], first
    while day <= last:
        if _ensure_or_defer(day, connection):
            created.append(day)
        day += timedelta(days=1)
    return created


def drop_partitions_before(*, cutoff: date, connection=default_connection) -> list[date]:
    """Drop whole-day partitions older than `cutoff` (and the default partition's rows before it)."""
    if not is_partitioned(connection):
        return []
    dropped = []
    cutoff_ts = _bounds(cutoff)[0]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics_event_partitions'))")
        _short_lock_wait(cursor)
        for day in list_partitions(connection):
            if day < cutoff:
                try:
                    with transaction.atomic(using=connection.alias):  # a savepoint: a busy day is skipped
                        cursor.execute(f"DROP TABLE {partition_name(day)}")
                except OperationalError as exc:
                    if not _lock_not_free(exc):
                        raise
                    log.warning("partition for %s not dropped: the events table was busy for %d ms; "
                                "the next retention run retries", day, LOCK_TIMEOUT_MS)
                    continue
                dropped.append(day)
        cursor.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts < %s AND NOT historical",  # noqa: S608
                       [cutoff_ts])
    return dropped


def keep_history_before(*, cutoff: date, connection=default_connection) -> list[date]:
    """Before drop_partitions_before: each day partition older than `cutoff` that holds imported history
    is emptied of its other rows and renamed a history partition, so it is kept and never listed again."""
    if not is_partitioned(connection):
        return []
    kept = []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics_event_partitions'))")
        _short_lock_wait(cursor)
        for day in list_partitions(connection):
            if day >= cutoff:
                continue
            name = partition_name(day)
            # The partial index on historical rows makes this a lookup, not a scan of the day.
            cursor.execute(f"SELECT 1 FROM {name} WHERE historical LIMIT 1")  # noqa: S608 - names from dates
            if cursor.fetchone() is None:
                continue
            cursor.execute(f"DELETE FROM {name} WHERE NOT historical")  # noqa: S608
            cursor.execute(f"ALTER TABLE {name} RENAME TO {history_partition_name(day)}")
            kept.append(day)
    return kept
