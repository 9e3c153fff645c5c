"""Training at scale: `train_ranker`'s path (the streamed read of the interaction log, then the fit) on a
PostgreSQL database of N impressions, with time and peak memory.

    nice .venv/bin/python bench/scale_training.py --impressions 1000000 [--record]

It makes its own database from the migrated template (kaleido_h_train_scale_N), loads one placement with
1,000 live variants and N decisions with one impression each (50 user features, 3 of them high-cardinality,
the profiles of bench/scale.py; 30 days; ~3 % clicks, more where the user's first feature matches the button
colour's parity) with generate_series / COPY inside the database, then measures in fresh processes:

- the streamed read alone, uncapped (`collect_rows(max_rows=0)`): every impression, time and peak RSS;
- `training.train` (what `train_ranker --placement big-banner` runs) with the default cap
  (KALEIDO_TRAINING_MAX_ROWS) and with the LightGBM candidates only: read + fit time, peak RSS, the rows
  and the sampling rule it reports.

Peak RSS is the process's `ru_maxrss` (the interpreter and Django included, ~150 MB).
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
VARIANTS = 1000


def load(impressions: int, seed: int = 7) -> dict:
    """The placement and variants by the ORM; decisions and events by SQL in the database."""
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from analytics import partitions
    from bench.scale import TAGS, _profiles
    from creative.models import Placement, StyleVariant, VariantStatus

    started = time.perf_counter()
    placement = Placement.objects.create(slug="big-banner", name="Big banner", width=750, height=300)
    StyleVariant.objects.bulk_create([
        StyleVariant(placement=placement, variant_key=f"v{k:04d}", status=VariantStatus.LIVE,
                     tags={group: [values[(k // (j + 1)) % len(values)]] for j, (group, values) in enumerate(TAGS.items())},
                     render_spec={"layout": "single_image_text", "headline": f"H{k}", "cta": "Go"})
        for k in range(VARIANTS)], batch_size=2000)
    users = max(2000, impressions // 100)
    now = datetime.now(UTC)
    begin = now - timedelta(days=DAYS)
    partitions.ensure_partitions_for_range(first=begin.date(), last=now.date() + timedelta(days=1))
    # Impression i: user (i·104729 mod users), variant (i·7919 mod 1000), time spread over the 30 days.
    rows = ("FROM generate_series(1, %(n)s) AS i "
            "JOIN bench_profile u ON u.uid = ((i::bigint * 104729) %% %(users)s) "
            "JOIN bench_variant v ON v.k = ((i::bigint * 7919) %% %(variants)s)")
    ts = "%(begin)s::timestamptz + (i::float8 / %(n)s) * interval '30 days'"
    bucket = "CASE WHEN u.uid %% 10 < 2 THEN 'control' WHEN u.uid %% 10 < 4 THEN 'random' ELSE 'model' END"
    propensity = f"CASE WHEN {bucket} = 'random' THEN 1.0 / {VARIANTS} ELSE 1.0 END"
    params = {"n": impressions, "users": users, "variants": VARIANTS, "begin": begin, "placement": placement.id}
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's cursor: COPY
        cursor.execute("CREATE TEMP TABLE bench_profile (uid int PRIMARY KEY, user_id text, features jsonb, "
                       "segment_key text)")
        with raw.copy("COPY bench_profile FROM STDIN") as copy:
            for row in _profiles(users, seed):
                copy.write_row(row)
        cursor.execute("CREATE TEMP TABLE bench_variant AS SELECT (row_number() OVER (ORDER BY id) - 1)::bigint AS k, "
                       "id AS variant_id FROM creative_stylevariant")
        cursor.execute("CREATE INDEX ON bench_variant (k)")
        cursor.execute(
            "INSERT INTO ranking_decision (decision_id, placement_id, user_id, features, context, bucket, "
            "experiment_id, model_version, items, created_at, assigned_bucket, fallback_reason, candidates, historical) "
            f"SELECT md5(i::text || 'd')::uuid, %(placement)s, u.user_id, u.features, '{{}}'::jsonb, {bucket}, NULL, '', "
            "jsonb_build_array(jsonb_build_object('variant_id', v.variant_id, 'rank', 1, 'score', NULL, "
            f"'propensity', {propensity})), {ts}, {bucket}, '', {VARIANTS}, false " + rows, params)
        columns = ("(event_id, type, decision_id, variant_id, user_id, placement_id, position, ts, received_at, "
                   "bucket, experiment_id, propensity, segment_key, historical)")
        select = ("SELECT {id}, '{type}', md5(i::text || 'd')::uuid, v.variant_id, u.user_id, %(placement)s, 1, "
                  f"{ts} + {{later}}, {ts} + {{later}}, {bucket}, NULL, {propensity}, '', false " + rows + " {where}")
        cursor.execute(f"INSERT INTO analytics_event {columns} "
                       + select.format(id="'i' || i", type="impression", later="interval '0 s'", where=""), params)
        # Clicks: ~3 %; blue and green buttons (even variant index) get more of them from users whose f00 is v0.
        cursor.execute(f"INSERT INTO analytics_event {columns} " + select.format(
            id="'c' || i", type="click", later="interval '20 s'",
            where="WHERE (i::bigint * 2654435761) %% 1000 < CASE WHEN (v.k %% 2 = 0) = (u.features->>'f00' = 'v0') "
                  "THEN 40 ELSE 22 END"), params)
        cursor.execute("SELECT count(*) FILTER (WHERE type = 'impression'), count(*) FILTER (WHERE type = 'click') "
                       "FROM analytics_event")
        stored, clicks = cursor.fetchone()
        cursor.execute("ANALYZE")
        cursor.execute("SELECT pg_database_size(current_database())")
        db_bytes = cursor.fetchone()[0]
    return {"impressions": stored, "clicks": clicks, "users": users, "load_s": round(time.perf_counter() - started, 1),
            "database_mb": round(db_bytes / 2**20)}


def _peak_rss_mb() -> int:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure_read() -> dict:
    """The streamed read alone, every impression (no cap)."""
    from creative.models import Placement
    from ranking import training

    big = Placement.objects.get(slug="big-banner")
    before = _peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    data = training.collect_rows(placement_ids=[big.id], max_rows=0)
    elapsed = time.perf_counter() - started
    return {"rows": len(data), "read_s": round(elapsed, 1), "rows_per_s": round(len(data) / elapsed),
            "read_cpu_s": round(time.process_time() - cpu, 1),
            "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": before, "chunks": len(data.sampling["chunks"]),
            "largest_chunk": max(data.sampling["chunks"], default=0),
            "feature_columns": len(data.feature_rows.names)}  # type: ignore[attr-defined]


def measure_train(algo: str) -> dict:
    """training.train on the big placement (train_ranker's path), its read timed apart."""
    from creative.models import Placement
    from ranking import training

    big = Placement.objects.get(slug="big-banner")
    read = {}
    collect = training.collect_rows

    def timed_collect(**kwargs):
        started = time.perf_counter()
        data = collect(**kwargs)
        read["s"] = time.perf_counter() - started
        read["rss_mb"] = _peak_rss_mb()
        return data

    training.collect_rows = timed_collect
    started, cpu = time.perf_counter(), time.process_time()
    mv = training.train(placement=big, algo=algo)
    total = time.perf_counter() - started
    return {"algo": algo, "rows": mv.rows, "total_s": round(total, 1), "read_s": round(read["s"], 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "fit_s": round(total - read["s"], 1), "peak_rss_mb": _peak_rss_mb(), "rss_after_read_mb": read["rss_mb"],
            "candidate": mv.params["candidate"], "auc": mv.auc, "sampling": mv.params["sampling"],
            "max_rows": mv.params["sampling"]["max_rows"]}


LOAD = """
import json, sys
sys.path.insert(0, {root!r})
from bench.scale_training import load
print(json.dumps(load({n})), flush=True)
"""

MEASURE = """
import json, sys
sys.path.insert(0, {root!r})
from bench import scale_training
print(json.dumps(scale_training.{call}), flush=True)
"""


def run(impressions: int, *, timeout: float, keep: bool, reuse: bool, steps: list[str], database: str = "",
        redis_url: str = "redis://127.0.0.1:6379/11") -> dict:
    import uuid

    from tests.hardening import stack

    name = database or f"kaleido_h_train_scale_{impressions}"
    saved = Path("/tmp") / f"kaleido-train-scale-{name}.json"
    url = f"{stack.PG_ADMIN}/{name}" if reuse else stack.fresh_database(name)
    env = stack.app_env(url, DEBUG="0", SECRET_KEY="train-bench-" + uuid.uuid4().hex, ALLOWED_HOSTS="127.0.0.1",
                        KALEIDO_DB_STATEMENT_TIMEOUT_S="0", REDIS_URL=redis_url,
                        CELERY_BROKER_URL=redis_url, KALEIDO_VAR_DIR=f"/tmp/{name}-var")
    if reuse:
        loaded = json.loads(saved.read_text())
    else:
        print(f"loading {impressions:,} impressions …", flush=True)
        loaded = stack.django_shell(LOAD.format(root=str(ROOT), n=impressions), env=env, timeout=timeout)
        saved.write_text(json.dumps(loaded))
    print(json.dumps(loaded), flush=True)
    out: dict = {"loaded": loaded}
    calls = {"read": "measure_read()", "train": "measure_train('auto')", "train_lightgbm": "measure_train('lightgbm')"}
    for step in steps:
        print(f"measuring {step} …", flush=True)
        out[step] = stack.django_shell(MEASURE.format(root=str(ROOT), call=calls[step]), env=env, timeout=timeout)
        print(json.dumps(out[step]), flush=True)
    if not keep:
        stack.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return out


def record(results: dict[int, dict], notes: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text()
    lines = []
    for n, r in sorted(results.items()):
        if "read" in r:
            m = r["read"]
            lines.append(f"| {n:,} | streamed read alone (`collect_rows`, no cap) | {m['rows']:,} | {m['read_s']} | – | "
                         f"{m['peak_rss_mb']:,} | {m['chunks']} chunks of ≤ {m['largest_chunk']:,}; "
                         f"{m.get('read_cpu_s', '–')} s CPU in process |")
        for step in sorted(k for k in r if k.startswith("train")):  # train, train_<cap>, train_lightgbm…
            m = r[step]
            s = m["sampling"]
            rule = (f"the most recent {s['rows_read']:,} of {s['rows_available']:,}" if s["rule"].startswith("most")
                    else "every row")
            cap = f"{s['max_rows']:,}" if s.get("max_rows") else "none"
            lines.append(f"| {n:,} | `training.train` ({m['algo']}), cap {cap}: read + fit | {m['rows']:,} | "
                         f"{m['read_s']} | {m['fit_s']} | {m['peak_rss_mb']:,} | {rule}; {m.get('cpu_s', '–')} s CPU "
                         f"in process; chose {m['candidate']}, holdout AUC {m['auc']:.3f} |")
    loads = "; ".join(f"{n:,}: {r['loaded']['impressions']:,} impressions and {r['loaded']['clicks']:,} clicks loaded "
                      f"in {r['loaded']['load_s']} s, {r['loaded']['database_mb']:,} MB" for n, r in sorted(results.items()))
    section = f"""### training

`nice .venv/bin/python bench/scale_training.py --impressions {' '.join(str(n) for n in sorted(results))}`: one
placement with 1,000 live variants, one impression per decision (50 user features from `bench/scale.py`'s
profiles), 30 days, loaded by generate_series/COPY ({loads}). Each line is a fresh process; peak RSS is its
`ru_maxrss` (interpreter and Django included); "CPU in process" leaves PostgreSQL's out. Machine:
{os.cpu_count()} CPU cores ({stdlib_platform.machine()}), PostgreSQL on the same machine, shared with other work.

| impressions | what | rows | read (s) | fit (s) | peak RSS (MB) | notes |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(lines)}
"""
    section += notes
    if re.search(r"(?m)^### training\n", text):
        text = re.sub(r"(?ms)^### training\n.*?(?=^### |^## |\Z)", section + "\n", text)
    else:  # at the end of ## scale
        match = re.search(r"(?ms)^## scale\n.*?(?=^## |\Z)", text)
        if match is None:
            text = text.rstrip("\n") + "\n\n## scale\n\n" + section
        else:
            end = match.end()
            text = text[:end].rstrip("\n") + "\n\n" + section + ("\n" if end < len(text) else "") + text[end:]
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--steps", nargs="+", default=["read", "train", "train_lightgbm"],
                        choices=["read", "train", "train_lightgbm"])
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--reuse", action="store_true", help="measure a database a --keep run loaded")
    parser.add_argument("--record", action="store_true", help="write bench/RESULTS.md (## scale, ### training)")
    parser.add_argument("--record-from", default="", help="record a saved run's JSON instead of running")
    parser.add_argument("--notes", default="", help="text appended to the recorded subsection")
    # Several loads can run at once on one server: each its own database, Redis db and results file.
    parser.add_argument("--database", default="", help="database name (one --impressions value); "
                        "default kaleido_h_train_scale_N")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--results", default="/tmp/kaleido-train-scale-results.json", help="where the run's JSON goes")
    args = parser.parse_args()
    if args.record_from:
        record({int(n): r for n, r in json.loads(Path(args.record_from).read_text()).items()}, args.notes)
        return 0
    from tests.hardening import stack

    missing = stack.services_missing()
    if missing:
        print(f"cannot run: {missing}")
        return 2
    if args.database and len(args.impressions) > 1:
        parser.error("--database names one database: give one --impressions value")
    results = {n: run(n, timeout=args.timeout, keep=args.keep, reuse=args.reuse, steps=args.steps,
                      database=args.database, redis_url=args.redis_url)
               for n in args.impressions}
    Path(args.results).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if args.record:
        record(results, args.notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
