"""Reading ingestion files: Segment ``.json``/``.jsonl``, profile and catalog ``.csv``.

Files are read in chunks (yielded as ``("records" | "products", rows)``) so a large file
needs little memory. A problem stops the yielding but not the reading: every problem
in the file is collected and raised at the end as one :class:`ProblemError` (the
caller's transaction then rolls back, so a bad file writes nothing).

Hostile or broken input is a problem on its line, never a traceback: bytes that are not
UTF-8, a NUL byte in a CSV file, a CSV field over the csv module's limit, and whatever :mod:`tailor.strict_json`
refuses (nesting deeper than :data:`MAX_JSON_DEPTH`, ``NaN``/``Infinity``/``1e999``,
lone surrogates, huge integers: none of them can be stored as JSON).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from tailor import strict_json
from tailor.problems import Problem, ProblemError
from tailor.strict_json import InvalidJSON
from tailor.vocabulary.emails import email_address

from .catalog import product_row
from .errors import ValidationError
from .messages import CONSENT_PREFIX, MAX_ID_LENGTH, Record, check_column_traits, validate_message
from .times import parse_time

CHUNK = 5000
MAX_PROBLEMS = 100
#: deepest nesting of objects/arrays accepted in a JSON value (the strict parser's limit)
MAX_JSON_DEPTH = strict_json.MAX_DEPTH
Batch = tuple[str, list[Any]]

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def read_batches(path: str | os.PathLike[str], received_at: datetime, progress: bool = False) -> Iterator[Batch]:
    """The records of one file, in chunks; raises ProblemError naming ``path:line:col``."""
    path = Path(path)
    if not path.is_file():
        raise ProblemError([Problem(str(path), 0, 0, "no such file")])
    suffix = path.suffix.lower()
    readers = {".jsonl": _jsonl, ".ndjson": _jsonl, ".json": _json, ".csv": _csv, ".parquet": _parquet}
    if suffix not in readers:
        raise ProblemError(
            [Problem(str(path), 0, 0, f"unknown file type {suffix or '(none)'}: use .json, .jsonl, .csv or .parquet")]
        )
    size = path.stat().st_size
    # on stderr: stdout stays clean for the summary lines (click.get_text_stream is deprecated)
    bar = click.progressbar(length=size, label=f"ingesting {path.name}", file=sys.stderr) if progress else nullcontext()
    with bar as tick:
        yield from readers[suffix](path, received_at, tick.update if tick is not None else (lambda n: None))


class _Collector:
    """Problems of one file; batches stop flowing after the first one."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, line: int, message: str, col: int = 1) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.path, line, col, message))

    def finish(self) -> None:
        if self.problems:
            raise ProblemError(self.problems)


