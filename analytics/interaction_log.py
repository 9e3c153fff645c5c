"""The interaction log: decisions (what /rank served, `ranking.models.Decision`) joined with the events
clients reported on them (`analytics.models.Event`). The one place that joins the two tables.

It owns three things:

- **The enrichment rule** (`decision_enrichment`, `logged_propensity`, `decision_facts`): what an
  event copies from its decision when it is stored (assigned bucket, experiment, the propensity logged
  for its variant, segment key). Ingestion and the rollups' re-enrichment both call it.
- **The read API** (`bandit_feedback`, `impression_frame`, `served_scores`, `impressions_count`,
  `decision_sample`, `recent_feature_names`), shaped like Open Bandit Pipeline's bandit feedback: one row per logged
  impression with its context, action, position, reward and logged propensity.
- **The write services** for rows that do not come from /rank (`store_decisions`, used by the CSV
  import) and the deletion of decisions (`prune_decisions`, `delete_history`).

**Tags as served.** /rank stores each item's tags in the decision (`items[].tags`), so a variant
re-tagged later does not rewrite what its past impressions showed. Decisions stored before the tags
were kept (and imported ones) have no `tags` on their items: for those the log falls back to the
variant's current tags. The `tags_source` column says which one a row got ("served" or "current").

The feedback frame's columns (`FEEDBACK_COLUMNS`, one row per impression, most recent first):

=================  ==========================================================================
decision_id        str, the decision the impression reports on
user_id            str
features           dict, the user features the decision was made with (context, part 1)
context            dict, the request context of the decision (context, part 2)
variant_id         int, the action: the variant shown
position           int, 1-based slot it was shown in (after any client re-rank: what the user saw)
bucket             str, the assigned arm copied onto the event (see `decision_enrichment`)
experiment_id      int or None
propensity         float or None, the probability the logging policy had to show it there: the decision's
                   logged propensity when it was shown at `server_position`; None when a client re-rank
                   moved it (the policy never chose that slot for it, see "Client re-ranks")
model_version      str, the model that scored the decision ("" without one, "fallback:…")
decided_at         datetime (UTC), when the decision was made
ts                 datetime (UTC), the impression's time (client clock)
clicked            int 0/1, the reward: a click on this (decision, variant)
clicked_at         datetime (UTC) or NaT, the first click's time
converted          int 0/1, a conversion on this (decision, variant)
tags               dict, group -> values, the variant's tags as served (see above)
tags_source        "served" or "current"
served_bucket      str, the bucket that served it (differs from `bucket` when the model arm fell back)
candidates         int, the live variants the policy chose from
served_propensity  float or None, the propensity as the decision stored it, for the variant at
                   `server_position` (`propensity` is the event's copy of it, None on events stored before
                   their decision until they are re-enriched, and on moved impressions)
seq                int, the impression's storage order (the events table's id)
server_position    int, the slot the serving policy put the variant in (the decision's rank for it)
rerank             str, why a client reordered the decision's slate ("fatigue": the SDK's fatigue re-rank,
                   on every impression of a slate it reordered; "" = not reordered, or without saying why)
rerank_probability float, the probability of the shown order given the decision's (1.0 when not moved and
                   for a deterministic re-rank)
=================  ==========================================================================

**Client re-ranks.** The SDK may reorder a slate after /rank logged it (the fatigue re-rank moves variants the
user keeps ignoring behind the others; pinned variants never move). Its impressions then report the shown
`position`, and the decision keeps the order the policy chose. The policy's action is (variant,
`server_position`) and its logged propensity is exact for that action: `served_propensity` is it. For the
shown slot no exact propensity exists (the re-rank depends on the user's fatigue memory, which the policy
never saw), so `propensity` is None on a moved row. Hence the rule every consumer follows:

- a click model (training, explanations) learns the position effect from `position`, the slot the user saw,
  and weighs a row by `served_propensity`, the exact probability of the policy's choice;
- a consumer that needs the probability of a variant *at a slot* (off-policy evaluation of a rank-1 choice)
  reads (`server_position`, `served_propensity`), or (`position`, `propensity`), which simply leaves moved
  rows out; never `position` with `served_propensity`;
- position-free consumers (attribution's segment × tag weights) weigh by `served_propensity` or `propensity`.

A row is moved when `position != server_position`, whether or not the client said why (`rerank`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from creative.models import Placement, StyleVariant
from ranking.models import Decision

from .models import Event, EventKey, EventType, RollupDirty
from .segments import segment_key

# Impressions a read loads at most, the most recent first: a GET never pulls a placement's whole
# history into memory. The EBM job (a background fit) passes its own cap, KALEIDO_EBM_MAX_ROWS.
MAX_ROWS = 200_000
# A click's (or conversion's) client clock may read a little before its impression's.
_CLICK_CLOCK_SLACK = timedelta(hours=1)

FEEDBACK_COLUMNS = ("decision_id", "user_id", "features", "context", "variant_id", "position", "bucket",
                    "experiment_id", "propensity", "model_version", "decided_at", "ts", "clicked", "clicked_at",
                    "converted", "tags", "tags_source", "served_bucket", "candidates", "served_propensity",
                    "seq", "server_position", "rerank", "rerank_probability")


# --- the enrichment rule ---------------------------------------------------------------------------------


def decision_enrichment(bucket: str, assigned_bucket: str, experiment_id: int | None, features: Any, items: Any,
                        names: list[str]) -> tuple[str, int | None, dict, str]:
    """What an event copies from its decision: (bucket, experiment_id, propensity by variant, segment_key).

    The bucket is the assigned arm, not the served one: a model-bucket user served control on fallback
    stays in the model arm (intention to treat), so the split stays randomised.
    """
    propensities = {item.get("variant_id"): item.get("propensity") for item in items or []
                    if isinstance(item, dict)}
    return assigned_bucket or bucket, experiment_id, propensities, segment_key(features, names)


def logged_propensity(propensities: Mapping[Any, Any], variant_id: int) -> float | None:
    """The propensity the decision logged for the variant, when it is a positive number."""
    return _positive(propensities.get(variant_id))


def _positive(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value > 0 else None


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    """What an event is checked against and copies from its decision."""

    placement_id: int
    bucket: str  # the assigned arm (see decision_enrichment)
    experiment_id: int | None
    propensities: dict  # variant_id -> logged propensity, for every variant the decision showed
    segment_key: str
    ranks: dict = field(default_factory=dict)  # variant_id -> the rank the decision logged for it

    def mismatch(self, *, placement_id: int, variant_id: int) -> str | None:
        """Why an event for (placement, variant) cannot belong to this decision, or None when it can."""
        if placement_id != self.placement_id:
            return "placement: differs from the placement of its decision"
        if variant_id not in self.propensities:
            return "variant_id: not among the items its decision showed"
        return None


def decision_ranks(items: Any) -> dict[Any, int]:
    """variant_id -> the rank a decision's items logged for it (items without a rank are left out)."""
    return {item.get("variant_id"): int(item["rank"]) for item in items or []
            if isinstance(item, dict) and isinstance(item.get("rank"), int) and not isinstance(item["rank"], bool)}


