"""Send records written off the request path: a durable local journal and a background flusher.

A serving process does not commit its sends-log row and experiment exposures inside the
render. :meth:`SendWriter.append` writes them as one JSON line to the process's journal
segment (``<send_journal>/<host>-<pid>-<random>-<n>.jsonl``) and returns; a thread seals
the segment every ``send_flush_ms``, inserts everything in it with
:func:`~tailor.monitor.sends.record_sends` (one transaction per segment) and deletes it.

Nothing acknowledged is lost:

* ``kill -9``: a line is in the kernel once ``write`` returned, so it outlives the process.
  Each segment is ``flock``-ed by its process while it lives; the kernel drops the lock when
  the process dies, however it dies. A process starting (every ``tailor serve`` worker
  boot) and every flusher cycle take over the unlocked segments of the dead and insert them.
* a crash between the insert and the delete: the segment is inserted again, and the
  store's unique keys (``(profile_id, send_key)`` for sends, ``(experiment, profile_id,
  send_key)`` for exposures) make the replay insert nothing twice.
* the store down: segments wait on disk and are retried, less and less often (up to
  every 30 s), and by the next process if this one stops first. Rows the store refuses
  for another reason (a bug) are set aside as ``*.rejected`` with an error logged, so
  they cannot hold up every later send.
* ``SIGTERM``: :meth:`SendWriter.close` (also run at exit) stops the thread and flushes
  what is left.

An erasure is not undone: rows of a person erased after they were journaled are dropped
at insert (the erasure log's keyed hashes, :func:`tailor.store.privacy.last_erasures`).

fsync: by default the flusher fsyncs a segment before it tries to insert it, so what
waits on a down store also survives a power cut; a render never waits for a disk flush.
Lines younger than one cycle are in the page cache only: a power cut (not a process kill)
can lose them. ``send_journal_fsync`` fsyncs every line inside the render instead.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime

from tailor.monitor.sends import record_sends
from tailor.store.lazy import is_unreachable
from tailor.store.models import Exposure, Send

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"
#: the suffix of a segment whose rows the store refused (a bug, not an outage)
REJECTED = ".rejected"
#: the longest wait between two attempts while the store is down
MAX_RETRY_S = 30.0
#: the columns stored as datetimes, read back from their ISO text
_DATETIMES = {
    "sends": {c.name for c in Send.__table__.columns if isinstance(c.type, DateTime)},
    "exposures": {c.name for c in Exposure.__table__.columns if isinstance(c.type, DateTime)},
}


class Journaled:
    """Send rows and exposures read from the journal, each with when it was journaled."""

    def __init__(self) -> None:
        self.sends: list[tuple[datetime, dict[str, Any]]] = []
        self.exposures: list[tuple[datetime, dict[str, Any]]] = []

    def add(self, at: datetime, sends: list[dict[str, Any]], exposures: list[dict[str, Any]]) -> None:
        self.sends += [(at, row) for row in sends]
        self.exposures += [(at, row) for row in exposures]

    def write(self, store: Any) -> int:
        """Insert everything in one transaction but the rows journaled before their person was
        erased (an erasure must not be undone by a send that was waiting); the new send rows."""
        from tailor.store.privacy import last_erasures

        people = {row["profile_id"] for _, row in self.sends + self.exposures}
        with store.engine.connect() as conn:
            erased = last_erasures(conn, store.hash_email, people) if people else {}

        def kept(rows: list[tuple[datetime, dict[str, Any]]]) -> list[dict[str, Any]]:
            return [row for at, row in rows if row["profile_id"] not in erased or at > erased[row["profile_id"]]]

        return record_sends(store, kept(self.sends), kept(self.exposures))


class Segment:
    """One journal file, locked by whoever holds it open."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd

    @classmethod
    def create(cls, folder: Path, name: str) -> Segment:
        """A new empty segment, locked before it gets the name other processes look for."""
        draft = folder / f".{name}.draft"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = folder / f"{name}{SUFFIX}"
        os.rename(draft, path)
        return cls(path, fd)

    @classmethod
    def take_over(cls, path: Path) -> Segment | None:
        """The segment at ``path`` when no living process holds it (its writer died), else None."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:  # not deleted by the one who had it before
                return cls(path, fd)
        except OSError:  # locked by its living writer, or gone meanwhile
            pass
        os.close(fd)
        return None

    def write(self, data: bytes, *, sync: bool) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        if sync:
            os.fsync(self.fd)

    def records(self) -> Journaled:
        """What this segment holds (a torn last line, from a power cut, is skipped)."""
        journaled = Journaled()
        with open(self.path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    record = json.loads(line)
                    at = datetime.fromisoformat(record["at"])
                except (ValueError, KeyError, TypeError):
                    logger.warning("send journal %s:%d: not a whole journal line, skipped", self.path, number)
                    continue
                journaled.add(
                    at,
                    [_parsed(row, _DATETIMES["sends"]) for row in record.get("sends", [])],
                    [_parsed(row, _DATETIMES["exposures"]) for row in record.get("exposures", [])],
                )
        return journaled

    def remove(self) -> None:
        """Delete the file, then let go of the lock (never the other way round)."""
        self.path.unlink(missing_ok=True)
        os.close(self.fd)

    def reject(self) -> tuple[str, str]:
        """Set the file aside, out of every flusher's sight, for someone to look at: (old name, new name)."""
        kept = self.path.with_suffix(REJECTED)
        os.rename(self.path, kept)
        os.close(self.fd)
        return self.path.name, kept.name

    def release(self) -> None:
        """Keep the file for another process (this one stops with it not yet inserted)."""
        os.close(self.fd)