def _lines(path: Path, tick: Any, problems: _Collector) -> Iterator[tuple[int, str, bool]]:
    """``(line number, text, is UTF-8)``; a line that is not is reported here and decoded with U+FFFD."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            tick(len(raw))
            encoding = "utf-8-sig" if number == 1 else "utf-8"
            try:
                yield number, raw.decode(encoding), True
            except UnicodeDecodeError as exc:
                problems.add(number, _not_utf8(exc), _column(raw, exc.start))
                yield number, raw.decode(encoding, "replace"), False


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} ({exc.reason})"


def _column(raw: bytes, offset: int) -> int:
    """The 1-based character column of byte ``offset`` in the line ``raw``."""
    return len(raw[:offset].decode("utf-8", "replace")) + 1


def _jsonl(path: Path, received_at: datetime, tick: Any) -> Iterator[Batch]:
    problems = _Collector(path)

    def messages() -> Iterator[tuple[int, Any]]:
        for number, line, utf8 in _lines(path, tick, problems):
            if not utf8 or not line.strip():
                continue
            try:
                yield number, strict_json.loads(line)
            except InvalidJSON as exc:
                problems.add(number, f"invalid JSON: {exc.message}", exc.col or 1)

    yield from _validated(problems, messages(), received_at)


def _json(path: Path, received_at: datetime, tick: Any) -> Iterator[Batch]:
    problems = _Collector(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ProblemError(
            [Problem(str(path), line, _column(raw[line_start:], exc.start - line_start), _not_utf8(exc))]
        ) from None
    try:
        data = strict_json.loads(text)
    except InvalidJSON as exc:
        raise ProblemError([Problem(str(path), exc.line or 1, exc.col or 1, f"invalid JSON: {exc.message}")]) from None
    tick(path.stat().st_size)
    if isinstance(data, dict) and isinstance(data.get("products"), list):
        yield from _products(problems, [(1, f"/products/{i}", item) for i, item in enumerate(data["products"])])
        return
    if isinstance(data, list) and data and all(isinstance(d, dict) and "type" not in d and "title" in d for d in data):
        yield from _products(problems, [(1, f"/{i}", item) for i, item in enumerate(data)])
        return
    if isinstance(data, dict) and "batch" in data:
        if not isinstance(data["batch"], list):
            raise ProblemError([Problem(str(path), 1, 1, "/batch: must be an array")])
        items = [(f"/batch/{i}", m) for i, m in enumerate(data["batch"])]
    elif isinstance(data, list):
        items = [(f"/{i}", m) for i, m in enumerate(data)]
    else:
        items = [("", data)]
    records = []
    for pointer, message in items:
        try:
            records.append(validate_message(message, pointer, received_at=received_at))
        except ValidationError as exc:
            # JSON has no per-message line; the pointer names the message and field
            problems.add(1, f"{exc.pointer}: {exc.message}")
    problems.finish()
    for start in range(0, len(records), CHUNK):
        yield "records", records[start : start + CHUNK]


def _csv(path: Path, received_at: datetime, tick: Any) -> Iterator[Batch]:
    problems = _Collector(path)
    numbered = _lines(path, tick, problems)
    line_of_row: list[int] = []

    def feed() -> Iterator[str]:
        for number, line, _ in numbered:
            line_of_row.append(number)
            if "\x00" in line:  # the csv module reads it as text; PostgreSQL refuses it in a write (a traceback)
                problems.add(number, "a NUL byte (0x00): PostgreSQL cannot store it", line.index("\x00") + 1)
            yield line

    reader = csv.reader(feed())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ProblemError([Problem(str(path), 1, 1, "empty file: expected a CSV header")]) from None
    except csv.Error as exc:
        raise ProblemError([Problem(str(path), 1, 1, f"unreadable CSV header: {exc}")]) from None
    columns = set(header)
    if {"type", "messageId"} <= columns:
        yield from _flat_messages(problems, _csv_rows(reader, header, line_of_row, problems), received_at)
        return
    if {"id", "title"} <= columns:
        kind = "products"
    elif "user_id" in columns:
        kind = "profiles"
    else:
        raise ProblemError(
            [
                Problem(
                    str(path),
                    1,
                    1,
                    "unknown CSV header: expected the catalog (id,title,...) "
                    "or profiles (user_id,email,...) columns of docs/data-formats.md",
                )
            ]
        )
    rows = [(line, "", row) for line, row in _csv_rows(reader, header, line_of_row, problems)]
    if kind == "products":
        yield from _products(problems, rows)
    else:
        yield from _profiles(problems, rows, received_at)


def _csv_rows(
    reader: Iterator[list[str]], header: list[str], line_of_row: list[int], problems: _Collector
) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, {column: value})`` of each CSV record after the header; bad records are problems."""
    start = line_of_row[-1]  # a record starts on the line after the previous one ended
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's size limit; reading goes on
            problems.add(start + 1, f"unreadable CSV record: {exc}")
            start = line_of_row[-1]
            continue
        line = start + 1
        start = line_of_row[-1]
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.add(line, f"expected {len(header)} fields, got {len(values)}")
            continue
        yield line, dict(zip(header, values, strict=True))


