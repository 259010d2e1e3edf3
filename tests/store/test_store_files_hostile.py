"""Hostile and broken ingestion files: each bad line is ``path:line:col: message``, never a traceback.

The unit of atomicity is the file (one transaction): a file with any bad line writes
nothing, every bad line of it is reported, the other files on the command line still
load, and ``tailor ingest`` exits 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_helpers import table_counts, track

from tailor.cli.ingest import ingest
from tailor.problems import ProblemError
from tailor.store import Store
from tailor.store.files import MAX_JSON_DEPTH

CATALOG_HEADER = "id,title,description,category,brand,price,currency,in_stock,image_url,url,tags,created_at\n"
PROFILES_HEADER = "user_id,email,first_name\n"


def _problems(store: Store, path: Path) -> list[str]:
    with pytest.raises(ProblemError) as info:
        store.ingest_file(path)
    return [str(p) for p in info.value.problems]


def _jsonl(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _good(i: int) -> bytes:
    return json.dumps(track(f"m{i}")).encode()


def test_jsonl_invalid_utf8_names_line_and_column(store: Store, tmp_path: Path) -> None:
    bad = b'{"type": "track", "event": "caf\xe9", "userId": "u-1", "messageId": "x"}'
    path = _jsonl(tmp_path, [_good(0), bad, _good(2), b"\xff\xfe", _good(4)])
    assert _problems(store, path) == [
        f"{path}:2:32: not UTF-8 text: byte 0xe9 (invalid continuation byte)",
        f"{path}:4:1: not UTF-8 text: byte 0xff (invalid start byte)",
    ]
    assert all(n == 0 for n in table_counts(store).values())


def test_jsonl_deep_nesting_nan_and_huge_numbers(store: Store, tmp_path: Path) -> None:
    prefix = b'{"type": "track", "event": "e", "userId": "u", "messageId": "d", "properties": {"a": '
    deep = prefix + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    nan = b'{"type": "track", "event": "e", "userId": "u", "messageId": "n", "properties": {"price": NaN}}'
    inf = b'{"type": "track", "event": "e", "userId": "u", "messageId": "i", "properties": {"price": 1e999}}'
    minus_inf = b'{"type": "track", "event": "e", "userId": "u", "messageId": "j", "properties": {"p": -Infinity}}'
    digits = (
        b'{"type": "track", "event": "e", "userId": "u", "messageId": "k", "properties": {"n": ' + b"9" * 5000 + b"}}"
    )
    path = _jsonl(tmp_path, [_good(0), deep, nan, inf, minus_inf, digits, _good(6)])
    problems = _problems(store, path)
    # two levels are the message and its properties: the bracket that passes the limit is named
    column = len(prefix) + MAX_JSON_DEPTH - 2
    assert problems[0] == f"{path}:2:{column + 1}: invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels"
    assert problems[1] == f"{path}:3:1: invalid JSON: NaN is not a JSON number"
    assert problems[2] == f"{path}:4:1: invalid JSON: 1e999 is out of range"
    assert problems[3] == f"{path}:5:1: invalid JSON: -Infinity is not a JSON number"
    assert problems[4].startswith(f"{path}:6:1: invalid JSON: Exceeds the limit")
    assert len(problems) == 5
    assert all(n == 0 for n in table_counts(store).values())


def test_nesting_up_to_the_limit_is_accepted(store: Store, tmp_path: Path) -> None:
    depth = MAX_JSON_DEPTH - 2  # the message and its properties are two levels
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": value}
    message = track("deep-ok", nested=value)
    text = json.dumps(message).encode()
    path = _jsonl(
        tmp_path,
        [text, b'{"brackets in a string": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}'],
    )
    # the second line is shallow (its brackets are text) and only fails validation
    problems = _problems(store, path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2:1: /type: "), problems


@pytest.mark.parametrize(
    "field, value",
    [
        ("type", 5),
        ("userId", {"a": 1}),
        ("messageId", ["x"]),
        ("timestamp", 5),
        ("timestamp", "not a time"),
        ("properties", "x"),
        ("context", []),
        ("event", 7),
        ("traits", 5),
        ("anonymousId", True),
    ],
)
def test_wrong_types_are_problems_not_tracebacks(store: Store, tmp_path: Path, field: str, value: object) -> None:
    message = dict(track("w"), **{field: value})
    path = _jsonl(tmp_path, [_good(0), json.dumps(message).encode()])
    problems = _problems(store, path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2:1: /"), problems


def test_json_file_problems_have_a_position(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_bytes(b'{"batch": [\n  {"type": "track",\n   "event": "\xc3\x28"}]}')
    assert _problems(store, path) == [f"{path}:3:14: not UTF-8 text: byte 0xc3 (invalid continuation byte)"]
    path.write_text('{"batch": [\n' + "[" * 5000 + "]" * 5000 + "]}")
    assert _problems(store, path) == [
        f"{path}:2:{MAX_JSON_DEPTH - 1}: invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels"
    ]
    path.write_text('{"batch": [{"type": "track", "properties": {"x": NaN}}]}')
    assert _problems(store, path) == [f"{path}:1:1: invalid JSON: NaN is not a JSON number"]


def test_csv_huge_field_and_invalid_utf8_are_reported_and_reading_goes_on(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    huge = "x" * 200_000
    path.write_bytes(
        (
            CATALOG_HEADER
            + "sku-1,Tote,ok,Bags,B,10,USD,1,,,,\n"
            + f"sku-2,Huge,{huge},Bags,B,10,USD,1,,,,\n"
            + "sku-3,Fine,ok,Bags,B,10,USD,1,,,,\n"
        ).encode()
        + b"sku-4,Caf\xe9,ok,Bags,B,10,USD,1,,,,\n"
        + b"sku-5,Price,ok,Bags,B,cheap,USD,1,,,,\n"
    )
    assert _problems(store, path) == [
        f"{path}:3:1: unreadable CSV record: field larger than field limit (131072)",
        f"{path}:5:10: not UTF-8 text: byte 0xe9 (invalid continuation byte)",
        f"{path}:6:1: price: must be a number, got 'cheap'",
    ]
    assert table_counts(store)["products"] == 0  # the file is one unit: nothing half-written


def test_csv_profiles_invalid_utf8(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "profiles.csv"
    path.write_bytes(PROFILES_HEADER.encode() + b"u-1,a@example.com,Ann\nu-2,b@example.com,Bj\xf6rn\n")
    assert _problems(store, path) == [f"{path}:3:21: not UTF-8 text: byte 0xf6 (invalid start byte)"]
    assert table_counts(store)["profiles"] == 0


def test_csv_nul_bytes_are_reported_on_both_stores(store: Store, tmp_path: Path) -> None:
    # PostgreSQL refused the write (a DataError traceback); SQLite stored what PostgreSQL cannot
    path = tmp_path / "profiles.csv"
    path.write_bytes(PROFILES_HEADER.encode() + b"u-1,a@example.com,An\x00n\nu-\x002,b@example.com,Bob\n")
    assert _problems(store, path) == [
        f"{path}:2:21: a NUL byte (0x00): PostgreSQL cannot store it",
        f"{path}:3:3: a NUL byte (0x00): PostgreSQL cannot store it",
    ]
    assert table_counts(store)["profiles"] == 0


def test_parquet_nul_characters_are_reported_on_both_stores(store: Store, tmp_path: Path) -> None:
    # PostgreSQL refused the look-up of such a userId (a DataError traceback)
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "events.parquet"
    columns = {"type": ["track", "track"], "messageId": ["m1", "m2"], "userId": ["u-1", "u-\x002"], "event": ["E", "E"]}
    pq.write_table(pa.table(columns), path)
    assert _problems(store, path) == [f"{path}:2:1: userId: a NUL character: PostgreSQL cannot store it"]
    assert table_counts(store)["events"] == 0


def test_csv_values_longer_than_their_column_or_not_finite_are_reported(store: Store, tmp_path: Path) -> None:
    # PostgreSQL enforces the column lengths SQLite ignores (each was a DataError traceback there);
    # a "nan" price was stored on both
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        CATALOG_HEADER
        + f"{'s' * 256},T,d,Bags,B,10,USD,1,,,,\n"
        + f"sku-2,T,d,{'C' * 256},B,10,USD,1,,,,\n"
        + f"sku-3,T,d,Bags,{'B' * 256},10,USD,1,,,,\n"
        + "sku-4,T,d,Bags,B,nan,USD,1,,,,\n"
        + "sku-5,T,d,Bags,B,1e400,USD,1,,,,\n"
    )
    assert _problems(store, catalog) == [
        f"{catalog}:2:1: id: longer than 255 characters",
        f"{catalog}:3:1: category: longer than 255 characters",
        f"{catalog}:4:1: brand: longer than 255 characters",
        f"{catalog}:5:1: price: must be a finite number, got 'nan'",
        f"{catalog}:6:1: price: must be a finite number, got '1e400'",
    ]
    profiles = tmp_path / "profiles.csv"
    profiles.write_text(
        "user_id,email,locale,timezone\n"
        + f"{'u' * 256},a@example.com,en_US,UTC\n"
        + f"u-2,b@example.com,{'x' * 36},UTC\n"
        + f"u-3,c@example.com,en_US,{'y' * 65}\n"
    )
    assert _problems(store, profiles) == [
        f"{profiles}:2:1: user_id: longer than 255 characters",
        f"{profiles}:3:1: /locale: longer than 35 characters",
        f"{profiles}:4:1: /timezone: longer than 64 characters",
    ]
    assert all(n == 0 for n in table_counts(store).values())


def test_cli_reports_every_bad_line_loads_the_good_files_and_exits_1(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    good = _jsonl(tmp_path, [_good(0), _good(1)])
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join([_good(2), b"[" * 50_000, b"\xff", b'{"x": NaN}']) + b"\n")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(CATALOG_HEADER + "sku-1,Tote," + "y" * 200_000 + ",Bags,B,10,USD,1,,,,\n")
    result = CliRunner().invoke(ingest, ["--database-url", database_url, str(bad), str(good), str(catalog)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"{bad}:2:{MAX_JSON_DEPTH + 1}: invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels" in result.output
    assert f"{bad}:3:1: not UTF-8 text: byte 0xff (invalid start byte)" in result.output
    assert f"{bad}:4:1: invalid JSON: NaN is not a JSON number" in result.output
    assert f"{catalog}:2:1: unreadable CSV record: field larger than field limit (131072)" in result.output
    assert f"{good}: 2 stored, 0 already present" in result.output
    with Store(database_url) as store:
        counts = table_counts(store)
    assert counts["events"] == 2 and counts["products"] == 0  # m2 of the bad file was not written
