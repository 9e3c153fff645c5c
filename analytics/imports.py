"""Bulk import of historical impressions: each CSV row becomes a decision and its events, the same rows
live traffic leaves, so training, reports and attribution read history and live data alike.

Rows older than the event retention window (KALEIDO_EVENT_RETENTION_DAYS) are refused, since the
retention job would delete them at its next run, unless the import is `historical`: then every row of
the file is stored marked as imported history (`historical` on its decision, events and idempotency
keys), the retention job leaves those rows alone, and `prune_history` is how an operator deletes them.
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from creative.models import Placement, StyleVariant, VariantStatus
from ranking.buckets import BUCKETS

from . import interaction_log, partitions
from .ingestion import record_events
from .interaction_log import DecisionRecord, PruneResult
from .models import Event, EventKey

REQUIRED = ("user_id", "variant_key", "clicked")
OPTIONAL = ("converted", "bucket", "propensity", "position", "ts")
_NAMESPACE = uuid.UUID("5b0f0c4e-8d7a-4f0e-9a43-6c1f7a2d9e11")


class ImportFailed(Exception):
    """The file was not imported; `errors` names each bad line and column."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    impressions: int
    clicks: int
    conversions: int
    duplicates: int


def _feature_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _flag(value: str | None, column: str, errors: list[str], where: str) -> bool:
    value = (value or "").strip()
    if value in ("", "0"):
        if column == "clicked" and value == "":
            errors.append(f"{where}, column {column}: required, 0 or 1")
        return False
    if value == "1":
        return True
    errors.append(f"{where}, column {column}: must be 0 or 1, got {value!r}")
    return False


