"""Event ingestion: validate each event on its own, store valid ones once per event_id.

Idempotency is decided by the primary key of `analytics_eventkey`: keys are claimed with
INSERT … ON CONFLICT DO NOTHING RETURNING, so the count of accepted events is exact even
when the same batch is replayed concurrently (a second writer waits for the first one's
key and then sees the conflict). Only events whose key was claimed are inserted, in the
same transaction. Each accepted (placement, day) is marked dirty for the rollup refresh.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from creative.models import Placement
from kaleido.text import is_storable_text, storable_text_error
from ranking.models import Decision

from .models import EventType, RollupDirty
from .segments import segment_key

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
    decision_id: uuid.UUID | None
    variant_id: int
    user_id: str
    placement_id: int
    position: int
    ts: datetime
    bucket: str = ""
    experiment_id: int | None = None
    propensity: float | None = None
    segment_key: str = ""


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


def _parse_event(raw: Any, placements: dict[str, int], oldest: datetime, newest: datetime) -> _Row:
    if not isinstance(raw, dict):
        raise _Invalid("each event must be a JSON object")
    event_id = _require_str(raw, "event_id", 64)
    event_type = raw.get("type")
    if event_type not in _EVENT_TYPES:
        raise _Invalid(f"type: must be one of {', '.join(sorted(_EVENT_TYPES))}")
    decision_id = raw.get("decision_id")
    if decision_id is not None:
        try:
            decision_id = uuid.UUID(str(decision_id))
        except ValueError as exc:
            raise _Invalid("decision_id: not a valid UUID") from exc
    variant_id = raw.get("variant_id")
    if isinstance(variant_id, bool) or not isinstance(variant_id, int) or not 0 < variant_id < 2**63:
        raise _Invalid("variant_id: required, a positive integer")
    user_id = _require_str(raw, "user_id", 128)
    slug = _require_str(raw, "placement", 80)
    if slug not in placements:
        raise _Invalid(f"placement: unknown placement '{slug}'")
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
    return _Row(event_id=event_id, type=event_type, decision_id=decision_id, variant_id=variant_id,
                user_id=user_id, placement_id=placements[slug], position=position, ts=ts)


def _enrich(rows: list[_Row]) -> None:
    """Copy bucket, experiment, propensity and segment from each event's decision, when it is known.

    A decision that has not arrived yet leaves the fields empty; the rollup refresh fills them later.
    """
    ids = {r.decision_id for r in rows if r.decision_id is not None}
    if not ids:
        return
    names = list(settings.KALEIDO_ROLLUP_SEGMENTS)
    decisions = {}
    if connection.vendor == "postgresql":
        with _server_cursor() as cursor:
            cursor.execute("SELECT decision_id, bucket, assigned_bucket, experiment_id, features, items "
                           "FROM ranking_decision WHERE decision_id = ANY(%s)", [list(ids)])
            found = cursor.fetchall()
    else:
        found = Decision.objects.filter(decision_id__in=ids).values_list(
            "decision_id", "bucket", "assigned_bucket", "experiment_id", "features", "items")
    for decision_id, bucket, assigned, experiment_id, features, items in found:
        if isinstance(features, str):  # Django's connection hands jsonb back as text
            features, items = json.loads(features), json.loads(items)
        decisions[decision_id] = decision_enrichment(bucket, assigned, experiment_id, features, items, names)
    for row in rows:
        found = decisions.get(row.decision_id)
        if found is None:
            continue
        row.bucket, row.experiment_id, propensities, row.segment_key = found
        row.propensity = logged_propensity(propensities, row.variant_id)


def decision_enrichment(bucket: str, assigned_bucket: str, experiment_id: int | None, features: Any, items: Any,
                        names: list[str]) -> tuple[str, int | None, dict, str]:
    """What an event copies from its decision: (bucket, experiment_id, propensity by variant, segment_key).

    The bucket is the assigned arm, not the served one: a model-bucket user served control on fallback
    stays in the model arm (intention to treat), so the split stays randomised.
    """
    propensities = {item.get("variant_id"): item.get("propensity") for item in items or []
                    if isinstance(item, dict)}
    return assigned_bucket or bucket, experiment_id, propensities, segment_key(features, names)


def logged_propensity(propensities: dict, variant_id: int) -> float | None:
    """The propensity the decision logged for the variant, when it is a positive number."""
    propensity = propensities.get(variant_id)
    return float(propensity) if isinstance(propensity, int | float) and propensity > 0 else None


def _server_cursor():
    """A psycopg cursor with server-side parameter binding on Django's connection (same transaction).

    Django's cursors bind parameters client-side, quoting every array element in Python; sending the
    arrays as parameters is several times faster for a 1000-event batch.
    """
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


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
    """Insert the claimed events (other than PostgreSQL)."""
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(received_at)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO analytics_event (event_id, type, decision_id, variant_id, user_id, placement_id, "
            "position, ts, received_at, bucket, experiment_id, propensity, segment_key) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(r.event_id, r.type, r.decision_id.hex if r.decision_id else None, r.variant_id, r.user_id,
              r.placement_id, r.position, adapt(r.ts), received, r.bucket, r.experiment_id, r.propensity,
              r.segment_key) for r in rows],
        )


def _mark_dirty(rows: list[_Row]) -> None:
    touched: set[tuple[int, date]] = {(r.placement_id, r.ts.astimezone(UTC).date()) for r in rows}
    RollupDirty.objects.bulk_create([RollupDirty(placement_id=p, day=d) for p, d in sorted(touched)])


_STAGE_COLUMNS = ("event_id, type, decision_id, variant_id, user_id, placement_id, position, ts, bucket, "
                  "experiment_id, propensity, segment_key")
_STAGE_SELECT = ", ".join("s." + c.strip() for c in _STAGE_COLUMNS.split(","))


def _store_postgres(rows: list[_Row], received_at: datetime) -> list[_Row]:
    """COPY the batch into a per-connection staging table, then claim keys and insert the claimed
    events in one statement. COPY moves rows in C; binding 13 arrays of 1000 values costs more."""
    with _server_cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS analytics_ingest_stage (event_id varchar(64), type varchar(12), "
            "decision_id uuid, variant_id bigint, user_id varchar(128), placement_id bigint, position smallint, "
            "ts timestamptz, bucket varchar(10), experiment_id bigint, propensity float8, "
            "segment_key varchar(255)) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY analytics_ingest_stage ({_STAGE_COLUMNS}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r.event_id, r.type, r.decision_id, r.variant_id, r.user_id, r.placement_id,
                                r.position, r.ts, r.bucket, r.experiment_id, r.propensity, r.segment_key))
        cursor.execute(
            # Column names come from the constant above, never from input.
            "WITH claimed AS (INSERT INTO analytics_eventkey (event_id, ts) SELECT event_id, ts "  # noqa: S608
            "FROM analytics_ingest_stage ON CONFLICT DO NOTHING RETURNING event_id) "
            f"INSERT INTO analytics_event ({_STAGE_COLUMNS}, received_at) "
            f"SELECT {_STAGE_SELECT}, %s "
            "FROM analytics_ingest_stage s JOIN claimed USING (event_id) RETURNING event_id",
            [received_at])
        claimed = {row[0] for row in cursor.fetchall()}
    return [r for r in rows if r.event_id in claimed]


def record_events(raw_events: list[Any], *, now: datetime | None = None) -> IngestResult:
    """Store every valid event exactly once; report duplicates and name each rejected one by index."""
    now = now or timezone.now()
    oldest = now - timedelta(days=settings.KALEIDO_EVENT_RETENTION_DAYS)
    newest = now + _MAX_CLOCK_SKEW
    result = IngestResult()
    slugs = {e.get("placement") for e in raw_events
             if isinstance(e, dict) and isinstance(e.get("placement"), str) and is_storable_text(e["placement"])}
    placements = dict(Placement.objects.filter(slug__in=slugs).values_list("slug", "id"))
    valid: dict[str, _Row] = {}
    for index, raw in enumerate(raw_events):
        try:
            row = _parse_event(raw, placements, oldest, newest)
        except _Invalid as exc:
            result.rejected.append({"index": index, "error": str(exc)})
            continue
        if row.event_id in valid:  # repeated inside the same batch
            result.duplicates += 1
            continue
        valid[row.event_id] = row
    if not valid:
        return result
    rows = list(valid.values())
    _enrich(rows)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            new_rows = _store_postgres(rows, now)
        else:
            claimed = _claim_keys(rows)
            new_rows = [r for r in rows if r.event_id in claimed]
            if new_rows:
                _insert_events(new_rows, now)
        if new_rows:
            _mark_dirty(new_rows)
    result.accepted += len(new_rows)
    result.duplicates += len(rows) - len(new_rows)
    return result
