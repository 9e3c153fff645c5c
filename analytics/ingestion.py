"""Event ingestion: validate each event on its own, tie it to its decision, store valid ones once per event_id.

Idempotency is decided by the primary key of `analytics_eventkey`: keys are claimed with
INSERT … ON CONFLICT DO NOTHING RETURNING, so the count of accepted events is exact even
when the same batch is replayed concurrently (a second writer waits for the first one's
key and then sees the conflict). Only events whose key was claimed are inserted, in the
same transaction. Each accepted (placement, day) is marked dirty for the rollup refresh.

Every event names the decision it reports on (`decision_id`, as /rank answered it). An event is
rejected when that decision is stored and disagrees with it: another placement, or a variant that
was not among its items. A decision that is not stored yet (the journal flushes decisions in
batches, see ranking.decision_log) is not proof of anything: the event is held in `LateEvent`,
outside every count, until the rollup refresh confirms it against its decision or drops it after
KALEIDO_EVENT_LATE_DECISION_S (analytics.rollups.settle_late_events). A key with the `events` scope
therefore cannot add impressions or clicks that no decision showed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from counters.services import add_conversions, hour_of
from creative.models import Placement
from kaleido.text import is_storable_text, storable_text_error

from .interaction_log import decision_facts, logged_propensity
from .interaction_log import server_cursor as _server_cursor
from .models import EventType, LateEvent, RollupDirty

log = logging.getLogger(__name__)

MAX_EVENTS_PER_REQUEST = 1000
_EVENT_TYPES = set(EventType.values)
_MAX_CLOCK_SKEW = timedelta(days=1)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass(slots=True)
class _Row:
    event_id: str
    type: str  # noqa: A003
    decision_id: uuid.UUID
    variant_id: int
    user_id: str
    placement_id: int
    position: int
    ts: datetime
    bucket: str = ""
    experiment_id: int | None = None
    propensity: float | None = None
    segment_key: str = ""
    rerank: str = ""  # why the client moved it from the decision's order ("" = it did not say so)
    rerank_probability: float | None = None
    index: int = 0  # in the request, to name it when it is rejected
    late: bool = False  # its decision is not stored yet


class _Invalid(Exception):
    pass


def _require_str(raw: dict, name: str, max_len: int) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{name}: required, a non-empty string")
    if len(value) > max_len:
        raise _Invalid(f"{name}: at most {max_len} characters")
    if (problem := storable_text_error(value)) is not None:
        raise _Invalid(f"{name}: {problem}")
    return value


def _parse_event(raw: Any, placements: dict[str, int], oldest: datetime, newest: datetime,
                 allowed: frozenset[str] | None) -> _Row:
    if not isinstance(raw, dict):
        raise _Invalid("each event must be a JSON object")
    event_id = _require_str(raw, "event_id", 64)
    event_type = raw.get("type")
    if event_type not in _EVENT_TYPES:
        raise _Invalid(f"type: must be one of {', '.join(sorted(_EVENT_TYPES))}")
    decision_id = raw.get("decision_id")
    if not isinstance(decision_id, str) or not decision_id:
        raise _Invalid("decision_id: required, the decision_id /rank answered for what was shown")
    try:
        decision_id = uuid.UUID(decision_id)
    except ValueError as exc:
        raise _Invalid("decision_id: not a valid UUID") from exc
    variant_id = raw.get("variant_id")
    if isinstance(variant_id, bool) or not isinstance(variant_id, int) or not 0 < variant_id < 2**63:
        raise _Invalid("variant_id: required, a positive integer")
    user_id = _require_str(raw, "user_id", 128)
    slug = _require_str(raw, "placement", 80)
    if slug not in placements:
        raise _Invalid(f"placement: unknown placement '{slug}'")
    if allowed is not None and slug not in allowed:
        raise _Invalid(f"placement: this API key may not report events for '{slug}'")
    position = raw.get("position", 1)
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= 1000:
        raise _Invalid("position: an integer from 1 to 1000")
    ts_raw = raw.get("ts")
    ts = None
    if isinstance(ts_raw, str):
        try:
            ts = datetime.fromisoformat(ts_raw)  # fast path; accepts "Z" since Python 3.11
        except ValueError:
            try:
                ts = parse_datetime(ts_raw)
            except ValueError:
                ts = None
    if ts is None or ts.tzinfo is None:
        raise _Invalid("ts: required, an ISO-8601 time with a zone, e.g. 2026-11-21T10:00:00Z")
    if ts < oldest:
        raise _Invalid(f"ts: older than the {settings.KALEIDO_EVENT_RETENTION_DAYS}-day retention window")
    if ts > newest:
        raise _Invalid("ts: more than a day in the future; check the client clock")
    rerank, rerank_probability = _parse_rerank(raw)
    return _Row(event_id=event_id, type=event_type, decision_id=decision_id, variant_id=variant_id,
                user_id=user_id, placement_id=placements[slug], position=position, ts=ts, rerank=rerank,
                rerank_probability=rerank_probability)


RERANK_REASONS = frozenset({"fatigue"})


def _parse_rerank(raw: dict) -> tuple[str, float | None]:
    """(rerank, rerank_probability) of an event: what a client says about moving the variant after /rank
    logged its decision. A re-rank without a probability is deterministic (1.0). `server_position` is
    checked for its type only: the slot the policy chose is the decision's own rank for the variant, which
    the interaction log reads (a client cannot rewrite it)."""
    rerank = raw.get("rerank")
    probability = raw.get("rerank_probability")
    server_position = raw.get("server_position")
    if rerank is None or rerank == "":
        if probability is not None:
            raise _Invalid("rerank_probability: only with rerank")
        rerank = ""
    elif rerank not in RERANK_REASONS:
        raise _Invalid(f"rerank: must be one of {', '.join(sorted(RERANK_REASONS))}")
    if probability is not None:
        if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 < probability <= 1:
            raise _Invalid("rerank_probability: a number above 0 and at most 1")
        probability = float(probability)
    elif rerank:
        probability = 1.0
    if server_position is not None and (isinstance(server_position, bool) or not isinstance(server_position, int)
                                        or not 1 <= server_position <= 1000):
        raise _Invalid("server_position: an integer from 1 to 1000")
    return rerank, probability


def _tie_to_decisions(rows: list[_Row]) -> list[tuple[_Row, str]]:
    """Check each event against its stored decision and copy bucket, experiment, propensity and segment
    from it; mark the events whose decision is not stored yet as late. Returns the rejected ones."""
    facts = decision_facts({r.decision_id for r in rows})
    rejected = []
    for row in rows:
        found = facts.get(row.decision_id)
        if found is None:
            row.late = True
            continue
        problem = found.mismatch(placement_id=row.placement_id, variant_id=row.variant_id)
        if problem is not None:
            rejected.append((row, problem))
            continue
        row.bucket, row.experiment_id, row.segment_key = found.bucket, found.experiment_id, found.segment_key
        row.propensity = logged_propensity(found.propensities, row.variant_id)
    return rejected


def _claim_keys(rows: list[_Row]) -> set[str]:
    """Insert each event_id into the key ledger; return the ids that were new (other than PostgreSQL)."""
    claimed: set[str] = set()
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 400):
            chunk = rows[start:start + 400]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            params: list[Any] = []
            for r in chunk:
                params += [r.event_id, adapt(r.ts)]
            cursor.execute(
                f"INSERT INTO analytics_eventkey (event_id, ts) VALUES {values} "  # noqa: S608 - placeholders only
                "ON CONFLICT DO NOTHING RETURNING event_id", params)
            claimed.update(row[0] for row in cursor.fetchall())
    return claimed


def _insert_events(rows: list[_Row], received_at: datetime) -> None:
    """Insert events whose keys are claimed and whose decision is confirmed (COPY on PostgreSQL)."""
    if connection.vendor == "postgresql":
        with _server_cursor() as cursor, cursor.copy(
                f"COPY analytics_event ({_STAGE_COLUMNS}, received_at) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r.event_id, r.type, r.decision_id, r.variant_id, r.user_id, r.placement_id,
                                r.position, r.ts, r.bucket, r.experiment_id, r.propensity, r.segment_key,
                                r.rerank, r.rerank_probability, received_at))
        return
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO analytics_event (event_id, type, decision_id, variant_id, user_id, placement_id, "
            "position, ts, received_at, bucket, experiment_id, propensity, segment_key, rerank, rerank_probability) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(r.event_id, r.type, r.decision_id.hex if r.decision_id else None, r.variant_id, r.user_id,
              r.placement_id, r.position, adapt(r.ts), received, r.bucket, r.experiment_id, r.propensity,
              r.segment_key, r.rerank, r.rerank_probability) for r in rows],
        )


def _hold_late(rows: list[_Row], received_at: datetime) -> None:
    """Hold events whose keys are claimed and whose decision is not stored yet (other than PostgreSQL)."""
    LateEvent.objects.bulk_create([
        LateEvent(event_id=r.event_id, type=r.type, decision_id=r.decision_id, variant_id=r.variant_id,
                  user_id=r.user_id, placement_id=r.placement_id, position=r.position, ts=r.ts,
                  rerank=r.rerank, rerank_probability=r.rerank_probability, received_at=received_at)
        for r in rows])


def _mark_dirty(rows: list[_Row]) -> None:
    touched: set[tuple[int, date]] = {(r.placement_id, r.ts.astimezone(UTC).date()) for r in rows}
    RollupDirty.objects.bulk_create([RollupDirty(placement_id=p, day=d) for p, d in sorted(touched)])


def _count_conversions(rows: list[_Row]) -> None:
    """Add stored conversions to their placement's hourly counts (what `{conversions_24h}` copy reads)."""
    counts: dict[tuple[int, datetime], int] = {}
    for r in rows:
        if r.type == EventType.CONVERSION:
            key = (r.placement_id, hour_of(r.ts))
            counts[key] = counts.get(key, 0) + 1
    add_conversions(counts)


