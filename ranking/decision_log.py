"""How each rank call's `Decision` reaches the database: written directly, or journaled and flushed.

`KALEIDO_DECISION_LOG` picks the mode:

- ``direct`` (the default): one INSERT per call before answering (`write_decision`). Simplest; costs a
  database round trip on every call.
- ``journal``: the call appends its decision as one JSON line to this process's journal segment, a
  file under `KALEIDO_DECISION_JOURNAL_DIR` (one `write()` into the kernel's page cache, no round
  trip), and answers. A flusher thread in the same process copies new lines into the database every
  `KALEIDO_DECISION_FLUSH_S` seconds, in one statement per batch. Nothing is held only in process
  memory: once the call has answered, its decision is in a file the kernel owns, so a crash or kill of
  the web process loses nothing. The segment stays locked (`flock`) while its process lives; a
  segment whose lock can be taken belongs to a dead process, and the next process on the host to
  start a flusher (every flusher also looks every `RECOVER_EVERY_S`) inserts it and removes it;
  `manage.py flush_decisions` does the same on demand. Inserts skip decision ids already stored, so a
  segment flushed twice (a crash between the insert and the unlink) stores each decision once. A
  segment is created under a name recovery ignores and renamed into place only once locked, so a
  recovery can never take a segment that is being born for an orphan.

  What reaches the disk, not only the page cache, is `KALEIDO_DECISION_FSYNC`'s choice (docs/ranking.md):
  ``none``: nothing is synced; a power loss or kernel crash loses what the kernel had not yet written
  back (up to its writeback delay, ~30 s on Linux defaults, while the database is away). ``interval``
  (the default): the flusher fdatasyncs every segment with new lines every flush interval, also while
  the database is away, so a power loss loses at most one interval of decisions. ``always``: each
  append is fdatasynced before the call answers; an answered decision survives a power loss (on a disk
  that honours flushes), at one disk flush per call. New segment names are made durable (the folder
  is fsynced) in both syncing modes.

  The cost: a decision reaches the table up to one flush interval after its call. An event that
  arrives first is stored with its decision fields empty, and the rollup refresh fills them in (the
  same path as any late decision, see analytics.ingestion).

A line the database refuses for its contents (class 22/23 errors: a NUL that edge validation should
have stopped, a line an older release or a hand wrote) never holds up the others: the batch is split
until that line stands alone, the rest is stored, and the line is moved to `quarantine/<segment>` beside
the journal with the reason, and logged (`decision_journal_quarantined_total`). The flusher, recovery
and `flush_decisions` all take this path. A database that is away leaves every line waiting instead.

If a journal cannot be written (disk full, directory not writable) the call falls back to `direct`.
bench/rank.py measures both modes.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import DataError, IntegrityError, connection, connections, transaction
from django.utils.dateparse import parse_datetime

from creative.models import Placement
from kaleido.metrics import DECISIONS_FLUSHED, DECISIONS_JOURNALED, DECISIONS_QUARANTINED, JOURNAL_FLUSH_LAG

from .models import Decision, Experiment

log = logging.getLogger(__name__)

DIRECT, JOURNAL = "direct", "journal"
SUFFIX = ".jsonl"
PENDING_SUFFIX = ".creating"  # a segment not yet locked: recovery reads only names ending in SUFFIX
PENDING_MAX_AGE_S = 60.0  # an unlocked pending file this old was left by a process that died creating it
FSYNC_NONE, FSYNC_INTERVAL, FSYNC_ALWAYS = "none", "interval", "always"
RECOVER_EVERY_S = 10.0
BATCH_ROWS = 2000  # decisions per INSERT statement


# --- direct mode ----------------------------------------------------------------------------------------------

def write_decision(decision: Decision) -> None:
    """INSERT the decision before answering: one statement, one round trip.

    On PostgreSQL the statement commits with synchronous_commit off (KALEIDO_DECISION_ASYNC_COMMIT):
    the commit does not wait for the WAL flush, so the row survives any crash of the web process and
    is lost only if the database server itself crashes within a fraction of a second. The setting
    rides in the same statement (a CTE calling set_config with is_local) so autocommit makes it one
    round trip instead of BEGIN / SET LOCAL / INSERT / COMMIT. Inside a caller's transaction the
    caller's durability is kept.
    """
    if (settings.KALEIDO_DECISION_ASYNC_COMMIT and connection.vendor == "postgresql"
            and not connection.in_atomic_block):
        sql, params = _async_insert_sql(decision)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    else:
        decision.save(force_insert=True)


_insert_sql: str | None = None


def _async_insert_sql(decision: Decision) -> tuple[str, list[Any]]:
    global _insert_sql
    fields = [f for f in Decision._meta.local_concrete_fields]
    if _insert_sql is None:
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        # Explicit casts: the values sit in a SELECT list, where an untyped literal would be text.
        values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
        # Only model metadata goes into the text; every value is a bound parameter.
        table = qn(Decision._meta.db_table)
        _insert_sql = (
            "WITH durability AS (SELECT set_config('synchronous_commit', 'off', true)) "  # noqa: S608
            f"INSERT INTO {table} ({columns}) SELECT {values} FROM durability"
        )
    params = [f.get_db_prep_save(f.pre_save(decision, add=True), connection) for f in fields]
    return _insert_sql, params


# --- the record a rank call logs ------------------------------------------------------------------------------

def log_decision(record: dict[str, Any]) -> None:
    """Store one decision record (the keys of `Decision`'s columns, `decision_id` as a hex string and
    `created_at` as an ISO 8601 string) the way KALEIDO_DECISION_LOG says."""
    if settings.KALEIDO_DECISION_LOG == JOURNAL:
        try:
            journal().append(record)
            return
        except OSError as exc:  # the journal is unusable here: never answer without a stored decision
            log.warning("decision journal unwritable (%s); writing the decision directly", exc)
    write_decision(decision_from_record(record))


def decision_from_record(record: dict[str, Any]) -> Decision:
    fields = dict(record)
    fields["decision_id"] = uuid.UUID(fields["decision_id"])
    fields["created_at"] = parse_datetime(fields["created_at"])
    return Decision(**fields)


# --- journal mode ---------------------------------------------------------------------------------------------

# Called between creating a segment's file and locking it (tests put a concurrent recovery here).
_between_create_and_lock: Callable[[Path], None] | None = None


class _Segment:
    """One append-only journal file, locked for as long as its writer lives.

    The file is born under a name recovery never reads (`<name>.jsonl.creating`), locked, and only then
    renamed to `<name>.jsonl`: a segment under its real name is locked from its first moment, so a
    recovery running at the same time can never take it for an orphan and remove it while it is written.
    """

    def __init__(self, path: Path, *, durable: bool = False) -> None:
        self.path = path
        pending = path.with_name(path.name + PENDING_SUFFIX)
        self.fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o640)
        try:
            if _between_create_and_lock is not None:
                _between_create_and_lock(pending)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(pending, path)  # same inode, lock kept
            if durable:
                _fsync_directory(path.parent)  # the new name survives a power loss, not only the bytes
        except BaseException:
            pending.unlink(missing_ok=True)
            os.close(self.fd)
            raise
        self.written = 0  # bytes of whole lines appended
        self.flushed = 0  # bytes already in the database
        self.synced = 0  # bytes known to be on disk (fdatasync)

    def sync(self, end: int) -> None:
        if end > self.synced:
            os.fdatasync(self.fd)
            self.synced = end

    def close_and_remove(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DecisionJournal:
    """This process's journal: appends from request threads, one flusher thread, recovery of orphans."""

    def __init__(self, directory: Path, *, flush_s: float, segment_bytes: int, fsync: str = FSYNC_NONE) -> None:
        if fsync not in (FSYNC_NONE, FSYNC_INTERVAL, FSYNC_ALWAYS):
            raise ValueError(f"fsync must be none, interval or always, not {fsync!r}")
        self.directory = Path(directory)
        self.flush_s = flush_s
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.pid = os.getpid()
        self._lock = threading.Lock()  # the current segment and the list of rotated ones
        self._flush_lock = threading.Lock()  # one flush at a time
        self._segment: _Segment | None = None
        self._rotated: list[_Segment] = []
        self._seq = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # request path

    def append(self, record: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # an integer feature past 64 bits: json writes it, PostgreSQL's jsonb reads it
            line = (json.dumps(record, separators=(",", ":")) + "\n").encode()  # ASCII: always encodable
        with self._lock:
            segment = self._segment or self._open_segment()
            try:
                written = os.write(segment.fd, line)
            except OSError:
                # Disk full (or failing): retire a segment that holds lines, so the flusher stores them and
                # removes the file, giving its space back; the caller writes this decision directly.
                if segment.written:
                    self._rotate()
                raise
            if written != len(line):  # a partial line: retire this segment, let the caller write directly
                self._rotate()
                raise OSError(f"short write to {segment.path}")
            if self.fsync == FSYNC_ALWAYS:
                try:
                    os.fdatasync(segment.fd)
                except OSError:
                    # Not known to be on disk: take the line back out (the caller writes the decision
                    # directly, and it must not be stored twice) and retire the segment.
                    os.ftruncate(segment.fd, segment.written)
                    self._rotate()
                    raise
                segment.synced = segment.written + written
            segment.written += written
            if segment.written >= self.segment_bytes:
                self._rotate()
        DECISIONS_JOURNALED.inc()
        if self._thread is None:
            self._start_flusher()

    def _open_segment(self) -> _Segment:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        name = f"{socket.gethostname()}-{self.pid}-{self._seq}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        self._segment = _Segment(self.directory / name, durable=self.fsync != FSYNC_NONE)
        return self._segment

    def _rotate(self) -> None:
        if self._segment is not None:
            self._rotated.append(self._segment)
            self._segment = None

    # flushing

    def _start_flusher(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="decision-journal-flusher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        next_recovery = 0.0
        next_flush = 0.0
        failures = 0
        last_ok = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            if self.fsync == FSYNC_INTERVAL:  # every interval, also while the database is away
                try:
                    self.sync()
                except OSError:
                    log.warning("decision journal: fdatasync failed", exc_info=True)
            if time.monotonic() < next_flush:
                continue
            try:
                self.flush()
                if time.monotonic() >= next_recovery:
                    recover_orphans(self.directory)
                    next_recovery = time.monotonic() + RECOVER_EVERY_S
                failures = 0
                last_ok = time.monotonic()
                JOURNAL_FLUSH_LAG.set(0)
            except Exception:  # the database is away: the lines wait in the file; back off and retry
                failures += 1
                JOURNAL_FLUSH_LAG.set(time.monotonic() - last_ok)
                next_flush = time.monotonic() + self.flush_s * min(2 ** failures, 50)
                log.warning("decision journal flush failed (attempt %d); retrying", failures, exc_info=True)
                connections.close_all()  # this thread's connections only; the next try reconnects
        connections.close_all()

    def sync(self) -> None:
        """fdatasync every segment holding lines not yet known to be on disk (KALEIDO_DECISION_FSYNC=interval)."""
        with self._flush_lock:  # segments are closed only under this lock, never while synced here
            with self._lock:
                segments = [(s, s.written) for s in [*self._rotated, self._segment] if s is not None]
            for segment, end in segments:
                segment.sync(end)

    def flush(self) -> int:
        """Copy every whole line not yet in the database into it; returns how many decisions were sent."""
        with self._flush_lock:
            with self._lock:
                rotated = list(self._rotated)
                current = self._segment
                end = current.written if current is not None else 0
            sent = 0
            for segment in rotated:
                sent += _insert_lines(_read_lines(segment.path, segment.flushed, segment.written), segment.path)
                with self._lock:
                    self._rotated.remove(segment)
                segment.close_and_remove()
            if current is not None and end > current.flushed:
                sent += _insert_lines(_read_lines(current.path, current.flushed, end), current.path)
                current.flushed = end
            return sent

    def close(self) -> None:
        """Flush what is left and remove the segment (at process exit); a failure leaves it for recovery."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)  # it closes its own database connection on the way out
        try:
            self.flush()
        except Exception:
            log.warning("decision journal: final flush failed; the segment is left for recovery", exc_info=True)
            if self.fsync != FSYNC_NONE:
                try:
                    self.sync()
                except OSError:
                    log.warning("decision journal: fdatasync failed", exc_info=True)
            return
        with self._flush_lock, self._lock:
            if self._segment is not None and self._segment.flushed == self._segment.written:
                self._segment.close_and_remove()
                self._segment = None


def _read_lines(path: Path, start: int, end: int) -> list[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    return [line for line in data.split(b"\n") if line]


def _insert_lines(lines: list[bytes], source: Path) -> int:
    """Insert journal lines, skipping decision ids already stored. A decision whose placement was
    deleted meanwhile is dropped (its rows would have been deleted with it); one whose experiment was
    deleted keeps its row with the experiment emptied, as deleting the experiment does.

    A line the database refuses never holds up the others: see `_insert_isolating`.
    """
    total = 0
    for i in range(0, len(lines), BATCH_ROWS):
        batch = lines[i:i + BATCH_ROWS]
        _insert_isolating(batch, source)
        total += len(batch)
    return total


# What the database says about the rows themselves (SQLSTATE classes 22 and 23), as against the database
# being away (OperationalError, InterfaceError), which leaves every line waiting for the next try.
_REFUSED_ROWS = (DataError, IntegrityError)
_LINE_REFUSED = (ValueError, TypeError, KeyError)  # a line that is not a decision record at all


def _insert_isolating(batch: list[bytes], source: Path) -> None:
    """Insert the batch in one statement; if the database refuses it for its contents, split it in halves
    until the refused lines stand alone, store the rest, and quarantine those (`_quarantine`).

    Edge validation keeps such lines out of the journal; this is the guarantee that one line that got
    through anyway (an older release's, a hand-edited file) costs its own decision, never the flusher.
    """
    try:
        _insert_batch(batch)
        DECISIONS_FLUSHED.inc(len(batch))
        return
    except _REFUSED_ROWS + _LINE_REFUSED as exc:
        if len(batch) == 1:
            _quarantine(source, batch[0], exc)
            return
    middle = len(batch) // 2
    _insert_isolating(batch[:middle], source)
    _insert_isolating(batch[middle:], source)


def _insert_batch(batch: list[bytes]) -> None:
    if connection.vendor == "postgresql":
        _insert_postgresql(batch)
    else:
        _insert_generic(batch)


QUARANTINE_DIR = "quarantine"


def _quarantine(source: Path, line: bytes, exc: Exception) -> None:
    """Keep a line the database refused beside the journal, with the reason, for an operator to read.

    The file is `<journal dir>/quarantine/<segment name>`: one JSON object a line, {"reason", "line"}
    with the line as it was (decoded with replacement where it is not UTF-8).
    """
    reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    folder = source.parent / QUARANTINE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    entry = json.dumps({"reason": reason, "line": line.decode("utf-8", "replace"),
                        "quarantined_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    with open(folder / source.name, "a", encoding="utf-8") as f:
        f.write(entry + "\n")
    with _quarantined_lock:
        global quarantined_total
        quarantined_total += 1
    DECISIONS_QUARANTINED.inc()
    log.error("decision journal: quarantined a line the database refused (%s) from %s into %s; "
              "decision_journal_quarantined_total=%d", reason, source.name, folder / source.name, quarantined_total)


quarantined_total = 0  # lines this process quarantined, for the log line and tests
_quarantined_lock = threading.Lock()


# PostgreSQL parses the lines itself (jsonb_to_recordset): no per-row work in Python.
_PG_INSERT = (
    "INSERT INTO ranking_decision (decision_id, placement_id, user_id, features, context, bucket, experiment_id, "
    "model_version, items, created_at, assigned_bucket, fallback_reason, candidates) "
    "SELECT r.decision_id, r.placement_id, r.user_id, COALESCE(r.features, '{}'), COALESCE(r.context, '{}'), "
    "r.bucket, e.id, COALESCE(r.model_version, ''), COALESCE(r.items, '[]'), r.created_at, "
    "COALESCE(r.assigned_bucket, ''), COALESCE(r.fallback_reason, ''), COALESCE(r.candidates, 0) "
    "FROM jsonb_to_recordset(%s::jsonb) AS r(decision_id uuid, placement_id bigint, user_id text, features jsonb, "
    "context jsonb, bucket text, experiment_id bigint, model_version text, items jsonb, created_at timestamptz, "
    "assigned_bucket text, fallback_reason text, candidates integer) "
    "JOIN creative_placement p ON p.id = r.placement_id "
    "LEFT JOIN ranking_experiment e ON e.id = r.experiment_id "
    "ON CONFLICT (decision_id) DO NOTHING"
)


def _insert_postgresql(lines: list[bytes]) -> None:
    payload = b"[" + b",".join(lines) + b"]"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_PG_INSERT, [payload.decode()])


def _insert_generic(lines: list[bytes]) -> None:
    records = [json.loads(line) for line in lines]
    placements = set(Placement.objects.filter(id__in={r["placement_id"] for r in records})
                     .values_list("id", flat=True))
    experiments = set(Experiment.objects.filter(id__in={r.get("experiment_id") for r in records} - {None})
                      .values_list("id", flat=True))
    decisions = []
    for record in records:
        if record["placement_id"] not in placements:
            continue
        if record.get("experiment_id") not in experiments:
            record["experiment_id"] = None
        decisions.append(decision_from_record(record))
    with transaction.atomic():
        Decision.objects.bulk_create(decisions, ignore_conflicts=True)


def recover_orphans(directory: Path | None = None) -> int:
    """Insert and remove every journal segment whose process is gone; returns decisions sent.

    A segment is an orphan when its lock can be taken: its writer holds the lock until it removes it.
    Lines that do not parse (a write cut short by a crash) are skipped with a warning.
    """
    directory = Path(directory or settings.KALEIDO_DECISION_JOURNAL_DIR)
    if not directory.is_dir():
        return 0
    _remove_stale_pending(directory)
    sent = 0
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # another process recovered it first
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            if not _same_file(fd, path):
                continue  # removed (or replaced) between our open and our lock
            lines = _whole_records(path)
            sent += _insert_lines(lines, path)
            path.unlink(missing_ok=True)
            if lines:
                log.info("decision journal: recovered %d decisions from %s", len(lines), path.name)
        finally:
            os.close(fd)
    return sent


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _remove_stale_pending(directory: Path) -> None:
    """Remove pending segment files (`*.creating`) that a process left when it died between creating and
    locking one. They hold nothing (nothing is written before the rename), and only an unlocked one
    older than PENDING_MAX_AGE_S is touched; were its writer alive after all, its rename would fail
    and its call would write the decision directly."""
    for path in directory.glob(f"*{SUFFIX}{PENDING_SUFFIX}"):
        try:
            if time.time() - path.stat().st_mtime < PENDING_MAX_AGE_S:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(fd, path):
                path.unlink(missing_ok=True)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)


def _whole_records(path: Path) -> list[bytes]:
    lines = []
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            log.warning("decision journal %s: skipping a line cut short (%d bytes)", path.name, len(line))
            continue
        if isinstance(record, dict) and "decision_id" in record and "placement_id" in record:
            lines.append(line)
    return lines


# --- the process's journal ------------------------------------------------------------------------------------

_journal: DecisionJournal | None = None
_journal_lock = threading.Lock()


def journal() -> DecisionJournal:
    """This process's journal, made on first use (after any fork, so each worker has its own)."""
    global _journal
    current = _journal
    if current is not None and current.pid == os.getpid():
        return current
    with _journal_lock:
        if _journal is None or _journal.pid != os.getpid():
            _journal = DecisionJournal(Path(settings.KALEIDO_DECISION_JOURNAL_DIR),
                                       flush_s=settings.KALEIDO_DECISION_FLUSH_S,
                                       segment_bytes=settings.KALEIDO_DECISION_JOURNAL_SEGMENT_MB * 1024 * 1024,
                                       fsync=settings.KALEIDO_DECISION_FSYNC)
        return _journal


def flush_journal() -> int:
    """Send this process's journaled decisions to the database now (tests, commands, shutdown)."""
    current = _journal
    if current is None or current.pid != os.getpid():
        return 0
    return current.flush()


def close_journal() -> None:
    """Flush and retire this process's journal; the next decision starts a new one."""
    global _journal
    with _journal_lock:
        current, _journal = _journal, None
    if current is not None and current.pid == os.getpid():
        current.close()


def _after_fork_in_child() -> None:
    # The parent's segments and thread are not ours: drop our copies of its descriptors (its lock then
    # lives and dies with the parent alone) and start clean.
    global _journal, _journal_lock
    _journal_lock = threading.Lock()  # another thread may have held it at the fork
    inherited, _journal = _journal, None
    if inherited is not None:
        for segment in [inherited._segment, *inherited._rotated]:
            if segment is not None:
                try:
                    os.close(segment.fd)
                except OSError:
                    pass


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(close_journal)
