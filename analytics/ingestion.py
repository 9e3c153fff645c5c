"""Event ingestion: validate each event on its own, store valid ones once per event_id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime

from creative.models import Placement

from .models import Event, EventType

MAX_EVENTS_PER_REQUEST = 1000
_EVENT_TYPES = set(EventType.values)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


class _Invalid(Exception):
    pass


def _require_str(raw: dict, name: str, max_len: int) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{name}: required, a non-empty string")
    if len(value) > max_len:
        raise _Invalid(f"{name}: at most {max_len} characters")
    return value


def _parse_event(raw: Any, placements: dict[str, int]) -> Event:
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
    if isinstance(variant_id, bool) or not isinstance(variant_id, int) or variant_id <= 0:
        raise _Invalid("variant_id: required, a positive integer")
    user_id = _require_str(raw, "user_id", 128)
    slug = _require_str(raw, "placement", 80)
    if slug not in placements:
        raise _Invalid(f"placement: unknown placement '{slug}'")
    position = raw.get("position", 1)
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= 1000:
        raise _Invalid("position: an integer from 1 to 1000")
    ts_raw = raw.get("ts")
    ts = parse_datetime(ts_raw) if isinstance(ts_raw, str) else None
    if ts is None or ts.tzinfo is None:
        raise _Invalid("ts: required, an ISO-8601 time with a zone, e.g. 2026-11-21T10:00:00Z")
    return Event(event_id=event_id, type=event_type, decision_id=decision_id, variant_id=variant_id,
                 user_id=user_id, placement_id=placements[slug], position=position, ts=ts)


def record_events(raw_events: list[Any], *, now: datetime | None = None) -> IngestResult:
    """Store every valid event exactly once; report duplicates and name each rejected one by index."""
    result = IngestResult()
    slugs = {e.get("placement") for e in raw_events if isinstance(e, dict) and isinstance(e.get("placement"), str)}
    placements = dict(Placement.objects.filter(slug__in=slugs).values_list("slug", "id"))
    valid: dict[str, Event] = {}
    for index, raw in enumerate(raw_events):
        try:
            event = _parse_event(raw, placements)
        except _Invalid as exc:
            result.rejected.append({"index": index, "error": str(exc)})
            continue
        if event.event_id in valid:  # repeated inside the same batch
            result.duplicates += 1
            continue
        valid[event.event_id] = event
    if valid:
        with transaction.atomic():
            # The unique constraint on event_id decides: a concurrent replay cannot slip in twice.
            before = set(Event.objects.filter(event_id__in=list(valid)).values_list("event_id", flat=True))
            Event.objects.bulk_create(list(valid.values()), ignore_conflicts=True, batch_size=500)
        stored_now = len(valid) - len(before)
        result.accepted += stored_now
        result.duplicates += len(before)
    return result
