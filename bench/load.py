"""Mixed load on the full web stack: rank : events = 1 : 3, open loop, from this process against gunicorn
(several workers) on PostgreSQL with the Redis cache, on loopback, for a bounded time.

    .venv/bin/python bench/load.py [--rate 200] [--duration 20] [--workers 4] [--threads 2] [--record]

It makes its own database (a copy of a migrated template on the local PostgreSQL), seeds a placement with
36 live variants, a trained model and a running experiment, starts gunicorn, sends the load, prints p50/p99
and error counts per endpoint, and with --record writes them to bench/RESULTS.md (## load).
Goal: zero errors and p99 rank ≤ 50 ms at 200 requests/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform as stdlib_platform
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import sys  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.hardening import stack  # noqa: E402

SEED = """
import json
from access.services import api_key_create
from ranking.buckets import ServingMode
from ranking import services
from tests.ranking.factories import catalogue, log_random_traffic
from django.conf import settings
settings.KALEIDO_TRAIN_MIN_ROWS = 100
placement, variants = catalogue("load-banner")
log_random_traffic(placement, variants, users=1500, seed=11)
version = services.train_model(placement=placement, algo="lightgbm", activate=True).model_version
services.experiment_start(slug="load-ab", placement=placement, buckets="control=0.2,random=0.2,model=0.6")
print(json.dumps({"key": api_key_create(name="load", scopes=["rank", "events"]).secret,
                  "variants": [v.id for v in variants], "version": version}))
"""


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {"rank": [], "events": []}
        self.errors: dict[str, dict[str, int]] = {"rank": {}, "events": {}}
        self.late: list[float] = []
        self.decisions: list[tuple[str, int]] = []

    def add(self, kind: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if status not in (200, 202):
                self.errors[kind][str(status)] = self.errors[kind].get(str(status), 0) + 1


def client_thread(port: int, key: str, seed: dict, plan: list[tuple[float, str]], rec: Recorder) -> None:
    """Send this thread's share of the schedule; the next send waits for its slot (open loop)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {key}"}
    rng = np.random.default_rng(threading.get_ident() % 2**32)
    for at, kind in plan:
        delay = at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            rec.late.append(-delay)
        user = f"u-{rng.integers(100_000)}"
        if kind == "rank":
            body = {"placement": "load-banner", "k": 3,
                    "user": {"id": user, "features": {"age": int(rng.integers(18, 70)), "gender": "f",
                                                      "income_band": "mid", "has_credit_card": True}},
                    "context": {"device": "ios"}}
            path = "/api/v1/rank"
        else:
            with rec.lock:
                decision = rec.decisions[int(rng.integers(len(rec.decisions)))] if rec.decisions else None
            decision_id, variant = decision or (None, seed["variants"][0])
            events = [{"event_id": uuid.uuid4().hex, "type": t, "decision_id": decision_id, "variant_id": variant,
                       "user_id": user, "placement": "load-banner", "position": 1,
                       "ts": datetime.now(UTC).isoformat()} for t in ("impression", "impression", "click")]
            body, path = {"events": events}, "/api/v1/events"
        started = time.perf_counter()
        try:
            conn.request("POST", path, json.dumps(body), headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
            if kind == "rank" and status == 200:
                answer = json.loads(payload)
                with rec.lock:
                    rec.decisions.append((answer["decision_id"], answer["items"][0]["variant_id"]))
                    del rec.decisions[:-500]
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rec.add(kind, time.perf_counter() - started, status)
    conn.close()


def run_load(port: int, seed: dict, *, rate: float, duration: float, clients: int) -> tuple[Recorder, float]:
    """Requests every 1/rate s; every fourth is a rank call (1 : 3). Spread round-robin over client threads."""
    rec = Recorder()
    n = int(rate * duration)
    start = time.monotonic() + 0.5
    kinds = ["rank" if i % 4 == 0 else "events" for i in range(n)]
    plans = [[(start + i / rate, kinds[i]) for i in range(t, n, clients)] for t in range(clients)]
    threads = [threading.Thread(target=client_thread, args=(port, seed["key"], seed, plan, rec)) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 60)
    return rec, time.monotonic() - start


def warm(port: int, seed: dict, *, workers: int, timeout: float = 90) -> None:
    """Each worker loads the model and catalogue on its first rank call (seconds): warm them all first, until
    a burst of concurrent calls comes back fast."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec, _ = run_load(port, seed, rate=40, duration=max(1.0, workers / 2), clients=workers * 2)
        if rec.latency["rank"] and max(rec.latency["rank"]) < 0.3:
            return


def summary(rec: Recorder, elapsed: float) -> dict:
    out = {}
    for kind, values in rec.latency.items():
        ms = np.array(values) * 1000
        out[kind] = {"requests": len(values), "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
                     "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
                     "max_ms": round(float(ms.max()), 1) if len(ms) else None,
                     "errors": sum(rec.errors[kind].values()), "error_kinds": rec.errors[kind]}
    total = sum(v["requests"] for v in out.values())
    out["achieved_rps"] = round(total / elapsed, 1)
    out["late_sends"] = len([x for x in rec.late if x > 0.01])
    return out


def record(result: dict, args) -> None:
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    r, e = result["rank"], result["events"]
    headroom_text = "".join(
        f"\nHeadroom, same server right after: {rate:.0f} requests/s offered, {x['achieved_rps']} achieved, p99 rank "
        f"{x['rank']['p99_ms']} ms, p99 events {x['events']['p99_ms']} ms, "
        f"{x['rank']['errors'] + x['events']['errors']} errors.\n" for rate, x in result["headroom"])
    section = f"""## load

Mixed open-loop load, rank : events = 1 : 3 (each events request carries 3 events: 2 impressions and a
click on a recent decision), {args.rate:.0f} requests/s for {args.duration:.0f} s from a second process on
loopback, against gunicorn with {args.workers} workers × {args.threads} thread(s) on the local
PostgreSQL, Redis as the cache, a 36-variant placement with a running experiment (control 0.2 / random 0.2 /
model 0.6) and an active LightGBM model.

| endpoint | requests | p50 ms | p99 ms | max ms | errors |
| --- | --- | --- | --- | --- | --- |
| POST /api/v1/rank | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['errors']} |
| POST /api/v1/events | {e['requests']} | {e['p50_ms']} | {e['p99_ms']} | {e['max_ms']} | {e['errors']} |