def server_cursor() -> Any:
    """A psycopg cursor with server-side parameter binding on Django's connection (same transaction).

    Django's cursors bind parameters client-side, quoting every array element in Python; sending the
    arrays as parameters is several times faster for a 1000-event batch.
    """
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def decision_facts(ids: set[uuid.UUID]) -> dict[uuid.UUID, DecisionFacts]:
    """The stored decisions among `ids`, as events need them (one query)."""
    if not ids:
        return {}
    names = list(settings.KALEIDO_ROLLUP_SEGMENTS)
    found: Iterable[Sequence[Any]]
    if connection.vendor == "postgresql":
        with server_cursor() as cursor:
            cursor.execute("SELECT decision_id, placement_id, bucket, assigned_bucket, experiment_id, features, items "
                           "FROM ranking_decision WHERE decision_id = ANY(%s)", [list(ids)])
            found = cursor.fetchall()
    else:
        found = Decision.objects.filter(decision_id__in=ids).values_list(
            "decision_id", "placement_id", "bucket", "assigned_bucket", "experiment_id", "features", "items")
    facts = {}
    for decision_id, placement_id, bucket, assigned, experiment_id, features, items in found:
        if isinstance(features, str):  # Django's connection hands jsonb back as text
            features, items = json.loads(features), json.loads(items)
        arm, experiment_id, propensities, key = decision_enrichment(bucket, assigned, experiment_id, features,
                                                                    items, names)
        facts[decision_id] = DecisionFacts(placement_id, arm, experiment_id, propensities, key, decision_ranks(items))
    return facts