_STAGE_COLUMNS = ("event_id, type, decision_id, variant_id, user_id, placement_id, position, ts, bucket, "
                  "experiment_id, propensity, segment_key, rerank, rerank_probability")
_STAGE_SELECT = ", ".join("s." + c.strip() for c in _STAGE_COLUMNS.split(","))


_LATE_COLUMNS = "event_id, type, decision_id, variant_id, user_id, placement_id, position, ts, rerank, rerank_probability"
_LATE_SELECT = ", ".join("s." + c.strip() for c in _LATE_COLUMNS.split(","))


def _store_postgres(rows: list[_Row], received_at: datetime) -> list[_Row]:
    """COPY the batch into a per-connection staging table, then claim keys and insert the claimed
    events in one statement: confirmed ones into the events table, late ones into the hold.
    COPY moves rows in C; binding 13 arrays of 1000 values costs more."""
    with _server_cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_ingest_stage_v3 (event_id varchar(64), type varchar(12), "
            "decision_id uuid, variant_id bigint, user_id varchar(128), placement_id bigint, position smallint, "
            "ts timestamptz, bucket varchar(10), experiment_id bigint, propensity float8, "
            "segment_key varchar(255), rerank varchar(16), rerank_probability float8, late boolean) "
            "ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY analytics_ingest_stage_v3 ({_STAGE_COLUMNS}, late) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r.event_id, r.type, r.decision_id, r.variant_id, r.user_id, r.placement_id,
                                r.position, r.ts, r.bucket, r.experiment_id, r.propensity, r.segment_key,
                                r.rerank, r.rerank_probability, r.late))
        cursor.execute(
            # Column names come from the constants above, never from input.
            "WITH claimed AS (INSERT INTO analytics_eventkey (event_id, ts) SELECT event_id, ts "  # noqa: S608
            "FROM analytics_ingest_stage_v3 ON CONFLICT DO NOTHING RETURNING event_id), "
            f"stored AS (INSERT INTO analytics_event ({_STAGE_COLUMNS}, received_at) "
            f"SELECT {_STAGE_SELECT}, %s "
            "FROM analytics_ingest_stage_v3 s JOIN claimed USING (event_id) WHERE NOT s.late RETURNING event_id), "
            f"held AS (INSERT INTO analytics_lateevent ({_LATE_COLUMNS}, received_at) "
            f"SELECT {_LATE_SELECT}, %s "
            "FROM analytics_ingest_stage_v3 s JOIN claimed USING (event_id) WHERE s.late RETURNING event_id) "
            "SELECT event_id FROM stored UNION ALL SELECT event_id FROM held",
            [received_at, received_at])
        claimed = {row[0] for row in cursor.fetchall()}
    return [r for r in rows if r.event_id in claimed]


