"""Variant impression totals: added to by the rollup refresh, read by the catalogue."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import connection
from django.db.models import Sum

from .models import VariantImpressions

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


def recount_from_rollups(*, placement_id: int | None = None) -> int:
    """Rebuild the totals from the daily rollups (after a restore, or to check the increments); returns how
    many variants were written."""
    from analytics.models import DailyRollup  # the rollups are the source; this app is below analytics

    rollups = DailyRollup.objects.all()
    totals = VariantImpressions.objects.all()
    if placement_id is not None:
        rollups, totals = rollups.filter(placement_id=placement_id), totals.filter(placement_id=placement_id)
    sums = list(rollups.values("placement_id", "variant_id").annotate(n=Sum("impressions"))
                .values_list("placement_id", "variant_id", "n"))
    totals.delete()
    VariantImpressions.objects.bulk_create(
        [VariantImpressions(placement_id=p, variant_id=v, impressions=n or 0) for p, v, n in sums], batch_size=5000)
    return len(sums)
