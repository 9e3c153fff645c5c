"""Benchmark of POST /api/v1/events under gunicorn on PostgreSQL, next to a raw COPY of the same rows.

    .venv/bin/python bench/ingest.py [--events 100000] [--batch 500] [--clients 6] [--workers 4]
                                     [--rollup-events 1000000] [--write-results]

Creates (and drops first) the database `kaleido_an_bench` on 127.0.0.1:5432, migrates it (so the
events table is partitioned by day), seeds one placement and 20,000 decisions, starts gunicorn on a
free loopback port and posts the events in batches of 500 from a few client threads (each event
validated, enriched from its decision, claimed in the event_id ledger, inserted, its day marked for the
rollups). Then COPYs the same rows (fresh event ids) into the same table and reports both rates. Last,
COPYs `--rollup-events` events spread over 10 days and times a full rollup refresh of those days, and
extrapolates linearly to 10 million events (the refresh is one GROUP BY scan per day partition).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "kaleido_an_bench"
PG = "postgres://postgres@127.0.0.1:5432"
ENV = {
    "DATABASE_URL": f"{PG}/{DB_NAME}", "REDIS_URL": "redis://127.0.0.1:6379/5", "CELERY_BROKER_URL": "",
    "DEBUG": "0", "SECRET_KEY": "bench-only-" + uuid.uuid4().hex, "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "KALEIDO_VAR_DIR": "/tmp/kaleido-an-bench", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0", "OMP_NUM_THREADS": "1", "LOG_LEVEL": "ERROR",
    "DJANGO_SETTINGS_MODULE": "kaleido.settings", "API_KEY_RATE_LIMIT_PER_MINUTE": "10000000",
}
N_DECISIONS = 20_000


def setup_django() -> None:
    os.environ.update(ENV)
    for p in (ROOT, ROOT / "platform"):
        sys.path.insert(0, str(p))
    import django

    django.setup()


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                   env={**os.environ, **ENV}, check=True)


def seed() -> tuple[str, list[tuple[str, str, int]]]:
    """A placement, 20 live variants, 20k decisions; returns the API key and (decision, user, variant)."""
    from access.services import api_key_create
    from creative.models import Placement, StyleVariant, VariantStatus
    from ranking.models import Decision

    placement = Placement.objects.create(slug="bench-banner", name="Bench banner", width=750, height=300)
    variants = StyleVariant.objects.bulk_create([
        StyleVariant(placement=placement, variant_key=f"v{i}", status=VariantStatus.LIVE,
                     tags={"button_color": [["red", "blue"][i % 2]]}) for i in range(20)])
    rng = random.Random(1)
    now = datetime.now(UTC)
    decisions = []
    for i in range(N_DECISIONS):
        variant = variants[rng.randrange(len(variants))]
        decisions.append(Decision(placement=placement, user_id=f"u-{i % 8000}", bucket="random",
                                  assigned_bucket="random", created_at=now, candidates=len(variants),
                                  features={"age": 18 + i % 50, "gender": "fm"[i % 2]},
                                  items=[{"variant_id": variant.id, "rank": 1, "score": None,
                                          "propensity": 1 / len(variants)}]))
    Decision.objects.bulk_create(decisions, batch_size=2000)
    key = api_key_create(name="bench", scopes=["events"]).secret
    return key, [(str(d.decision_id), d.user_id, d.items[0]["variant_id"]) for d in decisions]


def make_events(n: int, refs: list[tuple[str, str, int]]) -> list[dict]:
    rng = random.Random(2)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        decision_id, user_id, variant_id = refs[rng.randrange(len(refs))]
        out.append({"event_id": uuid.uuid4().hex, "type": "click" if i % 20 == 0 else "impression",
                    "decision_id": decision_id, "variant_id": variant_id, "user_id": user_id,
                    "placement": "bench-banner", "position": 1,
                    "ts": (now - timedelta(seconds=rng.randrange(3600))).isoformat().replace("+00:00", "Z")})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "kaleido.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "sync", "--log-level", "error", "--timeout", "120",
         "--chdir", str(ROOT / "platform"), "--pythonpath", f"{ROOT / 'platform'},{ROOT}"],
        env={**os.environ, **ENV}, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def post_all(port: int, key: str, bodies: list[bytes], clients: int) -> tuple[float, int]:
    """Send every body from `clients` threads on keep-alive connections; returns (seconds, accepted)."""
    lock = threading.Lock()
    queue = list(reversed(bodies))
    accepted = [0]
    errors: list[str] = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            conn.request("POST", "/api/v1/events", body=body,
                         headers={"Content-Type": "application/json", "Authorization": f"Api-Key {key}"})
            response = conn.getresponse()
            payload = response.read()
            if response.status != 202:
                errors.append(f"{response.status}: {payload[:200]!r}")
                break
            with lock:
                accepted[0] += json.loads(payload)["accepted"]
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return time.perf_counter() - started, accepted[0]


def copy_rows(rows: list[tuple]) -> float:
    """COPY rows (already enriched, as ingestion stores them) into analytics_event; returns seconds."""
    from django.db import connection

    columns = ("event_id, type, decision_id, variant_id, user_id, placement_id, position, ts, received_at, "
               "bucket, experiment_id, propensity, segment_key")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY analytics_event ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - started


def as_rows(events: list[dict], placement_id: int, suffix: str, ts_override=None) -> list[tuple]:
    now = datetime.now(UTC)
    out = []
    for e in events:
        ts = ts_override(e) if ts_override else datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
        out.append((e["event_id"] + suffix, e["type"], e["decision_id"], e["variant_id"], e["user_id"], placement_id,
                    e["position"], ts, now, "random", None, 0.05, f"age={e['user_id'][-1]}|gender=f"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rollup-events", type=int, default=1_000_000)
    parser.add_argument("--write-results", action="store_true", help="Replace the ## analytics section.")
    args = parser.parse_args()

    os.environ.update(ENV)
    recreate_database()
    setup_django()
    from django.db import connection

    from analytics.models import Event, RollupDirty
    from analytics.rollups import refresh_day, refresh_rollups
    from creative.models import Placement

    key, refs = seed()
    placement_id = Placement.objects.get(slug="bench-banner").id
    events = make_events(args.events, refs)
    bodies = [json.dumps({"events": events[i:i + args.batch]}).encode() for i in range(0, len(events), args.batch)]
    connection.close()

    port = free_port()
    server = start_gunicorn(port, args.workers)
    try:
        warmup = make_events(4 * args.batch, refs)
        post_all(port, key, [json.dumps({"events": warmup[i:i + args.batch]}).encode()
                             for i in range(0, len(warmup), args.batch)], args.clients)  # warm the workers
        seconds, accepted = post_all(port, key, bodies, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = Event.objects.count() - 4 * args.batch
    http_rate = args.events / seconds

    copy_seconds = copy_rows(as_rows(events, placement_id, "-copy"))
    copy_rate = args.events / copy_seconds

    started = time.perf_counter()
    refreshed = refresh_rollups()
    incremental_seconds = time.perf_counter() - started

    # Rollup refresh at volume: N events over 10 days, COPYed, then every day recounted.
    base_day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=12)
    from analytics.partitions import ensure_partitions_for_range

    ensure_partitions_for_range(first=base_day.date(), last=(base_day + timedelta(days=10)).date())
    bulk, chunk = args.rollup_events, 200_000
    for start in range(0, bulk, chunk):
        n = min(chunk, bulk - start)
        sample = make_events(n, refs)
        copy_rows(as_rows(sample, placement_id, f"-r{start}",
                          ts_override=lambda e: base_day + timedelta(days=int(e["event_id"][:2], 16) % 10)))
    RollupDirty.objects.all().delete()
    started = time.perf_counter()
    for d in range(10):
        refresh_day(placement_id=placement_id, day=(base_day + timedelta(days=d)).date())
    rollup_seconds = time.perf_counter() - started
    per_10m = rollup_seconds * 10_000_000 / bulk

    lines = [
        "## analytics",
        "",
        f"`bench/ingest.py --events {args.events} --batch {args.batch} --clients {args.clients} "
        f"--workers {args.workers} --rollup-events {bulk}` on {os.cpu_count()} cores, PostgreSQL "
        f"on loopback, events table partitioned by day ({datetime.now(UTC):%Y-%m-%d}).",
        "",
        "| what | events | seconds | events/s |",
        "| --- | ---: | ---: | ---: |",
        f"| POST /api/v1/events under gunicorn ({args.workers} sync workers, {args.clients} clients, "
        f"batches of {args.batch}) | {args.events:,} | {seconds:.2f} | {http_rate:,.0f} |",
        f"| raw COPY of the same rows into the same table | {args.events:,} | {copy_seconds:.2f} | {copy_rate:,.0f} |",
        "",
        f"HTTP ingestion runs at {100 * http_rate / copy_rate:.0f}% of the raw COPY rate "
        f"(accepted {accepted:,}, stored {stored:,}: each event once). Incremental rollup refresh after the "
        f"HTTP run ({refreshed} dirty day(s)): {incremental_seconds:.2f} s.",
        "",
        f"Rollup refresh, measured: {bulk:,} events over 10 day partitions recounted in {rollup_seconds:.1f} s; "
        f"**extrapolated linearly to 10 million events: {per_10m:.0f} s** (one GROUP BY scan per day "
        f"partition; the refresh touches only days that received events, so a day's refresh costs that day's "
        f"volume, not the table's).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        write_section(text)


def write_section(text: str) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    marker = "## analytics"
    if marker in current:
        head, _, rest = current.partition(marker)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        current = head.rstrip() + "\n\n" + text + tail
    else:
        current = current.rstrip() + "\n\n" + text
    path.write_text(current.rstrip() + "\n")


if __name__ == "__main__":
    main()
