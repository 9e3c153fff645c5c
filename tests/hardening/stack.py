"""Real processes for the fault, full-stack and load checks: web server, Celery workers, beat, and a
PostgreSQL of our own. Everything binds to loopback; everything started is killed in `finally`."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
PG_HOST = "127.0.0.1"
PG_ADMIN = f"postgres://postgres@{PG_HOST}:5432"
TEMPLATE_DB = "kaleido_hard_tpl"
REDIS_URL = "redis://127.0.0.1:6379/7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str, *, url: str = f"{PG_ADMIN}/postgres", timeout: float = 60) -> str:
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"psql {sql!r}: {out.stderr}")
    return out.stdout.strip()


def services_missing() -> str:
    """Why the process tests cannot run here ('' when they can)."""
    for tool in ("psql", "pg_dump", "redis-cli"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        psql("SELECT 1", timeout=5)
    except Exception as exc:  # noqa: BLE001
        return f"no PostgreSQL on {PG_HOST}:5432 ({exc})"
    if subprocess.run(["redis-cli", "-n", "7", "ping"], capture_output=True, timeout=5).returncode:
        return "no Redis on 127.0.0.1:6379"
    return ""


def _migrations_digest() -> str:
    """A digest of every migration file's name and contents: a template made from other migrations (an
    edited one, a new one) has another name, so it is never reused by mistake."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in ROOT.glob("**/migrations/0*.py") if ".venv" not in p.parts):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_template() -> str:
    """A migrated database to copy from, made once per set of migrations (migrating takes ~15 s; copying
    it, well under one). Returns its name."""
    name = f"{TEMPLATE_DB}_{_migrations_digest()}"
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        building = f"{name}_new_{os.getpid()}"
        psql(f"DROP DATABASE IF EXISTS {building}")
        psql(f"CREATE DATABASE {building}")
        manage("migrate", "--noinput", "-v0", env=app_env(f"{PG_ADMIN}/{building}"), timeout=240)
        try:
            psql(f"ALTER DATABASE {building} RENAME TO {name}")
        except RuntimeError:  # another process made it meanwhile
            psql(f"DROP DATABASE IF EXISTS {building}")
    return name


