"""Running counts the hot path reads instead of counting events.

- variant impression totals: added to by the rollup refresh, read by the catalogue;
- conversions per placement and hour: added to by ingestion, read by live copy (`{conversions_24h}`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Sum

from .models import HourlyConversions, VariantImpressions

_TABLE = VariantImpressions._meta.db_table

# Same statement on PostgreSQL and SQLite (>= 3.24): the increment happens in the row, under its lock, so
# two refreshers of different days of one placement never lose each other's change.
_ADD_SQL = (
    f"INSERT INTO {_TABLE} (placement_id, variant_id, impressions) VALUES (%s, %s, %s) "  # noqa: S608
    f"ON CONFLICT (placement_id, variant_id) DO UPDATE SET impressions = {_TABLE}.impressions + excluded.impressions"
)


def add_impressions(*, placement_id: int, deltas: Mapping[int, int]) -> None:
    """Add each variant's change (may be negative) to its total, in variant order (no deadlock between two
    refreshers touching the same variants)."""
    rows = [(placement_id, variant_id, int(delta)) for variant_id, delta in sorted(deltas.items()) if delta]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(_ADD_SQL, rows)


def impressions_by_variant(*, placement_id: int, variant_ids: Iterable[int]) -> dict[int, int]:
    """The totals of these variants (a variant never rolled up is absent: 0).

    Reads the placement's rows by the unique index's prefix rather than binding every id: a placement has a
    row per variant it ever showed, about as many as its live ones."""
    wanted = set(variant_ids)
    if not wanted:
        return {}
    return {variant_id: n for variant_id, n in VariantImpressions.objects.filter(placement_id=placement_id)
            .values_list("variant_id", "impressions") if variant_id in wanted}


def replace_impression_totals(sums: Iterable[tuple[int, int, int | None]], *,
                              placement_id: int | None = None) -> int:
    """Replace the totals (every placement's, or one's) with `sums`, (placement id, variant id, impressions)
    rows; analytics' rollups recount them (`analytics.rollups.recount_impression_totals`), as this app is
    below analytics. Returns how many variants were written."""
    sums = list(sums)
    totals = VariantImpressions.objects.all()
    if placement_id is not None:
        totals = totals.filter(placement_id=placement_id)
    totals.delete()
    VariantImpressions.objects.bulk_create(
        [VariantImpressions(placement_id=p, variant_id=v, impressions=n or 0) for p, v, n in sums], batch_size=5000)
    return len(sums)


_HOURLY_TABLE = HourlyConversions._meta.db_table
_ADD_CONVERSIONS_SQL = (
    f"INSERT INTO {_HOURLY_TABLE} (placement_id, hour, conversions) VALUES (%s, %s, %s) "  # noqa: S608
    f"ON CONFLICT (placement_id, hour) DO UPDATE SET conversions = {_HOURLY_TABLE}.conversions + excluded.conversions"
)


def hour_of(ts: datetime) -> datetime:
    """The start of the UTC hour `ts` falls in."""
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def add_conversions(counts: Mapping[tuple[int, datetime], int]) -> None:
    """Add conversions per (placement id, hour start), in key order (no deadlock between two writers)."""
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(placement_id, adapt(hour), int(n)) for (placement_id, hour), n in sorted(counts.items()) if n]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(_ADD_CONVERSIONS_SQL, rows)


def conversions_in_last_day(placement_id: int, *, now: datetime) -> int:
    """Conversions of the placement in the 24 hours up to `now`, by whole hours: the current hour so far and
    the 23 before it, so the count never includes an event older than 24 hours (it may leave out up to an
    hour of the oldest ones: a claim made from it is never overstated)."""
    current = hour_of(now)
    total = (HourlyConversions.objects
             .filter(placement_id=placement_id, hour__gte=current - timedelta(hours=23), hour__lte=current)
             .aggregate(n=Sum("conversions"))["n"])
    return int(total or 0)


def prune_conversions(*, before: datetime) -> int:
    """Delete the hours before `before` (only the last day is ever read); returns the rows deleted."""
    return HourlyConversions.objects.filter(hour__lt=hour_of(before)).delete()[0]