def reenrich_events(placement_id: int, start: datetime, end: datetime) -> int:
    """Fill bucket/experiment/propensity/segment on events stored before their decision (rows written
    before late events were held in `LateEvent`; new rows are stored with their decision's fields).
    Returns how many events were filled."""
    missing = list(Event.objects.filter(placement_id=placement_id, ts__gte=start, ts__lt=end,
                                        decision_id__isnull=False, bucket="")
                   .values_list("id", "ts", "decision_id", "variant_id")[:50_000])
    if not missing:
        return 0
    names = list(settings.KALEIDO_ROLLUP_SEGMENTS)
    decisions = {decision_id: decision_enrichment(bucket, assigned, experiment_id, features, items, names)
                 for decision_id, bucket, assigned, experiment_id, features, items
                 in Decision.objects.filter(decision_id__in={m[2] for m in missing}).values_list(
                     "decision_id", "bucket", "assigned_bucket", "experiment_id", "features", "items")
                 if bucket}
    fixed = 0
    for event_pk, ts, decision_id, variant_id in missing:
        found = decisions.get(decision_id)
        if found is None:
            continue
        bucket, experiment_id, propensities, key = found
        Event.objects.filter(id=event_pk, ts=ts).update(
            bucket=bucket, experiment_id=experiment_id, propensity=logged_propensity(propensities, variant_id),
            segment_key=key)
        fixed += 1
    return fixed