def _parquet(path: Path, received_at: datetime, tick: Any) -> Iterator[Batch]:
    """Segment messages as flat Parquet rows (as in CSV: see :func:`_flat_messages`), a batch at a time.

    A problem names the row as the line (row 1 is the first row: Parquet has no header line).
    """
    import pyarrow.parquet as pq

    problems = _Collector(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for a file that is not Parquet
        raise ProblemError([Problem(str(path), 0, 0, f"not a Parquet file: {exc}"[:300])]) from None
    missing = {"type"} - set(parquet.schema_arrow.names)
    if missing:
        raise ProblemError([Problem(str(path), 0, 0, "not Segment messages: a `type` column is required")])
    size, total = path.stat().st_size, max(1, parquet.metadata.num_rows)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        for batch in parquet.iter_batches(batch_size=CHUNK):
            for row in batch.to_pylist():
                number += 1
                yield number, row
            tick(size * batch.num_rows // total)

    yield from _flat_messages(problems, rows(), received_at)


#: Segment messages in CSV and Parquet: one column per top-level field (``type``, ``messageId``,
#: ``timestamp``, ``userId``, ``anonymousId``, ``previousId``, ``event``, ``name``, ...); these hold JSON text
FLAT_OBJECTS = ("properties", "traits", "context")


def _flat_messages(
    problems: _Collector, rows: Iterator[tuple[int, Mapping[str, Any]]], received_at: datetime
) -> Iterator[Batch]:
    """Flat rows (CSV, Parquet) as validated records: empty cells are absent, object columns JSON."""

    def messages() -> Iterator[tuple[int, Any]]:
        for line, row in rows:
            message: dict[str, Any] = {}
            for key, value in row.items():
                if value is None or value == "":
                    continue
                if isinstance(value, str) and "\x00" in value:  # a Parquet string (CSV lines are checked as read)
                    problems.add(line, f"{key}: a NUL character: PostgreSQL cannot store it")
                    break
                if key in FLAT_OBJECTS and isinstance(value, str):
                    try:
                        value = strict_json.loads(value)
                    except InvalidJSON as exc:
                        problems.add(line, f"{key}: invalid JSON: {exc.message}")
                        break
                message[key] = value
            else:
                yield line, message

    yield from _validated(problems, messages(), received_at)


def _validated(problems: _Collector, messages: Iterator[tuple[int, Any]], received_at: datetime) -> Iterator[Batch]:
    """Each parsed message validated as the HTTP path does, in chunks; every problem kept, nothing
    yielded after the first (a file is stored all or nothing)."""
    chunk: list[Record] = []
    for line, message in messages:
        try:
            record = validate_message(message, "", received_at=received_at)
        except ValidationError as exc:
            problems.add(line, f"{exc.pointer}: {exc.message}")
            continue
        if not problems.problems:
            chunk.append(record)
            if len(chunk) >= CHUNK:
                yield "records", chunk
                chunk = []
    problems.finish()
    if chunk:
        yield "records", chunk


def _products(problems: _Collector, items: list[tuple[int, str, Any]]) -> Iterator[Batch]:
    rows = []
    for line, pointer, raw in items:
        if not isinstance(raw, Mapping):
            problems.add(line, f"{pointer or '/'}: a product must be an object")
            continue
        try:
            rows.append(product_row(raw, pointer))
        except ValidationError as exc:
            problems.add(line, f"{exc.pointer.lstrip('/') if not pointer else exc.pointer}: {exc.message}")
    problems.finish()
    for start in range(0, len(rows), CHUNK):
        yield "products", rows[start : start + CHUNK]


def _profiles(
    problems: _Collector, rows: list[tuple[int, str, dict[str, str]]], received_at: datetime
) -> Iterator[Batch]:
    records = []
    for line, _, row in rows:
        try:
            records.append(profile_record(row, received_at))
        except ValidationError as exc:
            problems.add(line, f"{exc.pointer}: {exc.message}")
    problems.finish()
    for start in range(0, len(records), CHUNK):
        yield "records", records[start : start + CHUNK]


def profile_record(row: Mapping[str, str], received_at: datetime) -> Record:
    """A ``profiles.csv`` row as a profile-only record (it is not stored as an event).

    Its writes are stamped with the row's ``updated_at``, else ``created_at``, else the
    time of ingestion — so identify calls newer than the export win over it.
    """
    user_id = (row.get("user_id") or "").strip()
    if not user_id:
        raise ValidationError("user_id", "required")
    if len(user_id) > MAX_ID_LENGTH:  # the columns' length: PostgreSQL refused the write (a traceback)
        raise ValidationError("user_id", f"longer than {MAX_ID_LENGTH} characters")
    traits: dict[str, Any] = {}
    consents: dict[str, bool] = {}
    email = None
    times: dict[str, datetime] = {}
    for key, value in row.items():
        value = value.strip()
        if key == "user_id" or value == "":
            continue  # an empty cell means "unknown", never "erase the trait"
        if key == "email":
            email = email_address(value)
            if email is None:
                raise ValidationError("email", "must be an email address")
        elif key.startswith(CONSENT_PREFIX) and len(key) > len(CONSENT_PREFIX):
            lowered = value.lower()
            if lowered not in _TRUE | _FALSE:
                raise ValidationError(key, f"must be true or false, got {value!r}")
            consents[key[len(CONSENT_PREFIX) :]] = lowered in _TRUE
        elif key in ("created_at", "updated_at"):
            try:
                times[key] = parse_time(value)
            except ValueError:
                raise ValidationError(key, f"must be an ISO 8601 time, got {value!r}") from None
        else:
            traits[key] = value
    check_column_traits(traits, "")
    written = times.get("updated_at") or times.get("created_at") or received_at
    canonical = json.dumps(row, sort_keys=True, ensure_ascii=False)
    return Record(
        message_id="csv-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40],
        type="identify",
        timestamp=written,
        received_at=received_at,
        user_id=user_id,
        email=email,
        traits=traits,
        consents=consents,
        store_event=False,
        created_at=times.get("created_at"),
    )
