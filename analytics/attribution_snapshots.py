"""Prepared attribution answers: every grid of a placement computed off the request path and stored, so a
GET reads one row instead of up to 200,000 impressions and the pooled findings analysis.

A snapshot holds, for one placement and one parameter set (the API's defaults: the random bucket, the
KALEIDO_ATTRIBUTION_MIN_SUPPORT of the day, no `days` window), the answer of every grid: each bounded user
feature × each tag group of the impressions read, computed from one read as `attribution_grid` computes
one (the same function, sharing the frame's columns and pooled analysis), plus the features that are not
segments (their grids answer 400). A stored grid is exactly the answer a live read gave at its
`computed_at`; events stored after that are not in it until the snapshot is recomputed.

When a snapshot is recomputed: its *watermark* is the state of the placement's data when it was read (the
daily rollups' newest row id and row count, which every recount of a day moves, and the oldest and newest
event times). The job (`refresh_snapshots`, on beat every KALEIDO_ATTRIBUTION_SNAPSHOT_EVERY_S) keeps the
placements analysts read (a snapshot read or stored in the last READ_WINDOW): it recomputes one whose
rollups moved since, whose snapshot is incomplete, or whose snapshot is older than half of
KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S (what the rollups cannot see, such as retention dropping old
events, is picked up then). Every grid of a placement costs seconds to compute (12–17 s for a placement
of about 1,200 impressions and 47 features, 30 s for 77,685), so placements nobody reads are not kept.
A read serves a stored grid no older than that max age; otherwise it computes the grid live, as before,
and stores it (so a placement's first read is live, and the job takes it from there). In the embedded default (no worker, no beat) a read first recounts
the placement's dirty rollup days, as report reads do, and serves a stored grid only while the watermark
is unchanged, so there every answer is current.

Other parameter sets (other buckets, a `days` window, another min_support) are always computed live.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from creative.models import Placement
from kaleido.db_router import primary_reads

from . import attribution
from .models import AttributionSnapshot, AttributionSnapshotGrid, DailyRollup, Event

log = logging.getLogger(__name__)

DEFAULT_BUCKETS = ("random",)
# Keys of the watermark that the rollup refresh moves: what the job compares to decide a recompute.
_ROLLUP_KEYS = ("rollup_last_id", "rollup_rows")
_LOCK_S = 3600  # a job's claim on one placement's recompute lives at most this long (a worker that died)
# The job keeps the snapshots of placements read within this window; a read stamps its snapshot at most
# once per READ_STAMP (one UPDATE an hour, not one per GET).
READ_WINDOW = timedelta(days=7)
READ_STAMP = timedelta(hours=1)


@dataclass(frozen=True)
class SnapshotParameters:
    """The parameter set a snapshot is computed for (and a request must ask for to be served from it)."""

    buckets: str
    min_support: int
    max_levels: int

    @property
    def bucket_list(self) -> list[str]:
        return attribution.split_buckets(self.buckets)


def default_parameters() -> SnapshotParameters:
    """The API's defaults as the settings are now: what the job computes."""
    return SnapshotParameters(buckets=",".join(DEFAULT_BUCKETS), min_support=int(settings.KALEIDO_ATTRIBUTION_MIN_SUPPORT),
                              max_levels=attribution.max_segment_levels())


def parameters_for(*, buckets: list[str], min_support: int | None, days: int | None) -> SnapshotParameters | None:
    """The snapshot parameters a request asks for; None when no snapshot holds them (computed live)."""
    defaults = default_parameters()
    if days is not None or list(buckets) != defaults.bucket_list:
        return None
    if min_support is not None and min_support != defaults.min_support:
        return None
    return defaults


def max_age_s() -> float:
    """KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S: the oldest stored grid a read serves."""
    return float(settings.KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S)