@transaction.atomic
def import_impressions(*, placement: Placement, file: IO[str], now: datetime | None = None,
                       historical: bool = False) -> ImportResult:
    """Validate the whole file first; import all of it or nothing (ImportFailed lists every problem).

    `historical` accepts rows older than the retention window and marks every row as imported history.
    """
    now = now or timezone.now()
    oldest = now - timedelta(days=settings.KALEIDO_EVENT_RETENTION_DAYS)
    reader = csv.DictReader(file)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL and not h.startswith("feature:")]
    if missing or unknown:
        problems = [f"line 1: missing column {c}" for c in missing]
        problems += [f"line 1, column {c}: unknown (expected {', '.join(REQUIRED + OPTIONAL)} or feature:<name>)"
                     for c in unknown]
        raise ImportFailed(problems)
    variants = dict(StyleVariant.objects.filter(placement=placement).values_list("variant_key", "id"))
    live = StyleVariant.objects.filter(placement=placement, status=VariantStatus.LIVE, blocked=False).count()
    errors: list[str] = []
    decisions: list[DecisionRecord] = []
    events: list[dict] = []
    clicks = conversions = 0
    for raw in reader:
        row = {(k or "").strip(): (v or "") for k, v in raw.items()}
        where = f"line {reader.line_num}"
        user_id = row["user_id"].strip()
        if not user_id or len(user_id) > 128:
            errors.append(f"{where}, column user_id: required, at most 128 characters")
        key = row["variant_key"].strip()
        variant_id = variants.get(key)
        if variant_id is None:
            errors.append(f"{where}, column variant_key: no variant '{key}' on {placement.slug}")
        clicked = _flag(row.get("clicked"), "clicked", errors, where)
        converted = _flag(row.get("converted"), "converted", errors, where)
        bucket = row.get("bucket", "").strip() or "control"
        if bucket not in BUCKETS:
            errors.append(f"{where}, column bucket: one of {', '.join(BUCKETS)}")
        propensity_text = row.get("propensity", "").strip()
        if propensity_text:
            try:
                propensity = float(propensity_text)
                if not 0 < propensity <= 1:
                    raise ValueError
            except ValueError:
                errors.append(f"{where}, column propensity: a number in (0, 1]")
                propensity = 1.0
        else:
            propensity = 1.0 / live if bucket == "random" and live else 1.0
        position_text = row.get("position", "").strip() or "1"
        position = int(position_text) if position_text.isdigit() else 0
        if not 1 <= position <= 1000:
            errors.append(f"{where}, column position: an integer from 1 to 1000")
        ts_text = row.get("ts", "").strip()
        try:
            ts = parse_datetime(ts_text) if ts_text else now
        except ValueError:
            ts = None
        if ts is None:
            errors.append(f"{where}, column ts: an ISO-8601 time, e.g. 2026-11-21T10:00:00Z")
            ts = now
        elif ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        if ts < oldest and not historical:
            errors.append(f"{where}, column ts: older than the {settings.KALEIDO_EVENT_RETENTION_DAYS}-day event "
                          "retention window; import with --historical to keep it as imported history")
        features = {k.removeprefix("feature:"): _feature_value(v) for k, v in row.items()
                    if k.startswith("feature:") and v.strip()}
        if errors and len(errors) > 200:
            break
        # Deterministic ids: importing the same file twice stores it once.
        digest = hashlib.sha256(f"{placement.slug}|{reader.line_num}|{user_id}|{key}|{ts.isoformat()}".encode())
        decision_id = uuid.uuid5(_NAMESPACE, digest.hexdigest())
        decisions.append(DecisionRecord(decision_id=decision_id, placement_id=placement.id, user_id=user_id,
                                        features=features, bucket=bucket, created_at=ts, candidates=live,
                                        model_version="import", historical=historical,
                                        items=[{"variant_id": variant_id, "rank": position, "score": None,
                                                "propensity": propensity}]))
        base = {"decision_id": str(decision_id), "variant_id": variant_id, "user_id": user_id,
                "placement": placement.slug, "position": position,
                "ts": ts.isoformat()}
        events.append({"event_id": f"imp-{decision_id.hex}", "type": "impression", **base})
        if clicked:
            clicks += 1
            events.append({"event_id": f"clk-{decision_id.hex}", "type": "click", **base})
        if converted:
            conversions += 1
            events.append({"event_id": f"cnv-{decision_id.hex}", "type": "conversion", **base})
    if errors:
        raise ImportFailed(errors)
    if decisions:
        days = [d.created_at.astimezone(UTC).date() for d in decisions]
        partitions.ensure_partitions_for_range(first=min(days), last=max(days))
    interaction_log.store_decisions(decisions)
    accepted = duplicates = 0
    for start in range(0, len(events), 1000):
        chunk = events[start:start + 1000]
        result = record_events(chunk, now=now, historical=historical)
        if result.rejected:
            first = result.rejected[0]
            raise ImportFailed([f"event {start + first['index'] + 1}: {first['error']}"])
        if historical:
            _mark_historical(placement, chunk)
        accepted += result.accepted
        duplicates += result.duplicates
    return ImportResult(impressions=len(decisions), clicks=clicks, conversions=conversions, duplicates=duplicates)


def _mark_historical(placement: Placement, events: list[dict]) -> None:
    """Mark just-stored events and their keys as imported history (same transaction as the insert)."""
    ids = [e["event_id"] for e in events]
    times = [datetime.fromisoformat(e["ts"]) for e in events]
    # Bounded by placement and time, so PostgreSQL reads only the partitions of those days.
    Event.objects.filter(placement=placement, ts__gte=min(times), ts__lte=max(times), event_id__in=ids,
                         historical=False).update(historical=True)
    EventKey.objects.filter(event_id__in=ids, historical=False).update(historical=True)


def prune_history(*, placement: Placement, before: date | None = None) -> PruneResult:
    """Delete a placement's imported history (all of it, or the days before `before`): decisions, events
    and idempotency keys marked historical. Live traffic is never touched (see
    analytics.interaction_log.delete_history)."""
    return interaction_log.delete_history(placement=placement, before=before)
