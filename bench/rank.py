"""Benchmark of POST /api/v1/rank under gunicorn on PostgreSQL, next to a bare DRF endpoint.

    .venv/bin/python bench/rank.py [--seconds 12] [--rounds 3] [--workers 2] [--train-rows 1000000]
    .venv/bin/python bench/rank.py --fsync none,interval,always [--seconds 6] [--rounds 2]

Creates (and drops first) the database `kaleido_rank_bench` on 127.0.0.1:5432, seeds one placement
with 200 live variants and a LightGBM model over 30 user features, starts gunicorn on a free loopback
port, and measures p50/p99 latency and requests/s at concurrency 1 and 16 for /rank (model bucket:
every request scores all 200 variants and logs its decision) and for the bare endpoint, once per
decision-log mode (journal, then direct INSERT); after each mode it checks that every answered call's
decision is in the table. Also times each part of a rank call, the decision write alone, and LightGBM
training on synthetic impressions. Writes the `## ranking` section of bench/RESULTS.md.

With `--fsync MODES` it measures instead the journal under each KALEIDO_DECISION_FSYNC mode listed (and
direct INSERTs beside them), the same rows per mode, plus the in-process cost of one append in each mode,
and writes the `## decision journal fsync` section (no training run).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "kaleido_rank_bench"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/4"
N_VARIANTS = 200
N_FEATURES = 30

ENV = {
    "DATABASE_URL": f"{PG}/{DB_NAME}", "REDIS_URL": REDIS, "CELERY_BROKER_URL": "", "DEBUG": "0",
    "SECRET_KEY": "bench-only-" + uuid.uuid4().hex, "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SETTINGS_MODULE": "rank_settings", "KALEIDO_VAR_DIR": "/tmp/kaleido-rank-bench",
    "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0", "SECURE_HSTS_SECONDS": "0",
    "OMP_NUM_THREADS": "1", "LOG_LEVEL": "ERROR",
}


def setup_django() -> None:
    os.environ.update(ENV)
    for p in (ROOT / "bench", ROOT, ROOT / "platform"):
        sys.path.insert(0, str(p))
    import django

    django.setup()


def user_features(rng: random.Random) -> tuple[dict, dict]:
    """7 simulator features + 23 synthetic ones (numbers, categories, flags) = 30 features."""
    from ranking.simulator import make_users

    u = make_users(1, seed=rng.randrange(10**9))[0]
    feats = dict(u.features)
    for i in range(N_FEATURES - 7):
        kind = i % 3
        feats[f"f{i}"] = rng.random() * 100 if kind == 0 else (f"c{rng.randrange(8)}" if kind == 1 else rng.random() < 0.5)
    return feats, dict(u.context)


def seed(train_rows: int) -> tuple[str, str]:
    """Fresh database: 200 live variants, 20k logged impressions, an active model. Returns (key, slug)."""
    subprocess.run(["psql", "-q", PG + "/postgres", "-c", f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True)
    subprocess.run(["psql", "-q", PG + "/postgres", "-c", f"CREATE DATABASE {DB_NAME}"], check=True)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from access.services import api_key_create
    from analytics.ingestion import record_events
    from creative.models import Placement, StyleVariant
    from creative.taxonomy import DEFAULT_TAXONOMY
    from ranking import services, simulator
    from ranking.buckets import ServingMode
    from ranking.models import Decision

    rng = random.Random(5)
    placement = Placement.objects.create(slug="bench-banner", name="Bench banner", width=750, height=300,
                                         default_mode=ServingMode.MODEL)
    groups = [(g, values) for _, g, _, _, values in DEFAULT_TAXONOMY]
    variants = StyleVariant.objects.bulk_create([
        StyleVariant(placement=placement, variant_key=f"v{i}", status="live",
                     tags={g: [rng.choice(values)] for g, values in groups},
                     render_spec={"layout": "single_image_text", "headline": f"Headline {i}", "cta": "Go"})
        for i in range(N_VARIANTS)
    ])
    placement.control_variant = variants[0]
    placement.save()
    decisions, events = [], []
    start = datetime.now(UTC) - timedelta(hours=3)
    for i in range(train_rows):
        feats, ctx = user_features(rng)
        v = variants[rng.randrange(N_VARIANTS)]
        did = uuid.uuid4()
        ts = start + timedelta(milliseconds=i * 100)
        decisions.append(Decision(decision_id=did, placement=placement, user_id=f"b{i}", features=feats, context=ctx,
                                  bucket="random", assigned_bucket="random", candidates=N_VARIANTS, created_at=ts,
                                  items=[{"variant_id": v.id, "rank": 1, "propensity": 1 / N_VARIANTS}]))
        base = {"decision_id": str(did), "variant_id": v.id, "user_id": f"b{i}", "placement": placement.slug,
                "position": 1, "ts": ts.isoformat()}
        events.append({"event_id": uuid.uuid4().hex, "type": "impression", **base})
        user = simulator.SimUser(f"b{i}", feats, ctx, 0.0)
        if rng.random() < simulator.click_probability(user, v.tags):
            events.append({"event_id": uuid.uuid4().hex, "type": "click", **base})
    Decision.objects.bulk_create(decisions, batch_size=1000)
    for i in range(0, len(events), 1000):
        record_events(events[i:i + 1000])
    result = services.train_model(placement=placement, activate=True)
    print(f"seeded: {N_VARIANTS} variants, model v{result.model_version} on {result.rows} rows (AUC {result.auc:.3f})")
    return api_key_create(name="bench", scopes=["rank", "events"]).secret, placement.slug


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, decision_log: str, fsync: str = "interval") -> subprocess.Popen:
    env = {**os.environ, **ENV, "KALEIDO_DECISION_LOG": decision_log, "KALEIDO_DECISION_FSYNC": fsync, "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT), str(ROOT / "platform")])}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "kaleido.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(workers),
         "--backlog", "256", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def _client(args) -> list[float]:
    port, path, headers, bodies, seconds, threads = args
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def loop(tid: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, i = [], tid
        while time.perf_counter() < stop_at:
            body = bodies[i % len(bodies)]
            i += threads
            t = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t)
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    ts = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return latencies


def load(port: int, path: str, headers: dict, bodies: list[bytes], concurrency: int, seconds: float) -> dict:
    procs = min(concurrency, 4)
    per = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
    started = time.perf_counter()
    if procs == 1:
        lat = _client((port, path, headers, bodies, seconds, per[0]))
    else:
        with mp.get_context("fork").Pool(procs) as pool:
            lat = [x for part in pool.map(_client, [(port, path, headers, bodies, seconds, n) for n in per]) for x in part]
    elapsed = time.perf_counter() - started
    lat.sort()
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50_ms": lat[len(lat) // 2] * 1000,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000}


def time_decision_writes(n: int = 2000) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from creative.models import Placement
    from ranking.models import Decision

    placement = Placement.objects.get(slug="bench-banner")
    feats = user_features(random.Random(1))[0]
    items = [{"variant_id": 1, "rank": 1, "score": 0.05, "propensity": 0.9}]

    def make():
        return Decision(placement=placement, user_id="w", features=feats, context={}, bucket="model",
                        items=items, created_at=timezone.now())

    from ranking.decision_log import write_decision

    t = time.perf_counter()
    for _ in range(n):
        make().save(force_insert=True)
    single = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for _ in range(n):
        write_decision(make())
    async_commit = (time.perf_counter() - t) / n
    t = time.perf_counter()
    with transaction.atomic():
        Decision.objects.bulk_create([make() for _ in range(n)], batch_size=500)
    bulk = (time.perf_counter() - t) / n
    return {"single_insert_ms": single * 1000, "async_commit_ms": async_commit * 1000, "bulk_insert_ms": bulk * 1000}


def time_components(n: int = 2000) -> dict:
    """In-process cost of the work a rank call adds to a bare endpoint, one part at a time (ms per call)."""
    import numpy as np

    from access.throttling import count_request
    from ranking import decision_log, registry, serving
    from ranking import features as F
    from ranking.apis import RankApi, canonical_rank_request

    rng = random.Random(7)
    feats, ctx = user_features(rng)
    cat = serving.get_catalogue("bench-banner")
    model = registry.get_model(registry.active_version_for(cat.placement_id))
    registry.wait_for_compiles()
    row = F.row_features(feats, ctx)
    body = {"placement": "bench-banner", "user": {"id": "c", "features": feats}, "k": 3, "context": ctx}
    scores = np.asarray(serving.score_user(model, cat, row))
    record = {"decision_id": uuid.uuid4().hex, "placement_id": cat.placement_id, "user_id": "c", "features": feats,
              "context": ctx, "bucket": "model", "experiment_id": None, "model_version": model.version,
              "created_at": datetime.now(UTC).isoformat(), "items": [{"variant_id": 1, "rank": 1, "score": 0.05,
                                                                      "propensity": 0.9}] * 3,
              "assigned_bucket": "model", "fallback_reason": "", "candidates": N_VARIANTS}
    journal = decision_log.DecisionJournal(Path("/tmp/kaleido-rank-bench/components"), flush_s=3600,
                                           segment_bytes=1 << 30)
    journal._start_flusher = lambda: None  # appends only: the file is removed below, never flushed

    def per_call(fn) -> float:
        fn()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t) / n * 1000

    compiled, booster = model.compiled, model.booster
    x = cat.design(model)
    parts = {
        "validate_ms": per_call(lambda: canonical_rank_request(body)),
        "validate_serializer_ms": per_call(lambda: RankApi.InputSerializer(data=body).is_valid(raise_exception=True)),
        "score_ms": per_call(lambda: serving.score_user(model, cat, row)),
        "predict_compiled_ms": per_call(lambda: compiled.predict(x)) if compiled is not None else float("nan"),
        "predict_lightgbm_ms": per_call(lambda: booster.predict(x, num_threads=1)),
        "policy_ms": per_call(lambda: serving._model_slate(cat, scores, 3)),
        "rate_limit_ms": per_call(lambda: count_request("bench:probe")),
        "journal_append_ms": per_call(lambda: journal.append(record)),
    }
    for segment in [journal._segment, *journal._rotated]:
        if segment is not None:
            segment.close_and_remove()
    return parts


def time_training(rows: int) -> dict:
    """Encode and fit LightGBM on `rows` synthetic impressions (30 user features × 200 tagged variants)."""
    import numpy as np

    from ranking import features as F
    from ranking import training
    from ranking.simulator import SimUser, click_probability

    rng = random.Random(9)
    nprng = np.random.default_rng(9)
    pool = [user_features(rng) for _ in range(5000)]
    from creative.models import StyleVariant

    variants = list(StyleVariant.objects.filter(placement__slug="bench-banner").values_list("id", "tags"))
    t0 = time.perf_counter()
    pick_u = nprng.integers(len(pool), size=rows)
    pick_v = nprng.integers(len(variants), size=rows)
    feature_rows = [F.row_features(*pool[i]) for i in pick_u]
    spec = F.build_spec(feature_rows=feature_rows[:50_000], variant_tags=[t for _, t in variants])
    users = F.user_codes(spec, feature_rows)
    tag_rows = F.tag_matrix(spec, [t for _, t in variants])
    ctr = np.array([[click_probability(SimUser("x", *pool[u], 0.0), t) for _, t in variants] for u in range(len(pool))])
    y = (nprng.random(rows) < ctr[pick_u, pick_v]).astype(float)
    x = F.lgb_matrix(spec, users=users, tags=tag_rows[pick_v], variant_codes_=None, positions=np.ones(rows))
    encode = time.perf_counter() - t0
    t1 = time.perf_counter()
    booster, params = training.fit_lightgbm(x=x, y=y, w=np.ones(rows), spec=spec, threads=2)
    fit = time.perf_counter() - t1
    _, _, ho = training.split_indices(rows)
    metrics = training.holdout_metrics(y[ho], booster.predict(x[ho], num_iteration=params["best_iteration"]))
    return {"rows": rows, "encode_s": encode, "fit_s": fit, "iterations": params["best_iteration"],
            "auc": metrics["auc"], "columns": x.shape[1]}


def time_journal_appends(n: int = 2000) -> dict:
    """In-process cost of one journal append (ms) under each fsync mode; `interval` adds its flusher's
    one fdatasync per flush interval, measured apart."""
    from ranking import decision_log

    record = {"decision_id": uuid.uuid4().hex, "placement_id": 1, "user_id": "c", "features": user_features(
        random.Random(7))[0], "context": {}, "bucket": "model", "experiment_id": None, "model_version": "1",
        "created_at": datetime.now(UTC).isoformat(), "items": [{"variant_id": 1, "rank": 1, "score": 0.05,
                                                                "propensity": 0.9}] * 3,
        "assigned_bucket": "model", "fallback_reason": "", "candidates": N_VARIANTS}
    out = {}
    for mode in ("none", "always"):
        journal = decision_log.DecisionJournal(Path(ENV["KALEIDO_VAR_DIR"]) / "appends", flush_s=3600,
                                               segment_bytes=1 << 30, fsync=mode)
        journal._start_flusher = lambda: None  # appends only: the file is removed below, never flushed
        journal.append(record)
        t = time.perf_counter()
        for _ in range(n if mode == "none" else n // 4):
            journal.append(record)
        out[f"append_{mode}_ms"] = (time.perf_counter() - t) / (n if mode == "none" else n // 4) * 1000
        if mode == "none":
            t = time.perf_counter()
            for _ in range(50):
                journal.append(record)
                journal.sync()  # what the interval flusher does once per interval
            out["interval_sync_ms"] = (time.perf_counter() - t) / 50 * 1000 - out["append_none_ms"]
        for segment in [journal._segment, *journal._rotated]:
            if segment is not None:
                segment.close_and_remove()
    return out


def write_results(text: str, section: str = "## ranking") -> None:
    path = ROOT / "bench" / "RESULTS.md"
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    start = current.find("\n" + section + "\n")
    if start == -1:
        current = current.rstrip("\n") + "\n\n" + text
    else:
        nxt = current.find("\n## ", start + 1)
        current = current[:start + 1] + text.rstrip("\n") + "\n" + (current[nxt:] if nxt != -1 else "")
    path.write_text(current.rstrip("\n") + "\n")


def count_decisions() -> int:
    from ranking.models import Decision

    return Decision.objects.filter(placement__slug="bench-banner", user_id__startswith="load-").count()


def run_mode(mode: str, args, headers: dict, rank_bodies: list[bytes], fsync: str = "interval") -> tuple[list, dict]:
    """Bare and rank rows for one decision-log mode, and whether every answered call's decision landed."""
    from django.db import connection

    port = free_port()
    before = count_decisions()
    proc = start_gunicorn(port, args.workers, mode, fsync)
    rows, answered = [], 0
    try:
        for warm in (1, 4):  # load (and compile) the model in every worker
            answered += load(port, "/api/v1/rank", headers, rank_bodies, warm, 2.0)["requests"]
        for concurrency in (1, 16):
            # Interleaved rounds, median per endpoint: this shared machine's speed drifts by 20% within a
            # minute, and bare and rank should see the same drift.
            runs: dict[str, list[dict]] = {"bare DRF": [], "rank": []}
            for _ in range(args.rounds):
                for name, path, bodies in (("bare DRF", "/bench/bare", [b"{}"]), ("rank", "/api/v1/rank", rank_bodies)):
                    r = load(port, path, headers, bodies, concurrency, args.seconds / args.rounds)
                    if path != "/bench/bare":
                        answered += r["requests"]
                    runs[name].append(r)
            for name, results in runs.items():
                r = {key: statistics.median(x[key] for x in results) for key in ("rps", "p50_ms", "p99_ms")}
                r["requests"] = sum(x["requests"] for x in results)
                rows.append((name, concurrency, r))
                print(f"[{mode}] {name:9s} c={concurrency:2d}  {r['rps']:7.1f} req/s  p50 {r['p50_ms']:6.2f} ms  "
                      f"p99 {r['p99_ms']:6.2f} ms  ({r['requests']} requests; rounds: "
                      + ", ".join(f"{x['rps']:.0f}" for x in results) + " req/s)")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # a graceful stop: each worker flushes its journal as it exits
        proc.wait(timeout=30)
    connection.close()
    if mode.startswith("journal"):
        from ranking.decision_log import recover_orphans

        recover_orphans(Path(ENV["KALEIDO_VAR_DIR"]) / "decision-journal")  # whatever a worker left
    stored = count_decisions() - before
    print(f"[{mode}] answered {answered} rank calls, {stored} decisions stored")
    return rows, {"answered": answered, "stored": stored}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=12.0, help="per endpoint and concurrency, split into rounds")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved bare/rank rounds; medians are reported")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed-rows", type=int, default=20_000)
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--fsync", default="", help="comma-separated KALEIDO_DECISION_FSYNC modes to compare "
                                                     "(journal only, with direct beside them)")
    args = parser.parse_args()
    setup_django()
    secret, slug = seed(args.seed_rows)
    rng = random.Random(3)
    rank_bodies = []
    for i in range(500):
        feats, ctx = user_features(rng)
        rank_bodies.append(json.dumps({"placement": slug, "user": {"id": f"load-{i}", "features": feats},
                                       "k": 3, "context": ctx}).encode())
    headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {secret}"}
    if args.fsync:
        return fsync_main(args, headers, rank_bodies)
    load_before = os.getloadavg()[0]
    rows = {}
    landed = {}
    for mode in ("journal", "direct"):
        rows[mode], landed[mode] = run_mode(mode, args, headers, rank_bodies)
    load_after = os.getloadavg()[0]
    writes = time_decision_writes()
    parts = time_components()
    print("per-call parts (ms): " + ", ".join(f"{k[:-3]} {v:.3f}" for k, v in parts.items()))
    print(f"decision INSERT: {writes['single_insert_ms']:.3f} ms waiting for the WAL flush, "
          f"{writes['async_commit_ms']:.3f} ms with synchronous_commit off, {writes['bulk_insert_ms']:.3f} ms in bulk")
    train = time_training(args.train_rows)
    print(f"training on {train['rows']:,} impressions: encode {train['encode_s']:.1f}s, fit {train['fit_s']:.1f}s "
          f"({train['iterations']} trees, AUC {train['auc']:.3f})")
    if args.no_write:
        return
    by = {(mode, n, c): r for mode, mode_rows in rows.items() for n, c, r in mode_rows}

    def ratio(mode: str, c: int) -> float:
        return by[(mode, "rank", c)]["rps"] / by[(mode, "bare DRF", c)]["rps"]

    rank_p99 = by[("journal", "rank", 1)]["p99_ms"]
    worst = min(ratio("journal", 1), ratio("journal", 16))
    lines = [
        "## ranking", "",
        f"`.venv/bin/python bench/rank.py` — {datetime.now(UTC):%Y-%m-%d}, gunicorn {args.workers} sync workers, "
        f"PostgreSQL + Redis cache on loopback, {N_VARIANTS} live variants, {N_FEATURES} user features, k=3, model "
        f"bucket (every request scores all variants and logs its decision), {args.seconds:g}s per row in "
        f"{args.rounds} rounds interleaved with the bare endpoint (median round reported); "
        f"{os.cpu_count()} CPU cores shared with the load generator "
        f"(1-minute load average {load_before:.1f} before, {load_after:.1f} after the load runs). Each decision-log "
        "mode runs on its own gunicorn, next to the bare endpoint on the same server.", "",
        "| decision log | endpoint | concurrency | req/s | p50 ms | p99 ms |", "|---|---|---:|---:|---:|---:|",
    ]
    for mode, mode_rows in rows.items():
        for name, c, r in mode_rows:
            lines.append(f"| {mode} | {name} | {c} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    lines += [
        "",
        f"rank throughput vs bare: journal {ratio('journal', 1):.0%} at c=1, {ratio('journal', 16):.0%} at c=16; "
        f"direct INSERT {ratio('direct', 1):.0%} at c=1, {ratio('direct', 16):.0%} at c=16.", "",
        "Decisions stored vs rank calls answered (counted in the table after each server stopped): "
        + "; ".join(f"{mode} {v['stored']:,} of {v['answered']:,}" for mode, v in landed.items()) + ".", "",
        f"What a rank call adds to the bare endpoint, in-process per call: request validation "
        f"{parts['validate_ms']:.3f} ms (DRF's nested serializer, still used for bodies that are not canonical: "
        f"{parts['validate_serializer_ms']:.3f} ms); scoring all {N_VARIANTS} variants {parts['score_ms']:.3f} ms "
        f"(the compiled forest {parts['predict_compiled_ms']:.3f} ms where LightGBM's own predict takes "
        f"{parts['predict_lightgbm_ms']:.3f} ms); the exploration policy {parts['policy_ms']:.3f} ms; the rate limit "
        f"{parts['rate_limit_ms']:.3f} ms per lease round trip (one per 100 calls at the default limit); the "
        f"journal append {parts['journal_append_ms']:.3f} ms.", "",
        f"Decision write alone (2,000 in a row): one INSERT waiting for the WAL flush "
        f"{writes['single_insert_ms']:.2f} ms; one statement with synchronous_commit off (direct mode) "
        f"{writes['async_commit_ms']:.2f} ms; bulk {writes['bulk_insert_ms']:.3f} ms/row.", "",
        f"Training on {train['rows']:,} synthetic impressions ({train['columns']} columns): encoding "
        f"{train['encode_s']:.1f} s, LightGBM fit {train['fit_s']:.1f} s on 2 threads "
        f"({train['iterations']} trees after early stopping, holdout AUC {train['auc']:.3f}).", "",
        f"Reading: with the journal (the production setting, docs/ranking.md), p99 at concurrency 1 is "
        f"{rank_p99:.1f} ms against a goal of ≤ 15 ms (**{'met' if rank_p99 <= 15 else 'not met'}**) and "
        f"throughput is at least {worst:.0%} of the bare endpoint's against a goal of ≥ 50% "
        f"(**{'met' if worst >= 0.5 else 'not met'}**).", "",
    ]
    write_results("\n".join(lines))