Achieved {result['achieved_rps']} requests/s; {result['late_sends']} sends left more than 10 ms after their
slot. Goal: zero errors and p99 rank ≤ 50 ms at 200 requests/s: **{'met' if result['goal_met'] else 'not met'}**.
Machine: {os.cpu_count()} CPU cores ({stdlib_platform.machine()}), load generator and server on the same machine
(1-minute load average {result['load_average'][0]:.1f} before the run, {result['load_average'][1]:.1f} after).
{headroom_text}
Command: `.venv/bin/python bench/load.py --rate {args.rate:.0f} --duration {args.duration:.0f} --workers {args.workers} --threads {args.threads}{' --headroom ' + args.headroom if args.headroom else ''} --record`
"""
    if re.search(r"(?m)^## load\n", text):
        text = re.sub(r"(?ms)^## load\n.*?(?=^## |\Z)", section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help=">1 uses gunicorn's gthread worker class")
    parser.add_argument("--clients", type=int, default=24, help="client threads (connections) sending the load")
    parser.add_argument("--record", action="store_true", help="write the result to bench/RESULTS.md")
    parser.add_argument("--headroom", default="", help="extra rates to try after the main run, e.g. 300,400")
    args = parser.parse_args()
    missing = stack.services_missing()
    if missing:
        print(f"cannot run: {missing}")
        return 2
    db = stack.fresh_database("kaleido_hard_load")
    env = stack.app_env(db, DEBUG="0", SECRET_KEY="load-bench-" + uuid.uuid4().hex, ALLOWED_HOSTS="127.0.0.1",
                        MEDIA_ROOT=str(Path("/tmp") / "kaleido-hard-load-media"))
    print("seeding (catalogue, logged traffic, a trained model, an experiment) …", flush=True)
    seed = stack.django_shell(SEED, env=env, timeout=300)
    port = stack.free_port()
    with stack.processes() as start:
        web = start("web", stack.gunicorn_args(port, workers=args.workers, threads=args.threads), env)
        stack.wait_http(f"http://127.0.0.1:{port}/api/schema/", proc=web)
        warm(port, seed, workers=args.workers)
        print(f"sending {args.rate:.0f} req/s for {args.duration:.0f} s …", flush=True)
        load_before = os.getloadavg()[0]
        rec, elapsed = run_load(port, seed, rate=args.rate, duration=args.duration, clients=args.clients)
        load_after = os.getloadavg()[0]
        headroom = []
        for rate in [float(r) for r in args.headroom.split(",") if r.strip()]:
            print(f"headroom: {rate:.0f} req/s for {args.duration:.0f} s …", flush=True)
            extra, extra_elapsed = run_load(port, seed, rate=rate, duration=args.duration, clients=args.clients)
            headroom.append((rate, summary(extra, extra_elapsed)))
    result = summary(rec, elapsed)
    result["load_average"] = (load_before, load_after)
    result["headroom"] = headroom
    result["goal_met"] = (result["rank"]["errors"] == 0 and result["events"]["errors"] == 0
                          and (result["rank"]["p99_ms"] or 1e9) <= 50.0)
    print(json.dumps({k: v for k, v in result.items() if k != "headroom"}, indent=2))
    for rate, extra in headroom:
        print(f"{rate:.0f} req/s: achieved {extra['achieved_rps']}, p99 rank {extra['rank']['p99_ms']} ms, "
              f"p99 events {extra['events']['p99_ms']} ms, errors {extra['rank']['errors'] + extra['events']['errors']}")
    if args.record:
        record(result, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
