"""Scale: does a rank call, a report read and the jobs stay flat as the events table grows?

    .venv/bin/python bench/scale.py [--events 2000000] [--small 100000] [--record]

For each size (the small table first, then the large one, in the same run) it makes its own PostgreSQL
database from the migrated template, loads 30 days of history with generate_series / COPY inside the
database (never through the API): 100 placements, one of them with 1,000 live variants and a running
experiment, decisions with 50 user features (three of them high-cardinality: a per-user code, a postcode
and a device id) and their impressions and clicks; then builds the rollups the way the refresh job does and
measures, in a fresh process:

- rank p50/p99 in-process with a catalogue reload every 50 calls, and with one on every call (the worst
  case); no model is active, so this is the catalogue, bucketing and the decision INSERT, not scoring;
  and what the catalogue's former impression count (a COUNT over the placement's raw events) costs there;
- events/s ingested (record_events, batches of 1,000 on stored decisions);
- the experiment report, one attribution grid (its pooled analysis computed, then from the cache), the
  attribution snapshot job (every grid of the big placement) and grid GETs served from it, the
  dashboard selectors (meta, daily, gallery);
- the rollup refresh of one day of the big placement; the retention job dropping the two oldest days.

`--only attribution` (or any of rank, ingest, report, attribution, dashboard, refresh, retention, comma-
separated) runs just those measurements, e.g. on databases a `--keep` run loaded:
`bench/scale.py --events 1000000 --only-large --reuse --database NAME --only attribution`.

The full target of the scale issue is --events 20000000; on the shared 2-core machine the default is
2,000,000 (see bench/RESULTS.md, ## scale, for what was run and what was not reached).
"""

from __future__ import annotations

import argparse
import json
import os
import platform as stdlib_platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAYS = 30
PLACEMENTS = 100
BIG_VARIANTS = 1000
SMALL_VARIANTS = 10
FEATURES = 50
CLICK_RATE = 0.03
TAGS = {"button_color": ["red", "blue", "gold", "green"], "layout": ["single", "grid"],
        "style": ["photo", "flat", "3d"], "appeal": ["benefit", "social_proof", "urgency", "authority"]}


# --- the loader and the measurements (run inside Django, one process per size) --------------------------------

def _profiles(users: int, seed: int) -> list[tuple[int, str, str, str]]:
    """(uid, user_id, features json, segment key) per user: 47 bounded features and 3 high-cardinality ones."""
    import numpy as np

    from analytics.segments import segment_key

    rng = np.random.default_rng(seed)
    rows = []
    for uid in range(users):
        features: dict = {f"f{j:02d}": f"v{int(rng.integers(2 + j % 7))}" for j in range(40)}
        features.update({"age": int(rng.integers(18, 75)), "income": int(rng.lognormal(10, 0.6)),
                         "balance": float(round(rng.lognormal(8, 1.2), 2)), "tenure_months": int(rng.integers(0, 240)),
                         "has_credit_card": bool(rng.random() < 0.4), "is_premium": bool(rng.random() < 0.15),
                         "app_sessions_30d": int(rng.poisson(12))})
        features.update({"user_code": f"c{uid:08d}", "postcode": f"{int(rng.integers(max(users // 3, 1))):06d}",
                         "device_id": f"d{int(rng.integers(10**9)):09d}"})
        assert len(features) == FEATURES
        rows.append((uid, f"user-{uid}", json.dumps(features), segment_key(features)))
    return rows