def fsync_main(args, headers: dict, rank_bodies: list[bytes]) -> None:
    """Journal under each fsync mode, and direct INSERTs, in the same rows; writes its own section."""
    modes = [m.strip() for m in args.fsync.split(",") if m.strip()]
    load_before = os.getloadavg()[0]
    rows, landed = {}, {}
    for fsync in modes:
        name = f"journal, fsync={fsync}"
        print(f"--- {name}")
        rows[name], landed[name] = run_mode("journal", args, headers, rank_bodies, fsync)
    rows["direct"], landed["direct"] = run_mode("direct", args, headers, rank_bodies)
    load_after = os.getloadavg()[0]
    appends = time_journal_appends()
    print("journal append (ms): " + ", ".join(f"{k} {v:.4f}" for k, v in appends.items()))
    if args.no_write:
        return
    lines = [
        "## decision journal fsync", "",
        f"`.venv/bin/python bench/rank.py --fsync {args.fsync} --seconds {args.seconds:g} --rounds {args.rounds}` — "
        f"{datetime.now(UTC):%Y-%m-%d}, the same server and load as the ranking section ({args.workers} sync "
        f"workers, {N_VARIANTS} variants, model bucket), {args.seconds:g}s per row in {args.rounds} interleaved "
        f"rounds, journal on the machine's ext4 disk (a virtual disk: its flush costs what the host makes it "
        f"cost); {os.cpu_count()} CPU cores shared with the load generator and other work (1-minute load "
        f"average {load_before:.1f} before, {load_after:.1f} after). A short run: read the ratios, not the "
        "absolute numbers.", "",
        "| decision log | endpoint | concurrency | req/s | p50 ms | p99 ms |", "|---|---|---:|---:|---:|---:|",
    ]
    for mode, mode_rows in rows.items():
        for name, c, r in mode_rows:
            lines.append(f"| {mode} | {name} | {c} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    by = {(mode, n, c): r for mode, mode_rows in rows.items() for n, c, r in mode_rows}
    lines += [
        "",
        "rank throughput vs bare: " + "; ".join(
            f"{mode} {by[(mode, 'rank', 1)]['rps'] / by[(mode, 'bare DRF', 1)]['rps']:.0%} at c=1, "
            f"{by[(mode, 'rank', 16)]['rps'] / by[(mode, 'bare DRF', 16)]['rps']:.0%} at c=16" for mode in rows) + ".",
        "",
        "Decisions stored vs rank calls answered: "
        + "; ".join(f"{mode} {v['stored']:,} of {v['answered']:,}" for mode, v in landed.items()) + ".", "",
        f"One journal append in-process: {appends['append_none_ms'] * 1000:.1f} µs without a sync (none, interval), "
        f"{appends['append_always_ms']:.3f} ms with its fdatasync (always); the interval flusher's fdatasync "
        f"{appends['interval_sync_ms']:.3f} ms, once per flush interval per process, off the request path.", "",
        f"Reading: `always` waits for one disk flush per call, inside the journal's lock, so one process journals "
        f"at most ~{1000 / appends['append_always_ms']:.0f} calls/s on this disk whatever its CPU; `interval` adds "
        "nothing to a call (its sync runs on the flusher thread), so it costs what `none` costs within this "
        "machine's noise, and it is the default (docs/ranking.md says what each mode can lose).", "",
    ]
    write_results("\n".join(lines), "## decision journal fsync")


if __name__ == "__main__":
    main()