def record_events(raw_events: list[Any], *, now: datetime | None = None,
                  placements_allowed: list[str] | None = None, historical: bool = False) -> IngestResult:
    """Store every valid event exactly once; report duplicates and name each rejected one by index.

    `placements_allowed` (the caller's API key limits) rejects events for any other placement; None or
    empty allows all. An event whose decision is not stored yet is accepted and held (see the module
    docstring): it counts once its decision confirms it. `historical` (import_impressions --historical
    only) accepts events older than the retention window.
    """
    now = now or timezone.now()
    oldest = datetime.min.replace(tzinfo=UTC) if historical else now - timedelta(
        days=settings.KALEIDO_EVENT_RETENTION_DAYS)
    newest = now + _MAX_CLOCK_SKEW
    allowed = frozenset(placements_allowed) if placements_allowed else None
    result = IngestResult()
    slugs = {e.get("placement") for e in raw_events
             if isinstance(e, dict) and isinstance(e.get("placement"), str) and is_storable_text(e["placement"])}
    placements = dict(Placement.objects.filter(slug__in=slugs).values_list("slug", "id"))
    valid: dict[str, _Row] = {}
    for index, raw in enumerate(raw_events):
        try:
            row = _parse_event(raw, placements, oldest, newest, allowed)
        except _Invalid as exc:
            result.rejected.append({"index": index, "error": str(exc)})
            continue
        if row.event_id in valid:  # repeated inside the same batch
            result.duplicates += 1
            continue
        row.index = index
        valid[row.event_id] = row
    if not valid:
        return result
    rows = list(valid.values())
    mismatched = _tie_to_decisions(rows)
    if mismatched:
        result.rejected.extend({"index": row.index, "error": problem} for row, problem in mismatched)
        result.rejected.sort(key=lambda r: r["index"])
        bad = {row.event_id for row, _ in mismatched}
        rows = [r for r in rows if r.event_id not in bad]
        if not rows:
            return result
    with transaction.atomic():
        if connection.vendor == "postgresql":
            new_rows = _store_postgres(rows, now)
        else:
            claimed = _claim_keys(rows)
            new_rows = [r for r in rows if r.event_id in claimed]
            if confirmed := [r for r in new_rows if not r.late]:
                _insert_events(confirmed, now)
            if late := [r for r in new_rows if r.late]:
                _hold_late(late, now)
        if confirmed := [r for r in new_rows if not r.late]:
            _mark_dirty(confirmed)
            _count_conversions(confirmed)
    result.accepted += len(new_rows)
    result.duplicates += len(rows) - len(new_rows)
    return result