# --- the read API ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BanditFeedback:
    """Logged bandit feedback of one read: `frame` holds one row per impression (FEEDBACK_COLUMNS, most
    recent first); the accessors give Open Bandit Pipeline's arrays. Treat the frame as read-only."""

    frame: pd.DataFrame
    placement: str | None
    buckets: tuple[str, ...]
    since: datetime | None
    until: datetime | None
    capped: bool  # `limit` rows were read: older impressions exist and were left out

    @property
    def n_rounds(self) -> int:
        return int(len(self.frame))

    @property
    def action(self) -> np.ndarray:
        return self.frame["variant_id"].to_numpy(dtype=np.int64)

    @property
    def position(self) -> np.ndarray:
        return self.frame["position"].to_numpy(dtype=np.int64)

    @property
    def server_position(self) -> np.ndarray:
        """The slot the serving policy chose (differs from `position` where a client re-rank moved it)."""
        return self.frame["server_position"].to_numpy(dtype=np.int64)

    @property
    def served_pscore(self) -> np.ndarray:
        """The logged propensity of the policy's action (variant at `server_position`); NaN where none."""
        return self.frame["served_propensity"].astype(float).to_numpy()

    @property
    def reward(self) -> np.ndarray:
        """Clicks (0/1)."""
        return self.frame["clicked"].to_numpy(dtype=np.int64)

    @property
    def conversion(self) -> np.ndarray:
        return self.frame["converted"].to_numpy(dtype=np.int64)

    @property
    def pscore(self) -> np.ndarray:
        """Propensities of each variant at its shown `position`; NaN where the decision logged none or a
        client re-rank moved it."""
        return self.frame["propensity"].astype(float).to_numpy()

    @property
    def context(self) -> list[dict[str, Any]]:
        """User features plus request-context keys prefixed `ctx.`, as the ranker reads them."""
        return [{**(f or {}), **{f"ctx.{k}": v for k, v in (c or {}).items()}}
                for f, c in zip(self.frame["features"], self.frame["context"], strict=True)]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _json_once() -> Any:
    """`_json` decoding each distinct text once: rows with the same text (a user's features on each of their
    decisions, a one-item slate) share one decoded object, so a reader can also work once per distinct dict
    (attribution does). The frame is read-only, so sharing is safe."""
    decoded: dict[str, Any] = {}

    def load(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        found = decoded.get(value)
        if found is None:
            found = decoded[value] = json.loads(value)
        return found

    return load


def _time(value: Any) -> datetime:
    return parse_datetime(value) if isinstance(value, str) else value


def bandit_feedback(*, placement: Placement | None = None, placement_ids: Sequence[int] | None = None,
                    buckets: Sequence[str] = ("random",), days: int | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int | None = MAX_ROWS, times: bool = True) -> BanditFeedback:
    """Logged impressions of a placement (or of `placement_ids`, or of every placement) joined with their
    decisions and rewards.

    Window: impressions with `since <= ts < until` (`days` sets `since` to that many days ago); `buckets`
    empty reads every bucket. At most `limit` impressions (None: all), the most recent; the clicks and
    conversions read are those from the oldest of them on (less a clock slack).

    `times=False` is the lean read for readers that never look at when things happened (attribution):
    `decided_at`, `ts` and `clicked_at` are NaT, every other column is as with `times=True`. Turning each
    timestamp into a datetime was a third of a 1 M-event grid's read.
    """
    if days and since is None:
        since = timezone.now() - timedelta(days=days)
    ops = connection.ops
    where = "e.type = 'impression'"
    params: list[Any] = []
    ids = [placement.id] if placement is not None else list(placement_ids) if placement_ids is not None else None
    if ids is not None:
        where += f" AND e.placement_id IN ({', '.join(['%s'] * len(ids))})" if ids else " AND 1 = 0"
        params += ids
    if since is not None:
        where += " AND e.ts >= %s"
        params.append(ops.adapt_datetimefield_value(since))
    if until is not None:
        where += " AND e.ts < %s"
        params.append(ops.adapt_datetimefield_value(until))
    if buckets:
        where += f" AND e.bucket IN ({', '.join(['%s'] * len(buckets))})"
        params += list(buckets)
    decided_at = "d.created_at" if times else "NULL"
    sql = ("SELECT e.decision_id, e.user_id, d.features, d.context, e.variant_id, e.position, e.bucket, "  # noqa: S608
           f"e.experiment_id, e.propensity, d.model_version, {decided_at}, e.ts, d.items, d.bucket, d.candidates, e.id, "
           "e.rerank, e.rerank_probability "
           "FROM analytics_event e JOIN ranking_decision d ON d.decision_id = e.decision_id "
           f"WHERE {where} ORDER BY e.ts DESC" + (" LIMIT %s" if limit is not None else ""))
    with connection.cursor() as cursor:
        if not times and connection.vendor == "postgresql":  # e.ts comes back as text; only the oldest is parsed
            from psycopg.types.string import TextLoader

            cursor.cursor.adapters.register_loader("timestamptz", TextLoader)
        cursor.execute(sql, [*params] + ([limit] if limit is not None else []))
        rows = cursor.fetchall()
        rewards_since = since
        capped = limit is not None and bool(rows) and len(rows) >= limit
        if capped:  # clicks well before the oldest impression read cannot match
            oldest = _time(rows[-1][11]) - _CLICK_CLOCK_SLACK
            rewards_since = max(since, oldest) if since is not None else oldest
        reward_where = "type IN ('click', 'conversion')"
        reward_params: list[Any] = []
        if ids is not None:
            reward_where += f" AND placement_id IN ({', '.join(['%s'] * len(ids))})" if ids else " AND 1 = 0"
            reward_params += ids
        if rewards_since is not None:
            reward_where += " AND ts >= %s"
            reward_params.append(ops.adapt_datetimefield_value(rewards_since))
        first_ts = "MIN(ts)" if times else "NULL"
        cursor.execute(f"SELECT decision_id, variant_id, type, {first_ts} FROM analytics_event "  # noqa: S608
                       f"WHERE {reward_where} GROUP BY decision_id, variant_id, type", reward_params)
        clicked: dict[tuple[str, int], datetime | None] = {}
        converted: set[tuple[str, int]] = set()
        for decision_id, variant_id, kind, first in cursor.fetchall():
            key = (str(decision_id), int(variant_id))
            if kind == EventType.CLICK:
                clicked[key] = _time(first) if times else None
            else:
                converted.add(key)
    frame = _feedback_frame(rows, clicked, converted, times=times)
    return BanditFeedback(frame=frame, placement=placement.slug if placement is not None else None,
                          buckets=tuple(buckets), since=since, until=until, capped=capped)


# One tuple per logged impression in `training_impressions` chunks.
TRAINING_COLUMNS = ("decision_id", "features", "context", "variant_id", "position", "decided_at", "served_bucket",
                    "served_propensity", "candidates", "seq", "clicked")


def training_impressions(*, placement_ids: Sequence[int] | None = None, decided_until: datetime | None = None,
                         limit: int | None = None, chunk_rows: int = 50_000) -> Iterator[list[tuple]]:
    """Logged impressions (of `placement_ids`, or of every placement) with their decision and click, in
    chunks of at most `chunk_rows` tuples (TRAINING_COLUMNS: decision_id a UUID, features and context dicts,
    decided_at aware, served_propensity as in FEEDBACK_COLUMNS, clicked 0/1: any click on the (decision,
    variant)), the most recent impression first; only decisions made at or before `decided_until`; at most
    `limit` impressions (None: all). Repeated impressions of a variant in one decision all come back (`seq`
    tells them apart).

    Memory is one chunk: PostgreSQL reads through a named (server-side) cursor inside a transaction, which
    works behind PgBouncer in transaction mode (no WITH HOLD). The clicks are joined in the same query (one
    pass over the click events, hashed by the database), not held per impression in Python.
    """
    where = "e.type = 'impression'"
    params: list[Any] = []
    ids = list(placement_ids) if placement_ids is not None else None
    clicks = "type = 'click'"
    if ids is not None:
        among = f"placement_id IN ({', '.join(['%s'] * len(ids))})" if ids else "1 = 0"
        clicks += f" AND {among}"
        where += f" AND e.{among}"
        params += ids + ids
    postgres = connection.vendor == "postgresql"
    if decided_until is not None:
        where += " AND d.created_at <= %s"
        params.append(decided_until if postgres else connection.ops.adapt_datetimefield_value(decided_until))
    sql = ("SELECT e.decision_id, d.features, d.context, e.variant_id, e.position, d.created_at, d.items, "  # noqa: S608
           "d.bucket, d.candidates, e.id, c.decision_id IS NOT NULL FROM analytics_event e "
           "JOIN ranking_decision d ON d.decision_id = e.decision_id "
           f"LEFT JOIN (SELECT decision_id, variant_id FROM analytics_event WHERE {clicks} "
           "GROUP BY decision_id, variant_id) c ON c.decision_id = e.decision_id AND c.variant_id = e.variant_id "
           f"WHERE {where} ORDER BY e.ts DESC, e.id DESC" + (" LIMIT %s" if limit is not None else ""))
    params += [limit] if limit is not None else []
    with transaction.atomic():
        if postgres:
            connection.ensure_connection()
            with connection.cursor() as settings_cursor:
                # A cursor is planned for its first 10% of rows by default: at 10 M impressions that hash-joins
                # every impression with every full decision row and sorts them all on disk to keep the
                # newest 300,000 (40 minutes, 9 GB of temporary files). Planned for all its rows, as the
                # plain query is, it sorts the narrow impression rows and fetches the kept decisions by key.
                # Local to this transaction (set_config(..., true)), so PgBouncer's transaction mode keeps it.
                settings_cursor.execute("SELECT set_config('cursor_tuple_fraction', '1.0', true)")
            with connection.connection.cursor(name=f"training_{uuid.uuid4().hex}") as cursor:
                cursor.itersize = chunk_rows
                cursor.execute(sql, params)
                while rows := cursor.fetchmany(chunk_rows):
                    yield _training_chunk(rows)
        else:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                while rows := cursor.fetchmany(chunk_rows):
                    yield _training_chunk(rows)


def _training_chunk(rows: list[tuple]) -> list[tuple]:
    import orjson

    def parse(value: Any) -> Any:
        if not isinstance(value, str | bytes):
            return value
        try:
            return orjson.loads(value)  # several times json's speed; the same types
        except orjson.JSONDecodeError:  # an integer beyond 64 bits
            return json.loads(value)

    out = []
    for row in rows:
        variant_id = int(row[3])
        item = next((it for it in parse(row[6]) or [] if isinstance(it, dict) and it.get("variant_id") == variant_id),
                    None)
        decision_id = row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0]))
        out.append((decision_id, parse(row[1]) or {}, parse(row[2]) or {}, variant_id, int(row[4]), _aware(row[5]),
                    row[7], _positive(item.get("propensity")) if item is not None else None, int(row[8] or 0),
                    int(row[9]), int(bool(row[10]))))
    return out


