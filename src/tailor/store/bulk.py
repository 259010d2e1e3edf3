"""Bulk ingestion of a file: all or nothing until validated, then resumable chunk by chunk.

``tailor ingest`` of a big file has two needs that pull apart: a file with a bad line must
write nothing (the store is never half-written by a broken file), and a crash after
minutes of loading must not start over. So a file goes through two phases, keyed by the
SHA-256 of its content (the *run*, a row of ``ingest_runs``):

1. **Stage.** Every line is parsed and validated (:func:`tailor.store.files.read_batches`,
   the same checks as the HTTP API) and the records are written to ``ingest_staged``
   (COPY on PostgreSQL, ``executemany`` on SQLite), committed per chunk. A problem
   anywhere deletes the run's staged rows and raises :class:`ProblemError`
   (``path:line:col``): nothing reached the store. A crash here: the re-run stages again.
2. **Apply.** Staged records are applied in chunks of :data:`APPLY_CHUNK` with
   :func:`tailor.store.ingest.apply_records` — the one implementation of de-duplication on
   ``messageId``, identity resolution, merges and consent, shared with ``/v1/batch``, so
   both paths store the same thing. Each chunk is one transaction that also advances the
   run's ``applied`` count: after a crash (kill -9) the re-run resumes at the first chunk
   not committed, and because applying is idempotent on ``messageId`` each event is
   stored exactly once either way.

Within a chunk the work is set-based: the chunk's identities and profiles are read in a
few ``IN`` queries, people are formed in memory (union-find), events are written through
a staging table in one ``INSERT … SELECT … ON CONFLICT DO NOTHING``
(:mod:`tailor.store.staging`) and merges move rows with one ``UPDATE`` per table.

A catalog file (products) is small and goes through :meth:`Store.ingest_file` (one
transaction). A finished run is forgotten when the same file is ingested again: that
re-run applies everything and finds it all present (nothing is stored twice).
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import Connection, delete, insert, select, update

from tailor.problems import ProblemError
from tailor.strict_json import dumps_stored, loads_stored

from .engine import write_transaction
from .files import read_batches
from .ingest import IngestResult, apply_records
from .messages import Record
from .models import IngestRun, IngestStaged
from .times import utcnow

if TYPE_CHECKING:
    from .store import Store

#: records per applied transaction: big enough that per-chunk queries are few, small enough
#: that a crash loses little and memory stays flat
APPLY_CHUNK = 20_000
#: SQLite's page cache while a chunk is applied, in KiB (see :func:`_page_cache`)
PAGE_CACHE_KIB = 64 * 1024
runs_t = IngestRun.__table__
staged_t = IngestStaged.__table__

_FIELDS = tuple(Record.__dataclass_fields__)
#: the positions of the times in a staged record (JSON has no time type)
_TIMES = tuple(_FIELDS.index(name) for name in ("timestamp", "received_at", "created_at"))
_values = attrgetter(*_FIELDS)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a phase (staging, applying), back as it was afterwards.

    A chunk holds tens of thousands of live records (dicts, datetimes) and allocates
    as many again: the collector would walk all of them over and over (a fifth of the
    CPU of an ingest) to find no cycles. Records form none: reference counting frees
    each chunk when it is done, so memory stays flat without the collector.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _page_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a page cache of :data:`PAGE_CACHE_KIB` for one applied chunk, the connection's own
    size back afterwards (the connection returns to the pool). A chunk's events go into three
    indexes that soon outgrow the default 2 MB: every page evicted is read and copied in again."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def file_digest(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def encode_record(record: Record) -> str:
    """A record as staged text (a JSON array of its fields in order; times as ISO 8601 without
    offset: naive UTC)."""
    return dumps_stored(_values(record))


def decode_record(text: str) -> Record:
    values = loads_stored(text)
    for i in _TIMES:
        if values[i] is not None:
            values[i] = datetime.fromisoformat(values[i])
    return Record(*values)


def bulk_ingest(
    store: Store, path: str | os.PathLike[str], *, progress: bool = False, chunk_size: int | None = None
) -> IngestResult:
    """Ingest one file: validated in full first, then applied in resumable chunks (module docstring)."""
    path = Path(path)
    if not path.is_file():
        return store.ingest_file(path)  # the same "no such file" problem
    digest = file_digest(path)
    store.hash_email("")  # read the key before any write transaction opens
    with store.engine.connect() as conn:
        run = conn.execute(select(runs_t).where(runs_t.c.digest == digest)).first()
    if run is None or not run.staged or run.finished_at is not None:
        if not _stage(store, path, digest, progress):
            return store.ingest_file(path)  # a catalog
        with store.engine.connect() as conn:
            run = conn.execute(select(runs_t).where(runs_t.c.digest == digest)).one()
    return _apply(store, digest, run.applied, run.total, path.name, progress, chunk_size or APPLY_CHUNK)


def _stage(store: Store, path: Path, digest: str, progress: bool) -> bool:
    """Validate and stage every record of ``path``; False (nothing staged) for a catalog file."""
    now = utcnow()
    with write_transaction(store.engine) as conn:
        conn.execute(delete(staged_t).where(staged_t.c.run == digest))
        conn.execute(delete(runs_t).where(runs_t.c.digest == digest))
        conn.execute(
            insert(runs_t).values(digest=digest, name=path.name[:255], total=0, applied=0, staged=False, started_at=now)
        )
    seq = 0
    try:
        with _collector_paused():
            for kind, rows in read_batches(path, now, progress=progress):
                if kind == "products":
                    _forget(store, digest)
                    return False
                with write_transaction(store.engine) as conn:
                    _write_staged(conn, digest, seq, [encode_record(r) for r in rows])
                seq += len(rows)
    except (ProblemError, OSError):
        _forget(store, digest)
        raise
    with write_transaction(store.engine) as conn:
        conn.execute(update(runs_t).where(runs_t.c.digest == digest).values(total=seq, staged=True))
    return True


def _forget(store: Store, digest: str) -> None:
    with write_transaction(store.engine) as conn:
        conn.execute(delete(staged_t).where(staged_t.c.run == digest))
        conn.execute(delete(runs_t).where(runs_t.c.digest == digest))


def _write_staged(conn: Connection, run: str, start: int, payloads: Sequence[str]) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    rows = [(run, start + i, payload) for i, payload in enumerate(payloads)]
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy("COPY ingest_staged (run, seq, payload) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        driver.executemany("INSERT INTO ingest_staged (run, seq, payload) VALUES (?, ?, ?)", rows)


def _apply(store: Store, digest: str, applied: int, total: int, name: str, progress: bool, chunk: int) -> IngestResult:
    """Apply the staged records from ``applied`` on, one committed transaction per chunk."""
    result = IngestResult()
    bar: Any = click.progressbar(length=total, label=f"storing {name}", file=sys.stderr) if progress else nullcontext()
    with bar as tick, _collector_paused():
        if tick is not None:
            tick.update(applied)
        for start, records in _staged_chunks(store, digest, applied, total, chunk):
            now = utcnow()
            with write_transaction(store.engine) as conn, _page_cache(conn):
                result += apply_records(conn, records, store.hash_email, now)
                done = start + len(records)
                conn.execute(update(runs_t).where(runs_t.c.digest == digest).values(applied=done))
            if tick is not None:
                tick.update(len(records))
    with write_transaction(store.engine) as conn:
        conn.execute(delete(staged_t).where(staged_t.c.run == digest))
        conn.execute(update(runs_t).where(runs_t.c.digest == digest).values(finished_at=utcnow()))
    return result


def _staged_chunks(
    store: Store, digest: str, applied: int, total: int, chunk: int
) -> Iterator[tuple[int, list[Record]]]:
    for start in range(applied, total, chunk):
        with store.engine.connect() as conn:
            payloads = conn.execute(
                select(staged_t.c.payload)
                .where(staged_t.c.run == digest, staged_t.c.seq >= start, staged_t.c.seq < start + chunk)
                .order_by(staged_t.c.seq)
            ).scalars()
            records = [decode_record(p) for p in payloads]
        yield start, records  # the read is closed: no snapshot held while the chunk is written