SETTLE_BATCH = 20_000  # held events decided per transaction
SETTLE_MAX = 1_000_000  # held events one refresh decides at most (the next refresh goes on from there)


def settle_late_events(*, now: datetime | None = None, batch: int = SETTLE_BATCH,
                       limit: int = SETTLE_MAX) -> dict[str, int]:
    """Decide the events held for their decision (the rollup refresh calls this first): confirmed ones
    move to `Event` and mark their day dirty; those their decision contradicts are rejected; those that
    waited KALEIDO_EVENT_LATE_DECISION_S with no decision are dropped. Returns the counts, also logged.

    Works through the hold in id order, `batch` rows a transaction, up to `limit` rows. The rows are
    locked as they are read (SKIP LOCKED on PostgreSQL), so two refreshers never move the same event
    twice; their keys stay claimed, so a resend of a dropped event is a duplicate.
    """
    now = now or timezone.now()
    expired_before = now - timedelta(seconds=settings.KALEIDO_EVENT_LATE_DECISION_S)
    counts = {"confirmed": 0, "rejected": 0, "expired": 0, "waiting": 0}
    after, seen = 0, 0
    while seen < limit:
        read, after = _settle_batch(after=after, size=min(batch, limit - seen), expired_before=expired_before,
                                    now=now, counts=counts)
        seen += read
        if read < batch:
            break
    if counts["rejected"] or counts["expired"]:
        log.warning("late events settled: %(confirmed)d confirmed, %(rejected)d rejected (their decision shows "
                    "another placement or variant), %(expired)d dropped (no decision within the hold), "
                    "%(waiting)d still waiting", counts)
    elif counts["confirmed"]:
        log.info("late events settled: %(confirmed)d confirmed, %(waiting)d still waiting", counts)
    return counts


def _settle_batch(*, after: int, size: int, expired_before: datetime, now: datetime,
                  counts: dict[str, int]) -> tuple[int, int]:
    """Decide up to `size` held events with ids above `after`; returns (rows read, last id read)."""
    with transaction.atomic():
        held = list(LateEvent.objects.select_for_update(skip_locked=True).filter(id__gt=after).order_by("id")
                    .values_list("id", "event_id", "type", "decision_id", "variant_id", "user_id", "placement_id",
                                 "position", "ts", "received_at", "rerank", "rerank_probability")[:size])
        if not held:
            return 0, after
        facts = decision_facts({h[3] for h in held})
        confirmed: list[_Row] = []
        settled: list[int] = []
        for (pk, event_id, kind, decision_id, variant_id, user_id, placement_id, position, ts, received_at, rerank,
             rerank_probability) in held:
            found = facts.get(decision_id)
            if found is None:
                if received_at < expired_before:
                    counts["expired"] += 1
                    settled.append(pk)
                else:
                    counts["waiting"] += 1
                continue
            settled.append(pk)
            if found.mismatch(placement_id=placement_id, variant_id=variant_id) is not None:
                counts["rejected"] += 1
                continue
            confirmed.append(_Row(event_id=event_id, type=kind, decision_id=decision_id, variant_id=variant_id,
                                  user_id=user_id, placement_id=placement_id, position=position, ts=ts,
                                  bucket=found.bucket, experiment_id=found.experiment_id,
                                  propensity=logged_propensity(found.propensities, variant_id),
                                  segment_key=found.segment_key, rerank=rerank,
                                  rerank_probability=rerank_probability))
        if confirmed:
            _insert_events(confirmed, now)
            _mark_dirty(confirmed)
            _count_conversions(confirmed)
        for start in range(0, len(settled), 5000):
            LateEvent.objects.filter(id__in=settled[start:start + 5000]).delete()
        counts["confirmed"] += len(confirmed)
    return len(held), held[-1][0]