def load_history(events: int, seed: int = 7) -> dict:
    """Placements, variants and an experiment by the ORM; decisions, events and keys by SQL in the database."""
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from analytics import partitions
    from creative.models import Placement, StyleVariant, VariantStatus
    from ranking import services

    started = time.perf_counter()
    placements = [Placement.objects.create(slug="big-banner" if i == 0 else f"card-{i:02d}", name=f"Placement {i}",
                                           width=750, height=300) for i in range(PLACEMENTS)]
    variants = []
    for i, placement in enumerate(placements):
        for k in range(BIG_VARIANTS if i == 0 else SMALL_VARIANTS):
            tags = {group: [values[(k // (j + 1)) % len(values)]] for j, (group, values) in enumerate(TAGS.items())}
            variants.append(StyleVariant(placement=placement, variant_key=f"v{k:04d}", status=VariantStatus.LIVE,
                                         tags=tags, render_spec={"layout": "single_image_text", "headline": f"H{k}",
                                                                 "cta": "Go"}))
    StyleVariant.objects.bulk_create(variants, batch_size=2000)
    experiment = services.experiment_start(slug="big-ab", placement=placements[0],
                                           buckets="control=0.2,random=0.2,model=0.6")
    impressions = int(events / (1 + CLICK_RATE))
    users = max(2000, impressions // 100)
    now = datetime.now(UTC)
    first = (now - timedelta(days=DAYS)).date()
    partitions.ensure_partitions_for_range(first=first, last=now.date() + timedelta(days=1))
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's cursor: COPY
        cursor.execute("CREATE TEMP TABLE bench_profile (uid int PRIMARY KEY, user_id text, features jsonb, "
                       "segment_key text)")
        with raw.copy("COPY bench_profile FROM STDIN") as copy:
            for row in _profiles(users, seed):
                copy.write_row(row)
        cursor.execute("CREATE TEMP TABLE bench_variant AS SELECT placement_id, "
                       "(row_number() OVER (PARTITION BY placement_id ORDER BY id) - 1)::bigint AS k, id AS variant_id "
                       "FROM creative_stylevariant")
        cursor.execute("CREATE INDEX ON bench_variant (placement_id, k)")
        cursor.execute("CREATE TEMP TABLE bench_placement AS SELECT (row_number() OVER (ORDER BY p.id) - 1)::int AS idx, "
                       "p.id AS placement_id, (SELECT count(*) FROM creative_stylevariant v WHERE v.placement_id = p.id)"
                       " AS n FROM creative_placement p")
        # One row per impression: 40 % of traffic on the big placement, the rest spread over the others;
        # times spread evenly over the 30 days; the user and variant from multiplicative hashes of i.
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_imp AS SELECT i, md5(i::text || 'd')::uuid AS decision_id, p.placement_id, "
            "v.variant_id, p.n, u.user_id, u.features, u.segment_key, "
            "%s::timestamptz + (i::float8 / %s) * interval '30 days' AS ts, "
            "CASE WHEN u.uid %% 10 < 2 THEN 'control' WHEN u.uid %% 10 < 4 THEN 'random' ELSE 'model' END AS bucket "
            "FROM generate_series(1, %s) AS i "
            "JOIN bench_placement p ON p.idx = CASE WHEN i %% 10 < 4 THEN 0 ELSE 1 + (i / 10) %% %s END "
            "JOIN bench_variant v ON v.placement_id = p.placement_id AND v.k = ((i::bigint * 7919) %% p.n) "
            "JOIN bench_profile u ON u.uid = ((i::bigint * 104729) %% %s)",
            [now - timedelta(days=DAYS), impressions, impressions, PLACEMENTS - 1, users])
        cursor.execute(
            "INSERT INTO ranking_decision (decision_id, placement_id, user_id, features, context, bucket, "
            "experiment_id, model_version, items, created_at, assigned_bucket, fallback_reason, candidates, historical) "
            "SELECT decision_id, placement_id, user_id, features, '{}'::jsonb, bucket, "
            "CASE WHEN placement_id = %s THEN %s END, '', "
            "jsonb_build_array(jsonb_build_object('variant_id', variant_id, 'rank', 1, 'score', NULL, "
            "'propensity', CASE WHEN bucket = 'random' THEN 1.0 / n ELSE 1.0 END)), ts, bucket, '', n, false "
            "FROM bench_imp", [placements[0].id, experiment.id])
        event_select = (
            "SELECT {id}, '{type}', decision_id, variant_id, user_id, placement_id, 1, ts + {later}, ts + {later}, "
            "bucket, CASE WHEN placement_id = %s THEN %s END, CASE WHEN bucket = 'random' THEN 1.0 / n ELSE 1.0 END, "
            "left(segment_key, 255), false FROM bench_imp {where}")
        columns = ("(event_id, type, decision_id, variant_id, user_id, placement_id, position, ts, received_at, "
                   "bucket, experiment_id, propensity, segment_key, historical)")
        cursor.execute(f"INSERT INTO analytics_event {columns} " + event_select.format(
            id="'i' || i", type="impression", later="interval '0 s'", where=""), [placements[0].id, experiment.id])
        # Clicks: ~3 %, a little more where the variant's first tag matches the user's first feature.
        cursor.execute(f"INSERT INTO analytics_event {columns} " + event_select.format(
            id="'c' || i", type="click", later="interval '20 s'",
            where="WHERE (i::bigint * 2654435761) %% 1000 < CASE WHEN variant_id %% 2 = "
                  "(features->>'f00' = 'v0')::int THEN 38 ELSE 22 END"), [placements[0].id, experiment.id])
        cursor.execute("INSERT INTO analytics_eventkey (event_id, ts, historical) "
                       "SELECT event_id, ts, false FROM analytics_event")
        cursor.execute("SELECT count(*) FROM analytics_event")
        stored = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_imp")
        cursor.execute("ANALYZE")
    loaded_s = time.perf_counter() - started
    started = time.perf_counter()
    from analytics.rollups import refresh_day

    for placement in placements:
        for offset in range(DAYS + 1):
            refresh_day(placement_id=placement.id, day=first + timedelta(days=offset))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM analytics_dailyrollup")
        rollup_rows = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        db_bytes = cursor.fetchone()[0]
    return {"events": stored, "decisions": impressions, "users": users, "load_s": round(loaded_s, 1),
            "rollups_all_s": round(time.perf_counter() - started, 1), "daily_rollup_rows": rollup_rows,
            "database_mb": round(db_bytes / 2**20)}


def _timed(fn, repeat: int) -> dict:
    import numpy as np

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    ms = np.array(times)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "n": repeat}


MEASUREMENTS = ("rank", "ingest", "report", "attribution", "dashboard", "refresh", "retention")


def measure(rank_calls: int, ingest_batches: int, only: tuple[str, ...] = MEASUREMENTS) -> dict:
    """The measurements named in `only` (all of them by default), in this order."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from django.conf import settings
    from django.db.models import Count

    from analytics.dashboard import selectors as dashboard_selectors
    from analytics.experiments import experiment_report
    from analytics.ingestion import record_events
    from analytics.models import Event, EventType
    from analytics.rollups import apply_retention, refresh_day
    from creative.models import Placement, StyleVariant
    from ranking import services, serving
    from ranking.models import Decision

    out: dict = {}
    big = Placement.objects.get(slug="big-banner")
    small = Placement.objects.get(slug="card-01")
    experiment = services.experiment_by_slug("big-ab")  # what the report and the dashboard read
    calls = iter(range(10**9))
    for name, placement in (("rank_big", big), ("rank_small", small)) if "rank" in only else ():
        def call(slug=placement.slug, reload_every=0):
            n = next(calls)
            if reload_every and n % reload_every == 0:
                serving._catalogues.pop(slug, None)  # what the TTL or a serving-version bump does
            serving.rank(placement=slug, user_id=f"bench-{n}", features={"age": 30, "f00": "v1"}, k=3)

        call()
        out[name] = _timed(lambda c=call: c(reload_every=50), rank_calls)  # steady, a reload every 50 calls
        settings.KALEIDO_RANK_CATALOGUE_TTL = 0.0  # every call reloads the catalogue: the worst case
        out[name + "_reload"] = _timed(call, max(rank_calls // 3, 1))
        settings.KALEIDO_RANK_CATALOGUE_TTL = 30.0
    variant_ids = list(StyleVariant.objects.filter(placement=big).values_list("id", flat=True))

    def former_count():  # what every catalogue reload ran before the running totals
        dict(Event.objects.filter(placement=big, type=EventType.IMPRESSION, variant_id__in=variant_ids)
             .values("variant_id").annotate(n=Count("id")).values_list("variant_id", "n"))

    if "rank" in only:
        out["former_catalogue_count_big"] = _timed(former_count, 5)

    recent = list(Decision.objects.filter(placement=big).order_by("-created_at")
                  .values_list("decision_id", "user_id", "items")[: ingest_batches * 1000])
    now = datetime.now(UTC)
    stored = 0
    started = time.perf_counter()
    for b in range(ingest_batches if "ingest" in only else 0):
        batch = [{"event_id": uuid.uuid4().hex, "type": "impression", "decision_id": str(d), "user_id": u,
                  "variant_id": items[0]["variant_id"], "placement": big.slug, "position": 1,
                  "ts": now.isoformat()} for d, u, items in recent[b * 1000:(b + 1) * 1000]]
        stored += record_events(batch).accepted
    elapsed = time.perf_counter() - started
    if "ingest" in only:
        out["ingest"] = {"events": stored, "events_per_s": round(stored / elapsed) if elapsed else None,
                         "batch_ms": round(elapsed / max(ingest_batches, 1) * 1000, 1)}

    if "report" in only:
        out["experiment_report"] = _timed(lambda: experiment_report(experiment=experiment, refresh=False), 3)
    if "attribution" in only:
        out.update(measure_attribution(big))
    if "dashboard" in only:
        out["dashboard_meta"] = _timed(dashboard_selectors.dashboard_meta, 5)
        out["dashboard_daily"] = _timed(lambda: dashboard_selectors.experiment_daily(experiment=experiment), 5)
        out["dashboard_gallery"] = _timed(lambda: dashboard_selectors.variant_gallery(placement=big), 5)
    if "refresh" in only:
        yesterday = (now - timedelta(days=1)).date()
        out["rollup_refresh_one_day_big"] = _timed(lambda: refresh_day(placement_id=big.id, day=yesterday), 1)
    if "retention" in only:
        started = time.perf_counter()
        result = apply_retention(days=DAYS - 2)
        out["retention"] = {"ms": round((time.perf_counter() - started) * 1000, 1),
                            "dropped_partitions": result["dropped_partitions"],
                            "deleted_decisions": result["deleted_decisions"]}
    return out


def measure_attribution(placement, repeat: int = 3) -> dict:
    """One attribution grid as an analyst first opens it (the pooled analysis not cached: each repeat
    computes it), then the same grid again with the analysis in the shared cache: the live path. Then the
    prepared answers (measure_attribution_snapshot)."""
    from analytics import attribution
    from kaleido.two_level_cache import TwoLevelCache

    def grid():
        return attribution.attribution_grid(placement=placement, segment="f01", tag_group="button_color")

    cached = attribution._analyses
    attribution._analyses = TwoLevelCache("attribution analyses (bench: none kept)", local_s=0, shared_s=None)
    try:
        answer = grid()
        uncached = _timed(grid, repeat)
    finally:
        attribution._analyses = cached
    grid()
    return {"attribution_grid": uncached, "attribution_grid_cached": _timed(grid, repeat),
            "attribution_impressions": answer["impressions"],
            "attribution_skipped": [s["feature"] for s in answer.get("skipped_features", [])],
            **measure_attribution_snapshot(placement)}


def measure_attribution_snapshot(placement, repeat: int = 40) -> dict:
    """The prepared answers: the job computing every grid of the placement (the pooled analysis not taken
    from the cache), then GETs of the API served from them, through Django's full request path (an
    analytics:read key), over several grids in turn; and the job's cheap reads (the beat's due check, one watermark)."""
    import itertools

    from django.test import Client

    from access.services import api_key_create
    from analytics import attribution, attribution_snapshots
    from analytics.models import AttributionSnapshotGrid
    from kaleido.two_level_cache import TwoLevelCache

    cached = attribution._analyses
    attribution._analyses = TwoLevelCache("attribution analyses (bench: none kept)", local_s=0, shared_s=None)
    try:
        started = time.perf_counter()
        snapshot = attribution_snapshots.compute_snapshot(placement=placement)
        compute_s = time.perf_counter() - started
    finally:
        attribution._analyses = cached
    grids = AttributionSnapshotGrid.objects.filter(snapshot=snapshot)
    pairs = list(grids.order_by("segment", "tag_group").values_list("segment", "tag_group"))
    stored_bytes = sum(len(json.dumps(answer)) for answer in grids.values_list("answer", flat=True))
    issued = api_key_create(name="bench analyst", scopes=["analytics:read"])
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
    asks = itertools.cycle(pairs[:: max(len(pairs) // 10, 1)] or [("f01", "button_color")])
    sources = []

    def get():
        segment, group = next(asks)
        response = client.get(f"/api/v1/placements/{placement.slug}/attribution",
                              {"segment": segment, "tag_group": group})
        assert response.status_code == 200, response.content[:300]
        sources.append(response.json()["source"])

    get()
    served = _timed(get, repeat)

    def service():
        segment, group = next(asks)
        attribution_snapshots.attribution_answer(placement=placement, segment=segment, tag_group=group,
                                                 buckets=["random"])

    return {"attribution_snapshot_compute": {"s": round(compute_s, 1), "job_s": snapshot.compute_seconds,
                                             "grids": len(pairs), "impressions": snapshot.impressions,
                                             "stored_kb": round(stored_bytes / 1024)},
            "attribution_grid_snapshot_http": served,
            "attribution_grid_snapshot_sources": sorted(set(sources)),
            "attribution_grid_snapshot_service": _timed(service, repeat),
            "attribution_snapshots_due_check": _timed(attribution_snapshots.placements_due, 5),
            "attribution_watermark": _timed(lambda: attribution_snapshots.data_watermark(placement.id), 5)}


# --- the orchestrator --------------------------------------------------------------------------------------------

WORKER = """
import json, sys
sys.path.insert(0, {root!r})
from bench.scale import load_history, measure
loaded = load_history({events})
print(json.dumps({{"loaded": loaded}}), flush=True)
"""

MEASURE = """
import json, sys
sys.path.insert(0, {root!r})
from bench.scale import measure
print(json.dumps({{"measured": measure({rank_calls}, {ingest_batches}, {only!r})}}), flush=True)
"""


def run_size(events: int, *, rank_calls: int, ingest_batches: int, timeout: float, database: str = "",
             redis_url: str = "", keep: bool = False, reuse: bool = False, load_only: bool = False,
             only: tuple[str, ...] = MEASUREMENTS) -> dict:
    """Load `events` into a fresh database (or, with `reuse`, one a `keep` run left) and measure it."""
    import uuid

    from tests.hardening import stack

    name = database or f"kaleido_g_scale_{events}"
    saved = Path("/tmp") / f"kaleido-scale-loaded-{name}.json"
    db = f"{stack.PG_ADMIN}/{name}" if reuse else stack.fresh_database(name)
    env = stack.app_env(db, DEBUG="0", SECRET_KEY="scale-bench-" + uuid.uuid4().hex, ALLOWED_HOSTS="127.0.0.1",
                        KALEIDO_DB_STATEMENT_TIMEOUT_S="0", KALEIDO_DECISION_LOG="direct",
                        **({"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url} if redis_url else {}))
    if reuse:
        stack.manage("migrate", "--noinput", "-v0", env=env, timeout=timeout)  # a kept database may predate one
        loaded = json.loads(saved.read_text())
    else:
        print(f"loading {events:,} events …", flush=True)
        loaded = stack.django_shell(WORKER.format(root=str(ROOT), events=events), env=env, timeout=timeout)["loaded"]
        saved.write_text(json.dumps(loaded))
    print(json.dumps(loaded), flush=True)
    if load_only:
        return {"loaded": loaded}
    if keep or reuse:
        # Measuring ingests and prunes: measure a copy, so the loaded database stays as loaded for the next run.
        stack.psql(f"DROP DATABASE IF EXISTS {name}_run WITH (FORCE)")
        stack.psql(f"CREATE DATABASE {name}_run TEMPLATE {name}", timeout=timeout)
        env = {**env, "DATABASE_URL": f"{stack.PG_ADMIN}/{name}_run"}
    measured = stack.django_shell(MEASURE.format(root=str(ROOT), rank_calls=rank_calls, ingest_batches=ingest_batches,
                                                 only=tuple(only)), env=env, timeout=timeout)["measured"]
    print(json.dumps(measured), flush=True)
    stack.psql(f"DROP DATABASE IF EXISTS {name}_run WITH (FORCE)" if keep or reuse
               else f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return {"loaded": loaded, "measured": measured}


ROWS = [("rank, 1,000-variant placement, a catalogue reload every 50 calls", "rank_big", "p50_ms", "p99_ms"),
        ("rank, 10-variant placement, a catalogue reload every 50 calls", "rank_small", "p50_ms", "p99_ms"),
        ("rank, 1,000-variant placement, a catalogue reload every call", "rank_big_reload", "p50_ms", "p99_ms"),
        ("rank, 10-variant placement, a catalogue reload every call", "rank_small_reload", "p50_ms", "p99_ms"),
        ("former catalogue count (raw COUNT of the placement's impressions)", "former_catalogue_count_big",
         "p50_ms", "p95_ms"),
        ("experiment report (rollups)", "experiment_report", "p50_ms", "p95_ms"),
        ("attribution grid (f01 × button_color, raw rows, capped; pooled analysis computed)", "attribution_grid",
         "p50_ms", "p95_ms"),
        ("attribution grid, pooled analysis from the shared cache", "attribution_grid_cached", "p50_ms", "p95_ms"),
        ("dashboard meta", "dashboard_meta", "p50_ms", "p95_ms"),
        ("dashboard experiment daily (rollups)", "dashboard_daily", "p50_ms", "p95_ms"),
        ("dashboard variant gallery, 1,000 variants (rollups)", "dashboard_gallery", "p50_ms", "p95_ms"),
        ("rollup refresh of one day, big placement", "rollup_refresh_one_day_big", "p50_ms", "p50_ms")]


def record(results: dict[int, dict], args) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    small, large = results[args.small], results[args.events]
    lines = []
    for label, key, a, b in ROWS:
        s, g = small["measured"][key], large["measured"][key]
        lines.append(f"| {label} | {s[a]} / {s[b]} | {g[a]} / {g[b]} |")
    si, gi = small["measured"]["ingest"], large["measured"]["ingest"]
    lines.append(f"| events ingested per s (batches of 1,000) | {si['events_per_s']:,} | {gi['events_per_s']:,} |")
    sr, gr = small["measured"]["retention"], large["measured"]["retention"]
    lines.append(f"| retention job, 2 oldest days (ms) | {sr['ms']} | {gr['ms']} |")
    ls, lg = small["loaded"], large["loaded"]
    section = f"""## scale

`bench/scale.py --events {args.events} --small {args.small}`: two databases in one run, each with 30 days of
history loaded by generate_series/COPY (100 placements, one with 1,000 live variants and a running experiment,
50 user features of which 3 high-cardinality), rollups built by the refresh job's own code. Milliseconds as
p50 / p99 (rank, in-process, no active model: catalogue, bucketing and the decision INSERT; scoring is
measured in ## rank) or p50 / p95 (reads, 3–5 repeats).

| measurement | {ls['events']:,} events | {lg['events']:,} events |
| --- | --- | --- |
{chr(10).join(lines)}

Loaded: {ls['events']:,} events / {ls['decisions']:,} decisions in {ls['load_s']} s, rollups {ls['rollups_all_s']} s,
{ls['daily_rollup_rows']:,} daily rollup rows, {ls['database_mb']} MB; {lg['events']:,} events / {lg['decisions']:,}
decisions in {lg['load_s']} s, rollups {lg['rollups_all_s']} s, {lg['daily_rollup_rows']:,} daily rollup rows,
{lg['database_mb']} MB. Machine: {os.cpu_count()} CPU cores ({stdlib_platform.machine()}), PostgreSQL on the same
machine, shared with other work (1-minute load average {os.getloadavg()[0]:.1f} at the end).
"""
    section += args.notes
    if re.search(r"(?m)^## scale\n", text):
        text = re.sub(r"(?ms)^## scale\n.*?(?=^## |\Z)", section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="the large table (full target: 20000000)")
    parser.add_argument("--small", type=int, default=100_000, help="the small table measured in the same run")
    parser.add_argument("--rank-calls", type=int, default=300)
    parser.add_argument("--ingest-batches", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--record", action="store_true", help="write the result to bench/RESULTS.md (## scale)")
    parser.add_argument("--notes", default="", help="text appended to the recorded section")
    parser.add_argument("--record-from", default="", help="record a saved run's JSON instead of running")
    parser.add_argument("--small-database", default="", help="the small table's database (default kaleido_g_scale_N)")
    parser.add_argument("--database", default="", help="the large table's database (default kaleido_g_scale_N)")
    parser.add_argument("--redis-url", default="", help="the Redis the measuring process uses (default the stack's)")
    parser.add_argument("--keep", action="store_true", help="keep the loaded databases (measure copies of them)")
    parser.add_argument("--reuse", action="store_true", help="measure databases a --keep run loaded, without loading")
    parser.add_argument("--only-small", action="store_true", help="load and measure the small table only")
    parser.add_argument("--only-large", action="store_true", help="load and measure the large table only")
    parser.add_argument("--load-only", action="store_true", help="load (with --keep) and measure nothing")
    parser.add_argument("--only", default=",".join(MEASUREMENTS),
                        help=f"comma-separated measurements to run (default all: {','.join(MEASUREMENTS)}); "
                             "--record needs all of them")
    args = parser.parse_args()
    only = tuple(m.strip() for m in args.only.split(",") if m.strip())
    unknown = sorted(set(only) - set(MEASUREMENTS))
    if unknown:
        parser.error(f"--only: unknown measurement(s) {', '.join(unknown)}; choose from {', '.join(MEASUREMENTS)}")
    if args.record and set(only) != set(MEASUREMENTS):
        parser.error("--record writes the whole table: run every measurement (drop --only)")
    if args.record_from:
        saved = json.loads(Path(args.record_from).read_text())
        record({int(size): result for size, result in saved.items()}, args)
        return 0
    from tests.hardening import stack

    missing = stack.services_missing()
    if missing:
        print(f"cannot run: {missing}")
        return 2
    results = {}
    sizes = (([] if args.only_large else [(args.small, args.small_database)])
             + ([] if args.only_small else [(args.events, args.database)]))
    for events, database in sizes:
        results[events] = run_size(events, rank_calls=args.rank_calls, ingest_batches=args.ingest_batches,
                                   timeout=args.timeout, database=database, redis_url=args.redis_url, keep=args.keep,
                                   reuse=args.reuse, load_only=args.load_only, only=only)
    print(json.dumps(results, indent=2))
    (Path("/tmp") / "kaleido-scale-results.json").write_text(json.dumps(results, indent=2))
    if args.record:
        record(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