def data_watermark(placement_id: int) -> dict[str, Any]:
    """What a placement's answers are computed from: the daily rollups' newest id and row count (a recount
    of any day deletes and re-inserts its rows, so new, late or deleted events move them once the rollup
    refresh has run) and the oldest and newest event times (retention moves the oldest). Index reads only."""
    rollups = DailyRollup.objects.filter(placement_id=placement_id).aggregate(last=Max("id"), rows=Count("id"))
    events = Event.objects.filter(placement_id=placement_id).aggregate(oldest=Min("ts"), newest=Max("ts"))
    return {"rollup_last_id": rollups["last"], "rollup_rows": int(rollups["rows"] or 0),
            "oldest_event": _iso(events["oldest"]), "newest_event": _iso(events["newest"])}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _rollups_moved(stored: dict[str, Any], current: dict[str, Any]) -> bool:
    return any(stored.get(key) != current.get(key) for key in _ROLLUP_KEYS)


def _jsonable(value: Any) -> Any:
    """`value` as the API renders it (numpy numbers, tuples and all), so a stored grid reads back equal."""
    return json.loads(json.dumps(value, cls=JSONEncoder))


def _snapshots_with(parameters: SnapshotParameters) -> QuerySet[AttributionSnapshot]:
    return AttributionSnapshot.objects.filter(buckets=parameters.buckets, min_support=parameters.min_support,
                                              max_levels=parameters.max_levels)


def _snapshot_of(placement_id: int, parameters: SnapshotParameters) -> AttributionSnapshot | None:
    return _snapshots_with(parameters).filter(placement_id=placement_id).first()


# --- the job ---------------------------------------------------------------------------------------------------

def compute_snapshot(*, placement: Placement, parameters: SnapshotParameters | None = None) -> AttributionSnapshot:
    """Read the placement's impressions once, compute every grid of them and store them as its snapshot
    (replacing the one before, in one transaction: a reader sees the old snapshot or the new one)."""
    parameters = parameters or default_parameters()
    started = time.monotonic()
    computed_at = timezone.now()
    watermark = data_watermark(placement.id)  # before the read: a change during it is seen by the next check
    frame = attribution.impression_frame(placement=placement, buckets=parameters.bucket_list)
    columns = attribution.grid_columns(frame)
    grids: dict[tuple[str, str], dict[str, Any]] = {}
    skipped: list[dict[str, Any]] = []
    if len(frame):
        features, skipped = columns.bounded(columns.feature_names(), parameters.max_levels)
        for feature in features:
            for group in columns.group_names():
                grids[(feature, group)] = _jsonable(attribution.attribution_grid(
                    placement=placement, segment=feature, tag_group=group, buckets=parameters.bucket_list,
                    min_support=parameters.min_support, columns=columns))
    seconds = round(time.monotonic() - started, 2)
    with transaction.atomic():
        replaced = _snapshots_with(parameters).filter(placement=placement)
        read_at = replaced.values_list("read_at", flat=True).first()
        replaced.delete()
        snapshot = AttributionSnapshot.objects.create(
            placement=placement, buckets=parameters.buckets, min_support=parameters.min_support,
            max_levels=parameters.max_levels, watermark=watermark, impressions=len(frame),
            skipped_features=_jsonable(skipped), complete=True, computed_at=computed_at,
            compute_seconds=seconds, read_at=read_at)
        AttributionSnapshotGrid.objects.bulk_create(
            [AttributionSnapshotGrid(snapshot=snapshot, segment=segment, tag_group=group, answer=answer,
                                     computed_at=computed_at) for (segment, group), answer in grids.items()],
            batch_size=200)
    log.info("attribution snapshot of %s: %d grids of %d impressions in %.1f s", placement.slug, len(grids),
             len(frame), seconds)
    return snapshot


def snapshot_due(snapshot: AttributionSnapshot | None, rollups: dict[str, Any], *, now: datetime) -> bool:
    """Whether the job should recompute: no snapshot, an incomplete one, rollups moved since, or older than
    half the max age (so reads keep finding one, and what the rollups cannot see is picked up)."""
    if snapshot is None or not snapshot.complete:
        return True
    return _rollups_moved(snapshot.watermark, rollups) or now - snapshot.computed_at > timedelta(seconds=max_age_s() / 2)


