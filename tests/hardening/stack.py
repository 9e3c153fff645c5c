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


def ensure_template() -> None:
    """A migrated database to copy from, made once (migrating takes ~15 s; copying it, well under one)."""
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{TEMPLATE_DB}'")
    if exists:
        applied = psql("SELECT count(*) FROM django_migrations", url=f"{PG_ADMIN}/{TEMPLATE_DB}")
        on_disk = sum(1 for p in ROOT.glob("**/migrations/0*.py") if ".venv" not in p.parts)
        if int(applied or 0) >= on_disk:
            return
        psql(f"DROP DATABASE {TEMPLATE_DB}")
    psql(f"CREATE DATABASE {TEMPLATE_DB}")
    manage("migrate", "--noinput", "-v0", env=app_env(f"{PG_ADMIN}/{TEMPLATE_DB}"), timeout=240)


def fresh_database(name: str) -> str:
    """A new database copied from the migrated template; returns its URL."""
    ensure_template()
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
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

    def load_schema_from(self, source_url: str, name: str) -> str:
        psql(f"CREATE DATABASE {name}", url=f"{self.url}/postgres")
        dump = subprocess.run(["pg_dump", "--no-owner", source_url], capture_output=True, text=True, timeout=120,
                              check=True).stdout
        out = subprocess.run(["psql", f"{self.url}/{name}", "-q", "-v", "ON_ERROR_STOP=1"], input=dump,
                             capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise RuntimeError(out.stderr[-2000:])
        return f"{self.url}/{name}"


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