class SendWriter:
    """Journals each render's send records and writes them to ``store`` in batches, off the request path."""

    def __init__(self, store: Any, folder: str | os.PathLike[str], *, flush_ms: int = 200, fsync: bool = False):
        self.store = store
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.flush_s = flush_ms / 1000
        self.fsync = fsync
        self._name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._count = 0
        self._lock = threading.Lock()  # the open segment: appends and sealing
        self._flushing = threading.Lock()  # the sealed segments: one flush at a time
        self._open: Segment | None = None
        #: sealed segments (this process's and the dead's it took over), oldest first
        self._sealed: list[Segment] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the request path ------------------------------------------------------

    def append(self, sends: list[dict[str, Any]], exposures: list[dict[str, Any]]) -> None:
        """Journal one render's rows; returns once they are in the kernel (and on disk with ``fsync``)."""
        record = {"at": datetime.now(UTC).replace(tzinfo=None), "sends": sends, "exposures": exposures}
        line = json.dumps(record, default=_iso, separators=(",", ":")).encode()
        with self._lock:
            if self._open is None:
                self._count += 1
                self._open = Segment.create(self.folder, f"{self._name}-{self._count}")
            self._open.write(line + b"\n", sync=self.fsync)

    # -- the flusher -----------------------------------------------------------

    def start(self) -> SendWriter:
        """Insert what dead processes left (now, if the store answers), then flush every cycle until closed."""
        self.flush()
        self._thread = threading.Thread(target=self._run, name="tailor-send-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)
        return self

    def _run(self) -> None:
        delay = self.flush_s
        while not self._stop.wait(delay):
            self.flush()
            # a store that is down is asked again less and less often (up to every 30 s)
            delay = min(delay * 2, MAX_RETRY_S) if self._sealed else self.flush_s

    def flush(self) -> int:
        """Seal the open segment, take over dead processes' segments, insert them all; the send rows inserted.

        A segment that fails (the store is down) stays, with what follows it, for the next flush.
        """
        with self._lock:
            if self._open is not None:
                self._sealed.append(self._open)
                self._open = None
        inserted = 0
        with self._flushing:
            self._sealed.extend(self._orphans())
            while self._sealed:
                segment = self._sealed[0]
                try:
                    if not self.fsync:
                        os.fsync(segment.fd)
                    inserted += segment.records().write(self.store)
                except Exception as exc:
                    if is_unreachable(exc):
                        logger.warning("send journal: %s waits for the store: %s", segment.path.name, exc)
                        break
                    # rows the store refuses (not a passing outage) must not hold up every later send
                    logger.error("send journal: the store refused %s, kept as %s: %s", *segment.reject(), exc)
                else:
                    segment.remove()
                self._sealed.pop(0)
        return inserted

    def _orphans(self) -> Iterator[Segment]:
        held = {s.path for s in self._sealed}
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            if path not in held and not path.name.startswith(self._name):
                segment = Segment.take_over(path)
                if segment is not None:
                    yield segment

    def pending(self) -> int:
        """Segments written and not yet in the store (this process's)."""
        return len(self._sealed) + (self._open is not None)

    def close(self) -> None:
        """Stop the thread and flush what is left; what the store refuses stays on disk for the next process."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
        with self._flushing:
            for segment in self._sealed:
                segment.release()
            self._sealed.clear()
        atexit.unregister(self.close)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _parsed(row: dict[str, Any], datetimes: set[str]) -> dict[str, Any]:
    return {k: datetime.fromisoformat(v) if k in datetimes and isinstance(v, str) else v for k, v in row.items()}