def placements_due(*, now: datetime | None = None) -> list[int]:
    """The placements read within READ_WINDOW whose default snapshot the job should recompute (one read of
    their snapshots, one grouped read of their rollups)."""
    now = now or timezone.now()
    parameters = default_parameters()
    snapshots = {s.placement_id: s for s in _snapshots_with(parameters).filter(read_at__gte=now - READ_WINDOW)}
    if not snapshots:
        return []
    states = {row["placement_id"]: {"rollup_last_id": row["last"], "rollup_rows": row["rows"]}
              for row in DailyRollup.objects.filter(placement_id__in=list(snapshots)).order_by()
              .values("placement_id").annotate(last=Max("id"), rows=Count("id"))}
    none = {"rollup_last_id": None, "rollup_rows": 0}  # a placement whose rollups are gone (as data_watermark says)
    return sorted(p for p, snapshot in snapshots.items() if snapshot_due(snapshot, states.get(p, none), now=now))


def refresh_placement(*, placement_id: int) -> bool:
    """Recompute one placement's snapshot if it is still due (a job queued twice does the work once);
    returns whether it computed."""
    lock = f"kaleido:attribution-snapshot:{placement_id}"
    try:
        claimed = bool(cache.add(lock, 1, timeout=_LOCK_S))
    except Exception:  # a cache outage: recompute (the snapshot is replaced atomically either way)
        claimed = True
    if not claimed:
        return False
    try:
        placement = Placement.objects.filter(pk=placement_id).first()
        if placement is None:
            return False
        rollups = data_watermark(placement_id)
        if not snapshot_due(_snapshot_of(placement_id, default_parameters()), rollups, now=timezone.now()):
            return False
        compute_snapshot(placement=placement)
        return True
    finally:
        try:
            cache.delete(lock)
        except Exception:  # noqa: S110 - the lock expires on its own
            pass


def refresh_snapshots(*, placement_id: int | None = None) -> list[int]:
    """Recompute every due snapshot (or one placement's) in this process; returns the placements computed."""
    due = placements_due() if placement_id is None else [placement_id]
    return [p for p in due if refresh_placement(placement_id=p)]


# --- the read ----------------------------------------------------------------------------------------------------

def _current_snapshot(placement: Placement, parameters: SnapshotParameters, *,
                      watermark: dict[str, Any] | None) -> AttributionSnapshot | None:
    """The stored snapshot of these parameters; with `watermark` (the data as it is now), only if it was
    computed from that same data."""
    snapshot = _snapshot_of(placement.id, parameters)
    if snapshot is None or (watermark is not None and snapshot.watermark != watermark):
        return None
    return snapshot


def _empty_grid(snapshot: AttributionSnapshot, placement: Placement, segment: str, tag_group: str) -> dict[str, Any]:
    """What attribution_grid answers for a pair a complete snapshot lacks: a feature or tag group no
    impression carries, so no cells (the test suite checks it against a live read)."""
    buckets = attribution.split_buckets(snapshot.buckets)
    return {"placement": placement.slug, "segment": segment, "tag_group": tag_group, "buckets": buckets,
            "weighting": "none" if set(buckets) <= {"random"} else "inverse_propensity",
            "impressions": snapshot.impressions, "min_support": snapshot.min_support, "cells": [], "findings": [],
            "marginal_findings": [], "explained_findings": [], "aliases": [], "notes": [],
            "skipped_features": snapshot.skipped_features, "method": attribution.MARGINAL_NOTE}


def _with_age(answer: dict[str, Any], *, source: str, computed_at: datetime, watermark: dict[str, Any] | None,
              now: datetime) -> dict[str, Any]:
    return {**answer, "source": source, "computed_at": computed_at.isoformat(),
            "age_s": round(max((now - computed_at).total_seconds(), 0.0), 1),
            "data_through": (watermark or {}).get("newest_event")}


