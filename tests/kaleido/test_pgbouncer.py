"""Behind PgBouncer in transaction mode (docker-compose.yml) the app keeps no session state between
transactions: ingestion (COPY into a temporary staging table, server-side binding), the rollup refresh
(advisory transaction locks, local settings), partition upkeep, retention and rank calls all work when two
threads share two pooled server connections, and the counts come out exact; training's streamed read (a
named cursor inside one transaction) fetches chunk by chunk while another client shares the pool.

Runs where PostgreSQL and a `pgbouncer` binary are installed (skipped otherwise): a pgbouncer in
transaction mode in front of the test database, and a separate process configured as the compose file
configures the app (DATABASE_URL through the pooler, KALEIDO_PGBOUNCER=1).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORK = r"""
import json, threading, uuid
import django
django.setup()
from django.conf import settings
from django.db import connection
from analytics import partitions
from analytics.ingestion import record_events
from analytics.rollups import apply_retention, refresh_rollups
from creative.models import Placement, StyleVariant, VariantStatus
from ranking import serving

assert settings.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"]
assert "options" not in settings.DATABASES["default"]["OPTIONS"]
placement = Placement.objects.create(slug="pooled", name="Pooled", width=750, height=300)
variants = [StyleVariant.objects.create(placement=placement, variant_key=f"v{i}", status=VariantStatus.LIVE,
                                        tags={"layout": ["single"]}) for i in range(3)]
partitions.ensure_upcoming_partitions()
errors, accepted = [], []

def worker(t):
    try:
        for b in range(6):
            batch = []
            for i in range(50):
                answer = serving.rank(placement="pooled", user_id=f"u-{t}-{b}-{i}", k=1)
                item = answer.items[0]
                batch.append({"event_id": uuid.uuid4().hex, "type": "impression", "decision_id": answer.decision_id,
                              "variant_id": item.variant_id, "user_id": f"u-{t}-{b}-{i}", "placement": "pooled",
                              "position": 1, "ts": answer_time()})
            accepted.append(record_events(batch + batch[:5]).accepted)  # the repeats are duplicates
            refresh_rollups()
    except Exception as exc:  # reported to the test
        errors.append(repr(exc))
    finally:
        connection.close()

def answer_time():
    from django.utils import timezone
    return timezone.now().isoformat()

threads = [threading.Thread(target=worker, args=(t,)) for t in range(2)]
for t in threads: t.start()
for t in threads: t.join()
refresh_rollups()
apply_retention()
serving.invalidate_catalogue()
cat = serving.get_catalogue("pooled")
print(json.dumps({"errors": errors, "accepted": sum(accepted), "catalogue": int(cat.impressions.sum())}))
"""


TRAIN = r"""
import json, threading, uuid
import django
django.setup()
from django.db import connection
from django.utils import timezone
from analytics import partitions
from analytics.ingestion import record_events
from creative.models import Placement, StyleVariant, VariantStatus
from ranking import serving
from ranking.training import collect_rows

placement = Placement.objects.create(slug="pooled-train", name="Pooled", width=750, height=300)
for i in range(3):
    StyleVariant.objects.create(placement=placement, variant_key=f"v{i}", status=VariantStatus.LIVE,
                                tags={"layout": ["single" if i else "split"]})
partitions.ensure_upcoming_partitions()
batch = []
for i in range(300):
    answer = serving.rank(placement="pooled-train", user_id=f"u{i}", k=1, features={"age": 20 + i % 40})
    item = answer.items[0]
    base = {"decision_id": answer.decision_id, "variant_id": item.variant_id, "user_id": f"u{i}",
            "placement": "pooled-train", "position": 1, "ts": timezone.now().isoformat()}
    batch.append({**base, "event_id": uuid.uuid4().hex, "type": "impression"})
    if i % 7 == 0:
        batch.append({**base, "event_id": uuid.uuid4().hex, "type": "click"})
accepted = record_events(batch).accepted
errors, during = [], []

def ingest_beside():
    # Another client of the same two pooled server connections while the training read streams.
    try:
        for b in range(5):
            answer = serving.rank(placement="pooled-train", user_id=f"w{b}", k=1)
            during.append(record_events([{"event_id": uuid.uuid4().hex, "type": "impression",
                                          "decision_id": answer.decision_id, "variant_id": answer.items[0].variant_id,
                                          "user_id": f"w{b}", "placement": "pooled-train", "position": 1,
                                          "ts": timezone.now().isoformat()}]).accepted)
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

beside = threading.Thread(target=ingest_beside)
beside.start()
data = collect_rows(placement_ids=[placement.id], click_window_s=0, chunk_rows=40, max_rows=0)
beside.join()
print(json.dumps({"errors": errors, "accepted": accepted, "rows": len(data), "clicks": int(data.labels.sum()),
                  "chunks": data.sampling["chunks"], "during": sum(during)}))
"""


def _pooled_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update({"DATABASE_URL": url, "KALEIDO_PGBOUNCER": "1", "DJANGO_SETTINGS_MODULE": "kaleido.settings",
                "PYTHONPATH": f"{ROOT / 'platform'}{os.pathsep}{ROOT}", "DEBUG": "1", "KALEIDO_DECISION_LOG": "direct",
                "CELERY_BROKER_URL": "", "REDIS_URL": ""})
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pgbouncer():
    db = connections["default"]
    if db.vendor != "postgresql" or shutil.which("pgbouncer") is None:
        pytest.skip("needs PostgreSQL and a pgbouncer binary")
    params = db.settings_dict
    port = _free_port()
    # Its own folder outside pytest's (which only root may enter): pgbouncer drops root for `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="kaleido-pgbouncer-"))
    folder.chmod(0o755)
    (folder / "users.txt").write_text(f'"{params["USER"]}" ""\n')
    (folder / "pgbouncer.ini").write_text(f"""[databases]
{params["NAME"]} = host={params["HOST"] or "127.0.0.1"} port={params["PORT"] or 5432} dbname={params["NAME"]} user={params["USER"]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = 2
max_client_conn = 50
ignore_startup_parameters = extra_float_digits,options
""")
    for f in folder.iterdir():
        f.chmod(0o644)
    user = ["-u", "postgres"] if os.geteuid() == 0 else []  # pgbouncer refuses to run as root
    proc = subprocess.Popen(["pgbouncer", *user, str(folder / "pgbouncer.ini")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"pgbouncer did not start: {proc.stdout.read()}")
    try:
        yield f"postgres://{params['USER']}@127.0.0.1:{port}/{params['NAME']}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_ingestion_rollups_retention_and_rank_work_through_a_transaction_pool(pgbouncer):
    result = subprocess.run([sys.executable, "-c", WORK], env=_pooled_env(pgbouncer), cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["errors"] == []
    assert found["accepted"] == 2 * 6 * 50  # each batch's five repeats were duplicates
    assert found["catalogue"] == found["accepted"]  # every impression counted once in the running totals


def test_training_streams_the_log_in_chunks_through_a_transaction_pool(pgbouncer):
    # The training read is a named cursor inside one transaction: transaction pooling keeps that server
    # connection for the whole read, so it streams chunk by chunk while another client shares the pool.
    result = subprocess.run([sys.executable, "-c", TRAIN], env=_pooled_env(pgbouncer), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["errors"] == [] and found["during"] == 5
    assert found["rows"] >= 300 and found["clicks"] == 43  # every impression before the read, each click once
    assert len(found["chunks"]) >= 8 and max(found["chunks"]) <= 40  # 300+ rows, 40 a fetch