def fresh_database(name: str) -> str:
    """A new database copied from the migrated template; returns its URL."""
    template = ensure_template()
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name} TEMPLATE {template}")
    return f"{PG_ADMIN}/{name}"


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "PYTEST"))}
    env.update({
        "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}", "DJANGO_SETTINGS_MODULE": "kaleido.settings",
        "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": REDIS_URL,
        "OMP_NUM_THREADS": "1", "LOG_LEVEL": "WARNING", "DEBUG": "1", "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120, stdin: str | None = None) -> str:
    out = subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, input=stdin,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return out.stdout


def django_shell(code: str, *, env: dict[str, str], timeout: float = 120) -> dict:
    """Run code in a Django shell of that environment; it prints one JSON object last, returned here."""
    out = manage("shell", "--no-imports", "-c", code, env=env, timeout=timeout) if _shell_has_no_imports() \
        else manage("shell", "-c", code, env=env, timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


def _shell_has_no_imports() -> bool:
    import django

    return django.VERSION >= (5, 2)


class Proc:
    """A started process in its own session, so it and its children can be killed together."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log = log_dir / f"{name}.log"
        self.popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def kill(self, sig: int = signal.SIGTERM, wait: float = 10) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=10)

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@contextmanager
def processes():
    """Collects started processes and kills every one of them on the way out, whatever happened."""
    started: list[Proc] = []
    log_dir = Path(tempfile.mkdtemp(prefix="kaleido-hard-logs-"))

    def start(name: str, args: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, args, env, log_dir)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in reversed(started):
            proc.kill()


def gunicorn_args(port: int, workers: int = 2, threads: int = 1) -> list[str]:
    return [str(BIN / "gunicorn"), "kaleido.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--pythonpath", f"{ROOT / 'platform'},{ROOT}",
            "--timeout", "60", "--graceful-timeout", "5"]


def celery_args(*extra: str) -> list[str]:
    return [str(BIN / "celery"), "-A", "kaleido", *extra]


def wait_http(url: str, *, timeout: float = 60, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        try:
            urllib.request.urlopen(url, timeout=2).read()  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f}s" + (f":\n{proc.tail()}" if proc else ""))


def wait_for(check, *, timeout: float, every: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what} not reached in {timeout:.0f}s")


def post_json(url: str, body, *, key: str, timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Api-Key {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}


def send_like_the_sdk(url: str, body, *, key: str, deadline: float, base: float = 0.25, ceiling: float = 2.0,
                      log: list | None = None) -> tuple[int, dict, int]:
    """The SDK's delivery rule: retry network errors, 429 and 5xx with full-jitter exponential backoff,
    resending the same body (same event ids), until accepted or out of time. Returns (status, body, tries)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            status, answer = post_json(url, body, key=key)
        except OSError as exc:
            status, answer = 0, {"error": str(exc)}
        if status and status < 500 and status != 429:
            return status, answer, attempt
        if log is not None:
            log.append((time.monotonic(), status))
        if time.monotonic() > deadline:
            return status, answer, attempt
        time.sleep(random.uniform(0, min(ceiling, base * 2 ** attempt)))


class OwnPostgres:
    """A throwaway PostgreSQL cluster in a temp dir on its own port, safe to restart: nobody else uses it."""

    def __init__(self, port: int):
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not versions:
            raise FileNotFoundError("initdb not found under /usr/lib/postgresql/*/bin")
        self.bin = versions[-1].parent
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="kaleido-hard-pg-"))
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
        self.url = f"postgres://postgres@127.0.0.1:{port}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        out = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=timeout)
        if out.returncode:
            raise RuntimeError(f"{args[0]} failed: {out.stdout}\n{out.stderr}")

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w",
                  "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except Exception:  # noqa: BLE001, S110 - already down
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def pids(self) -> list[int]:
        """The postmaster first, then every process it started (backends, checkpointer, WAL writer, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def signal_all(self, sig: int) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def crash(self) -> None:
        """SIGKILL every process of the cluster at once: a crash, not a stop (no checkpoint, no goodbye)."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid) for pid in pids) \
                and time.monotonic() < deadline:
            time.sleep(0.05)

    def start_after_crash(self) -> None:
        """Start again on the crashed data directory (PostgreSQL replays its WAL: crash recovery)."""
        for attempt in range(20):
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def load_schema_from(self, source_url: str, name: str) -> str:
        psql(f"CREATE DATABASE {name}", url=f"{self.url}/postgres")
        dump = subprocess.run(["pg_dump", "--no-owner", source_url], capture_output=True, text=True, timeout=120,
                              check=True).stdout
        out = subprocess.run(["psql", f"{self.url}/{name}", "-q", "-v", "ON_ERROR_STOP=1"], input=dump,
                             capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        return f"{self.url}/{name}"


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0]
    except (OSError, IndexError):
        return "gone"


class OwnRedis:
    """A throwaway redis-server on its own port and folder, persisting like docker-compose's
    (`--appendonly yes`), safe to restart: nobody else uses it. Never the shared one on 6379."""

    def __init__(self, port: int):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("redis-server is not installed")
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="kaleido-hard-redis-"))
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", str(self.dir / "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                                        timeout=5).stdout.strip() == b"PONG", timeout=20, every=0.1,
                 what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        """A restart's first half: SIGTERM, on which Redis writes its append-only file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def flush_redis() -> None:
    """Empty Redis db 7 (hold `redis_db_lock`: another test may be using it)."""
    subprocess.run(["redis-cli", "-n", "7", "flushdb"], capture_output=True, timeout=10, check=True)


@contextmanager
def redis_db_lock():
    """The tests that start workers or empty Redis db 7 take turns, even across pytest-xdist workers:
    two of them at once would flush or consume each other's queued tasks."""
    import fcntl

    with open(Path(tempfile.gettempdir()) / "kaleido-hard-redis7.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- a served placement under rank and events load, counted against what the clients were answered ----------

SEED_SERVED = """
import json
from django.utils import timezone
from access.services import api_key_create
from creative.models import Placement, StyleVariant
from ranking.models import Decision
p = Placement.objects.create(slug="fault-load", name="Fault load", width=750, height=300)
vs = [StyleVariant.objects.create(placement=p, variant_key=f"v{i}", status="live") for i in range(3)]
p.control_variant = vs[0]
p.save()
shown = Decision.objects.bulk_create([Decision(placement=p, user_id=f"shown-{i}", bucket="random", candidates=3,
    items=[{"variant_id": vs[0].id, "rank": 1, "propensity": 1.0}], created_at=timezone.now()) for i in range(%d)])
print(json.dumps({"key": api_key_create(name="fault load", scopes=["rank", "events"]).secret, "placement": p.id,
                  "slug": p.slug, "variant": vs[0].id, "shown": [str(d.decision_id) for d in shown]}))
"""


def seed_served(env: dict[str, str], *, shown: int = 1500) -> dict:
    """A placement with three live variants, a rank+events key, and `shown` decisions already stored for the
    events to report on (an event must name a decision /rank answered)."""
    return django_shell(SEED_SERVED % shown, env=env)


class ServedLoad:
    """Rank calls and event batches sent the way the SDK sends them (retrying 0/429/5xx with backoff, the
    same body each time), recording every answer: the ground truth the stored rows are counted against."""

    def __init__(self, base_url: str, seed: dict, *, prefix: str, rank_calls: int = 240, event_batches: int = 60,
                 batch_size: int = 25, deadline_s: float = 90):
        self.base, self.seed, self.prefix = base_url, seed, prefix
        self.rank_calls, self.deadline_s = rank_calls, deadline_s
        assert event_batches * batch_size <= len(seed["shown"])
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.batches = [[{"event_id": f"{prefix}-e-{b}-{i}", "type": "impression", "variant_id": seed["variant"],
                          "decision_id": seed["shown"][b * batch_size + i], "user_id": f"shown-{b * batch_size + i}",
                          "placement": seed["slug"], "position": 1, "ts": now} for i in range(batch_size)]
                        for b in range(event_batches)]
        self.answered: list[str] = []  # decision ids of rank calls answered 200
        self.rank_gave_up = 0  # tries that got no answer at all (the server may still have logged them)
        self.event_results: dict[int, tuple] = {}
        self.failures: list[tuple[float, int]] = []  # (when, status) of every failed try, both endpoints
        self.fault_at = 0.0

    def _ranker(self, calls: range, deadline: float) -> None:
        for i in calls:
            body = {"placement": self.seed["slug"], "user": {"id": f"{self.prefix}-r{i}"}, "k": 1}
            attempt = 0
            while True:
                attempt += 1
                try:
                    status, answer = post_json(f"{self.base}/api/v1/rank", body, key=self.seed["key"])
                except OSError:
                    status, answer = 0, {}
                if status == 200:
                    self.answered.append(answer["decision_id"])
                    break
                self.failures.append((time.monotonic(), status))
                self.rank_gave_up += status == 0
                if time.monotonic() > deadline or (status and status < 500 and status != 429):
                    break
                time.sleep(random.uniform(0, min(2.0, 0.25 * 2 ** attempt)))
            time.sleep(0.02)

    def _sender(self, mine: range, deadline: float) -> None:
        for b in mine:
            self.event_results[b] = send_like_the_sdk(f"{self.base}/api/v1/events", {"events": self.batches[b]},
                                                      key=self.seed["key"], deadline=deadline, log=self.failures)
            time.sleep(0.05)

    def run(self, fault, *, after_s: float = 1.0) -> None:
        """Send everything from 4 threads (2 rank, 2 events); `fault()` runs `after_s` into the load."""
        deadline = time.monotonic() + self.deadline_s
        threads = [threading.Thread(target=self._ranker, args=(range(t, self.rank_calls, 2), deadline))
                   for t in range(2)]
        threads += [threading.Thread(target=self._sender, args=(range(t, len(self.batches), 2), deadline))
                    for t in range(2)]
        for t in threads:
            t.start()
        time.sleep(after_s)
        self.fault_at = time.monotonic()
        fault()
        for t in threads:
            t.join(timeout=self.deadline_s + 60)

    def count(self, db: str) -> dict:
        """What the database holds for this load, next to what the clients were told."""
        events, distinct = map(int, psql(
            f"SELECT count(*), count(DISTINCT event_id) FROM analytics_event WHERE event_id LIKE '{self.prefix}-e-%'",
            url=db).split("|"))
        ledger = int(psql(f"SELECT count(*) FROM analytics_eventkey WHERE event_id LIKE '{self.prefix}-e-%'", url=db))
        rows = psql(f"SELECT decision_id FROM ranking_decision WHERE user_id LIKE '{self.prefix}-r%'", url=db)
        decisions = [r.replace("-", "") for r in rows.split("\n") if r]
        return {"events_sent": sum(len(b) for b in self.batches), "events": events, "events_distinct": distinct,
                "ledger": ledger, "decisions": decisions,
                "answers": sorted({r[0] for r in self.event_results.values()})}

    def check(self, db: str, *, label: str) -> dict:
        """Nothing lost, nothing doubled: every event once; every answered decision stored once (plus at most
        one per try the client gave up on, whose call the server may have finished after all)."""
        counted = self.count(db)
        answered = {d.replace("-", "") for d in self.answered}
        stored = counted["decisions"]
        during = [s for when, s in self.failures if when >= self.fault_at]
        print(f"\n[{label}] events: sent {counted['events_sent']} in {len(self.batches)} batches, answers "
              f"{counted['answers']}, stored {counted['events']} ({counted['events_distinct']} distinct, ledger "
              f"{counted['ledger']}); rank: {len(answered)} answered, {len(stored)} decisions stored "
              f"({len(set(stored))} distinct, {len(set(stored) - answered)} not answered, {self.rank_gave_up} tries "
              f"given up); {len(self.failures)} failed tries (statuses {sorted({s for _, s in self.failures})}, "
              f"{len(during)} after the fault began), all retried")
        assert len(self.event_results) == len(self.batches), "some event batches were never sent"
        assert all(r[0] == 202 for r in self.event_results.values()), self.event_results
        assert counted["events"] == counted["events_distinct"] == counted["ledger"] == counted["events_sent"]
        assert len(answered) == self.rank_calls, f"only {len(answered)} of {self.rank_calls} rank calls answered"
        assert len(stored) == len(set(stored)), "a decision was stored twice"
        assert answered <= set(stored), f"{len(answered - set(stored))} answered decisions are not stored"
        assert len(set(stored) - answered) <= self.rank_gave_up
        assert {s for _, s in self.failures} <= {0, 503}, sorted({s for _, s in self.failures})  # never a 500
        return counted