def _store_live_grid(placement: Placement, parameters: SnapshotParameters, *, watermark: dict[str, Any],
                     answer: dict[str, Any], computed_at: datetime) -> None:
    """Keep a grid computed live for the next read: in the snapshot of the same watermark, or in a new
    (incomplete) one replacing an older. A concurrent store winning the race is left as it is."""
    try:
        with primary_reads(), transaction.atomic():
            snapshot = _snapshot_of(placement.id, parameters)
            if snapshot is not None and snapshot.watermark != watermark:
                snapshot.delete()
                snapshot = None
            if snapshot is None:
                snapshot = AttributionSnapshot.objects.create(
                    placement=placement, buckets=parameters.buckets, min_support=parameters.min_support,
                    max_levels=parameters.max_levels, watermark=watermark, impressions=answer["impressions"],
                    skipped_features=answer.get("skipped_features", []), complete=False, computed_at=computed_at,
                    read_at=computed_at)
            else:
                _stamp_read(snapshot, computed_at)
            AttributionSnapshotGrid.objects.update_or_create(
                snapshot=snapshot, segment=answer["segment"], tag_group=answer["tag_group"],
                defaults={"answer": answer, "computed_at": computed_at})
    except IntegrityError:  # another read or the job stored this placement's snapshot meanwhile
        log.info("attribution grid of %s not kept: a snapshot was stored meanwhile", placement.slug)


def _stamp_read(snapshot: AttributionSnapshot, now: datetime) -> None:
    """Mark the snapshot read (what keeps the job recomputing it), at most once per READ_STAMP."""
    if snapshot.read_at is None or now - snapshot.read_at >= READ_STAMP:
        AttributionSnapshot.objects.filter(pk=snapshot.pk).update(read_at=now)


def attribution_answer(*, placement: Placement, segment: str, tag_group: str, buckets: list[str],
                       min_support: int | None = None, days: int | None = None) -> dict[str, Any]:
    """The attribution grid the API answers: from the placement's snapshot when it holds these parameters
    and is fresh (no older than KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S; in the embedded default, of the data
    as it is now), else computed live as `attribution_grid` computes it (and kept for the next read).

    Adds `source` ("snapshot" or "live"), `computed_at`, `age_s` and `data_through` (the newest event
    time when it was computed). Raises attribution.HighCardinalityFeature, from the snapshot or live."""
    from .rollups import refresh_for_read

    now = timezone.now()
    parameters = parameters_for(buckets=buckets, min_support=min_support, days=days)
    if parameters is None:
        watermark = data_watermark(placement.id)
        answer = attribution.attribution_grid(placement=placement, segment=segment, tag_group=tag_group,
                                              buckets=buckets, min_support=min_support, days=days)
        return _with_age(answer, source="live", computed_at=now, watermark=watermark, now=now)
    current: dict[str, Any] | None = None
    if settings.CELERY_TASK_ALWAYS_EAGER:  # no worker, no beat: the read brings the rollups up to date itself
        refresh_for_read(placement_id=placement.id)
        with primary_reads():  # what the refresh just wrote, even inside a replica-routed GET
            current = data_watermark(placement.id)
    snapshot = _current_snapshot(placement, parameters, watermark=current)
    if snapshot is not None:
        _stamp_read(snapshot, now)
        skipped = {s["feature"]: s for s in snapshot.skipped_features}
        grid = snapshot.grids.filter(segment=segment, tag_group=tag_group).values_list("answer", "computed_at").first()
        oldest = now - timedelta(seconds=max_age_s())
        if segment in skipped and snapshot.computed_at >= oldest:
            raise attribution.HighCardinalityFeature(skipped[segment]["reason"])
        if grid is not None and grid[1] >= oldest:
            return _with_age(grid[0], source="snapshot", computed_at=grid[1], watermark=snapshot.watermark, now=now)
        if grid is None and snapshot.complete and snapshot.computed_at >= oldest:
            return _with_age(_empty_grid(snapshot, placement, segment, tag_group), source="snapshot",
                             computed_at=snapshot.computed_at, watermark=snapshot.watermark, now=now)
    watermark = current if current is not None else data_watermark(placement.id)
    answer = _jsonable(attribution.attribution_grid(placement=placement, segment=segment, tag_group=tag_group,
                                                    buckets=parameters.bucket_list,
                                                    min_support=parameters.min_support))
    _store_live_grid(placement, parameters, watermark=watermark, answer=answer, computed_at=now)
    return _with_age(answer, source="live", computed_at=now, watermark=watermark, now=now)