def _aware(value: Any) -> datetime:
    moment = _time(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite: naive UTC text


def _placement_clause(placement_ids: Sequence[int] | None, params: list[Any]) -> str:
    """" AND e.placement_id IN (…)" for the given placements (appending them to params); "" for all."""
    if placement_ids is None:
        return ""
    ids = list(placement_ids)
    params += ids
    return f" AND e.placement_id IN ({', '.join(['%s'] * len(ids))})" if ids else " AND 1 = 0"


def young_impressions_count(*, placement_ids: Sequence[int] | None = None, decided_after: datetime) -> int:
    """Distinct (decision, variant) impressions of decisions made after `decided_after`: the rows training
    leaves out while their clicks may still arrive."""
    where = "e.type = 'impression' AND d.created_at > %s"
    params: list[Any] = [connection.ops.adapt_datetimefield_value(decided_after)]
    where += _placement_clause(placement_ids, params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM (SELECT DISTINCT e.decision_id, e.variant_id FROM analytics_event e "  # noqa: S608
                       f"JOIN ranking_decision d ON d.decision_id = e.decision_id WHERE {where}) AS young", params)
        return int(cursor.fetchone()[0])


def impressions_available(*, placement_ids: Sequence[int] | None = None, decided_until: datetime | None = None) -> int:
    """Logged impressions with a stored decision made at or before `decided_until` (every one when None)."""
    where, params = "e.type = 'impression'", list[Any]()
    if decided_until is not None:
        where += " AND d.created_at <= %s"
        params.append(connection.ops.adapt_datetimefield_value(decided_until))
    where += _placement_clause(placement_ids, params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM analytics_event e JOIN ranking_decision d "  # noqa: S608
                       f"ON d.decision_id = e.decision_id WHERE {where}", params)
        return int(cursor.fetchone()[0])


def _feedback_frame(rows: list[tuple], clicked: dict[tuple[str, int], datetime | None],
                    converted: set[tuple[str, int]], *, times: bool = True) -> pd.DataFrame:
    if not rows:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in FEEDBACK_COLUMNS})
        return empty.astype({"clicked": int, "converted": int})
    served: list[dict | None] = []
    served_propensity: list[float | None] = []
    server_position: list[int] = []
    load_items = _json_once()
    for row in rows:
        items = load_items(row[12]) or []
        variant_id = row[4]
        item = next((it for it in items if isinstance(it, dict) and it.get("variant_id") == variant_id), None)
        tags = item.get("tags") if item is not None else None
        served.append(tags if isinstance(tags, dict) else None)
        served_propensity.append(_positive(item.get("propensity")) if item is not None else None)
        # A decision item without a rank (none are stored so today) counts as shown where it was logged.
        server_position.append(decision_ranks([item]).get(variant_id, row[5]) if item is not None else row[5])
    frame = pd.DataFrame.from_records([r[:12] for r in rows], columns=list(FEEDBACK_COLUMNS[:12]))
    frame["served_bucket"] = [r[13] for r in rows]
    frame["candidates"] = [r[14] for r in rows]
    frame["served_propensity"] = served_propensity
    frame["seq"] = [r[15] for r in rows]
    frame["server_position"] = server_position
    frame["rerank"] = [r[16] or "" for r in rows]
    frame["rerank_probability"] = [float(r[17]) if r[17] is not None else 1.0 for r in rows]
    # The logged propensity is the policy's for the slot it chose; a row shown elsewhere has none for its slot.
    moved = frame["position"].to_numpy() != frame["server_position"].to_numpy()
    if moved.any():
        frame.loc[moved, "propensity"] = np.nan
    frame["decision_id"] = frame["decision_id"].map(str)
    keys = list(zip(frame["decision_id"], frame["variant_id"].map(int), strict=True))
    frame["clicked"] = [int(k in clicked) for k in keys]
    if times:
        frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)  # SQLite hands back text
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["clicked_at"] = pd.to_datetime([clicked.get(k) for k in keys], utc=True)
    else:
        for column in ("decided_at", "ts", "clicked_at"):
            frame[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    frame["converted"] = [int(k in converted) for k in keys]
    for column in ("features", "context"):
        load = _json_once()
        frame[column] = [load(f) or {} for f in frame[column]]
    missing = {int(v) for v, t in zip(frame["variant_id"], served, strict=True) if t is None}
    current = current_tags(missing)
    frame["tags"] = [t if t is not None else current.get(int(v)) or {}
                     for v, t in zip(frame["variant_id"], served, strict=True)]
    frame["tags_source"] = ["served" if t is not None else "current" for t in served]
    return frame[list(FEEDBACK_COLUMNS)]


def impression_frame(*, placement: Placement | None, buckets: Sequence[str] = ("random",),
                     days: int | None = None, limit: int = MAX_ROWS, times: bool = True) -> pd.DataFrame:
    """`bandit_feedback(...).frame`: one row per logged impression (FEEDBACK_COLUMNS)."""
    return bandit_feedback(placement=placement, buckets=buckets, days=days, limit=limit, times=times).frame


def current_tags(variant_ids: Iterable[Any]) -> dict[int, dict[str, list[str]]]:
    """Each variant's tags as they are now (for decisions stored without the tags they served)."""
    ids = {int(v) for v in variant_ids}
    if not ids:
        return {}
    return {pk: tags or {} for pk, tags in StyleVariant.objects.filter(id__in=ids).values_list("id", "tags")}


def served_tags_by_variant(frame: pd.DataFrame) -> dict[int, dict[str, list[str]]]:
    """One tag set per variant of a feedback frame: the most recent impression's served tags."""
    out: dict[int, dict[str, list[str]]] = {}
    for variant_id, tags in zip(frame["variant_id"], frame["tags"], strict=True):
        out.setdefault(int(variant_id), tags or {})
    return out


def served_scores(*, model_version: str, bucket: str = "model",
                  limit: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """(score, clicked) of each impression of the `limit` most recent decisions `model_version` scored in
    `bucket`: what the model predicted for what it served, and what happened."""
    decisions = list(Decision.objects.filter(model_version=model_version, bucket=bucket)
                     .order_by("-created_at").values_list("decision_id", "items")[:limit])
    if not decisions:
        return np.array([], dtype=float), np.array([], dtype=bool)
    scores: dict[tuple[str, int], float] = {}
    for decision_id, items in decisions:
        for item in items or []:
            score = item.get("score")
            if isinstance(score, int | float):
                scores[(str(decision_id), int(item["variant_id"]))] = float(score)
    ids = [d for d, _ in decisions]
    seen: set[tuple[str, int]] = set()
    clicked: set[tuple[str, int]] = set()
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        for decision_id, variant_id, kind in Event.objects.filter(
                decision_id__in=chunk, type__in=[EventType.IMPRESSION, EventType.CLICK]
        ).values_list("decision_id", "variant_id", "type"):
            key = (str(decision_id), int(variant_id))
            (seen if kind == EventType.IMPRESSION else clicked).add(key)
    keys = [k for k in seen if k in scores]
    return np.array([scores[k] for k in keys], dtype=float), np.array([k in clicked for k in keys], dtype=bool)


def impressions_count(*, placement_id: int, decided_after: datetime | None = None) -> int:
    """Impressions logged on a placement's decisions made after `decided_after` (all of them when None)."""
    decisions = Decision.objects.filter(placement_id=placement_id)
    if decided_after is not None:
        decisions = decisions.filter(created_at__gt=decided_after)
    return Event.objects.filter(placement_id=placement_id, type=EventType.IMPRESSION,
                                decision_id__in=decisions.values("decision_id")).count()


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """One stored decision, as the logging-health checks read it."""

    bucket: str
    candidates: int
    items: list[dict[str, Any]]


def decision_sample(*, experiment_id: int, limit: int) -> list[LoggedDecision]:
    """The `limit` most recent decisions of an experiment."""
    rows = (Decision.objects.filter(experiment_id=experiment_id).order_by("-created_at")
            .values_list("bucket", "candidates", "items")[:limit])
    return [LoggedDecision(bucket, candidates, items or []) for bucket, candidates, items in rows]


# The propensity check of `analytics.experiments.propensity_checks`, item by item in the database: a decision
# is valid when its items are a non-empty list of objects whose propensity is a number (JSON true and false
# read as 1 and 0, as Python reads them) in (0, 1 + 1e-9]; in the random bucket 1 or 1/candidates; in
# control 1. Numbers beyond a double's range are clamped to where Python's float lands them.
_PROPENSITY_CHECK_SQL = """
WITH sample AS (
    SELECT bucket, candidates, items FROM ranking_decision WHERE experiment_id = %s
    ORDER BY created_at DESC LIMIT %s
), checked AS (
    SELECT bucket, (jsonb_typeof(items) = 'array' AND jsonb_array_length(items) > 0 AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(items) AS e(item)
        CROSS JOIN LATERAL (SELECT CASE
            WHEN jsonb_typeof(item) <> 'object' THEN NULL
            WHEN item->'propensity' = 'true'::jsonb THEN 1::float8
            WHEN item->'propensity' = 'false'::jsonb THEN 0::float8
            WHEN jsonb_typeof(item->'propensity') <> 'number' THEN NULL
            WHEN abs((item->>'propensity')::numeric) > 1e300 THEN sign((item->>'propensity')::numeric) * 'Infinity'::float8
            WHEN (item->>'propensity')::numeric <> 0 AND abs((item->>'propensity')::numeric) < 1e-300
                THEN sign((item->>'propensity')::numeric) * 1e-300::float8
            ELSE (item->>'propensity')::float8 END AS p) AS q
        WHERE q.p IS NULL OR NOT (q.p > 0 AND q.p <= 1::float8 + 1e-9::float8)
            OR (bucket = 'random' AND COALESCE(candidates, 0) <> 0
                AND NOT (abs(q.p - 1::float8) < 1e-9::float8 OR abs(q.p * candidates - 1::float8) < 1e-6::float8))
            OR (bucket = 'control' AND abs(q.p - 1::float8) > 1e-9::float8))) AS ok
    FROM sample
)
SELECT bucket, COUNT(*), SUM(CASE WHEN ok THEN 1 ELSE 0 END) FROM checked GROUP BY bucket
"""


def propensity_check_counts(*, experiment_id: int, limit: int) -> dict[str, tuple[int, int]] | None:
    """(decisions checked, decisions valid) per bucket among the `limit` most recent decisions of an
    experiment, checked by PostgreSQL without reading the decisions out; None on other databases (read
    `decision_sample` and check them in Python)."""
    from kaleido.db_router import read_alias

    reading = connections[read_alias()]
    if reading.vendor != "postgresql":
        return None
    with reading.cursor() as cursor:
        cursor.execute(_PROPENSITY_CHECK_SQL, [experiment_id, limit])
        return {bucket: (int(checked), int(valid)) for bucket, checked, valid in cursor.fetchall()}


def recent_feature_names(*, limit: int = 500) -> list[str]:
    """User feature names as clients send them, from the `limit` most recent decisions."""
    names: set[str] = set()
    for row in Decision.objects.order_by("-created_at").values_list("features", flat=True)[:limit]:
        if isinstance(row, dict):
            names.update(str(k) for k in row)
    return sorted(names)


# --- write services --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision that did not come from /rank (an imported row): what it showed and to whom."""

    decision_id: uuid.UUID
    placement_id: int
    user_id: str
    features: dict[str, Any]
    bucket: str
    created_at: datetime
    candidates: int
    model_version: str
    items: list[dict[str, Any]]
    historical: bool = False


def store_decisions(records: Sequence[DecisionRecord]) -> None:
    """Store decisions; one already stored (same decision_id) is left as it is."""
    Decision.objects.bulk_create([
        Decision(decision_id=r.decision_id, placement_id=r.placement_id, user_id=r.user_id, features=r.features,
                 bucket=r.bucket, assigned_bucket=r.bucket, created_at=r.created_at, candidates=r.candidates,
                 model_version=r.model_version, historical=r.historical, items=r.items)
        for r in records], batch_size=1000, ignore_conflicts=True)


DECISION_DELETE_CHUNK = 10_000  # decisions per DELETE: each statement stays well inside statement_timeout


def prune_decisions(*, before: datetime, chunk: int = DECISION_DELETE_CHUNK) -> int:
    """Delete decisions made before `before`, except imported history, `chunk` at a time; returns how many."""
    deleted = 0
    while True:
        ids = list(Decision.objects.filter(created_at__lt=before, historical=False)
                   .values_list("decision_id", flat=True)[:chunk])
        if not ids:
            return deleted
        count, _ = Decision.objects.filter(decision_id__in=ids).delete()
        deleted += count


@dataclass(frozen=True)
class PruneResult:
    decisions: int
    events: int
    keys: int


@transaction.atomic
def delete_history(*, placement: Placement, before: date | None = None) -> PruneResult:
    """Delete a placement's imported history (all of it, or the days before `before`): decisions, events
    and idempotency keys marked historical. Live traffic is never touched. The days it empties are
    marked for a rollup recount."""
    events = Event.objects.filter(placement=placement, historical=True)
    decisions = Decision.objects.filter(placement=placement, historical=True)
    if before is not None:
        cutoff = datetime.combine(before, datetime.min.time(), tzinfo=UTC)
        events, decisions = events.filter(ts__lt=cutoff), decisions.filter(created_at__lt=cutoff)
    days = {moment.date() for moment in events.datetimes("ts", "day", tzinfo=UTC)}
    deleted_keys = EventKey.objects.filter(historical=True, event_id__in=events.values("event_id")).delete()[0]
    deleted_events = events.delete()[0]
    deleted_decisions = decisions.delete()[0]
    RollupDirty.objects.bulk_create([RollupDirty(placement_id=placement.id, day=d) for d in sorted(days)])
    return PruneResult(decisions=deleted_decisions, events=deleted_events, keys=deleted_keys)
