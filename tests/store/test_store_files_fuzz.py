"""Property-based fuzzing of ingestion files (issue 11): never a traceback, never a half-written store.

Hypothesis writes ``.jsonl`` and profile ``.csv`` files that mix valid Segment messages
and profile rows with hostile lines (random bytes, invalid UTF-8, deep nesting, NaN,
lone surrogates, NUL, huge numbers and fields, wrong types), and runs ``tailor ingest`` on a
real SQLite store. For every file:

* the output holds no traceback, and every problem is ``path:line:col: message`` on a
  line that really is hostile — and every hostile line is reported;
* the exit status is 1 exactly when the file has a hostile line;
* the store holds the whole file or nothing of it (row counts before and after).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import identify, table_counts, track

from tailor.cli.ingest import ingest
from tailor.store import Store
from tailor.strict_json import MAX_DEPTH

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: one valid line or row is ("good", builder), one hostile line is ("bad", bytes)
Line = tuple[str, Any]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    with Store(url) as store:
        store.migrate()
    return url


def _visible(raw: bytes) -> bool:
    """A line the readers do not skip as blank."""
    return bool(raw.decode("utf-8", "replace").lstrip("\ufeff").strip())


def _keys() -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=ord("a"), max_codepoint=ord("z")), min_size=1, max_size=8)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20
    )  # NUL is hostile (no store keeps it)
)
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys(), inner, max_size=3), max_leaves=6
)


_good_message = st.one_of(
    st.builds(lambda props: ("track", props), st.dictionaries(_keys(), _values, max_size=4)),
    st.builds(lambda traits: ("identify", traits), st.dictionaries(_keys(), _values, max_size=4)),
)


def _message_prefix() -> bytes:
    return b'{"type": "track", "event": "E", "userId": "u-1", "messageId": "hostile", "properties": {"x": '


_random_line = st.binary(min_size=1, max_size=80).map(lambda b: b.replace(b"\n", b" ")).filter(_visible)
_hostile_json_line = st.one_of(
    _random_line,
    st.integers(MAX_DEPTH, 3000).map(lambda d: _message_prefix() + b"[" * d + b"]" * d + b"}}"),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b'"\\ud800"', b'"\\u0000"', b"9" * 5000]).map(
        lambda v: _message_prefix() + v + b"}}"
    ),
    st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]).map(lambda b: _message_prefix() + b'"' + b + b'"}}'),
    st.sampled_from(
        [("type", 5), ("userId", {"a": 1}), ("messageId", ["x"]), ("timestamp", "not a time"), ("properties", "x")]
    ).map(lambda fv: json.dumps(dict(track("wrong"), **{fv[0]: fv[1]})).encode()),
)


def _run(database_url: str, path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(ingest, ["--database-url", database_url, "--no-progress", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _assert_outcome(database_url: str, path: Path, lines: list[Line], good_count: int) -> None:
    hostile = {number for number, (kind, _) in enumerate(lines, start=_first_line(path)) if kind == "bad"}
    with Store(database_url) as store:
        before = table_counts(store)
    code, out, err = _run(database_url, path)
    with Store(database_url) as store:
        after = table_counts(store)
    assert "Traceback" not in out + err
    reported = set()
    for problem in err.splitlines():
        match = re.fullmatch(re.escape(str(path)) + r":(\d+):(\d+): .+", problem)
        assert match, f"not path:line:col: {problem!r}"
        assert int(match.group(2)) >= 1
        reported.add(int(match.group(1)))
    assert reported == hostile
    assert code == (1 if hostile else 0), (code, out, err)
    if hostile:
        assert after == before, "a file with a bad line wrote something"
    else:
        assert out.strip() == f"{path}: {good_count} stored, 0 already present"
        assert after != before or good_count == 0


def _first_line(path: Path) -> int:
    return 2 if path.suffix == ".csv" else 1  # the CSV header is line 1


@FUZZ
@given(
    lines=st.lists(
        st.one_of(_good_message.map(lambda m: ("good", m)), _hostile_json_line.map(lambda b: ("bad", b))),
        min_size=1,
        max_size=12,
    )
)
def test_fuzzed_jsonl_is_loaded_whole_or_not_at_all(database_url: str, tmp_path: Path, lines: list[Line]) -> None:
    run = uuid.uuid4().hex[:8]
    encoded = []
    for i, (kind, item) in enumerate(lines):
        if kind == "bad":
            encoded.append(item)
            continue
        message_type, fields = item
        message_id = f"{run}-{i}"
        message = (
            track(message_id, user=f"u-{i % 3}", **fields)
            if message_type == "track"
            else identify(message_id, user=f"u-{i % 3}", **fields)
        )
        encoded.append(json.dumps(message).encode())
    path = tmp_path / f"{run}.jsonl"
    path.write_bytes(b"\n".join(encoded) + b"\n")
    _assert_outcome(database_url, path, lines, sum(kind == "good" for kind, _ in lines))


_csv_random = st.binary(min_size=1, max_size=60).map(lambda b: b.translate(None, b'\n\r,"')).filter(_visible)
_hostile_row = st.one_of(
    _csv_random,  # one field where three are expected
    st.just(b"u-x,a@example.com,Ann,extra"),
    st.just(b"u-x,not an email,Ann"),
    st.just(b",a@example.com,Ann"),  # no user_id
    st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]).map(lambda b: b"u-x,a@example.com,B" + b + b"rn"),
    st.integers(131_073, 200_000).map(lambda n: b"u-x,a@example.com," + b"y" * n),
)
_good_row = st.text(st.characters(min_codepoint=ord("A"), max_codepoint=ord("z")), max_size=12)


@FUZZ
@given(
    lines=st.lists(
        st.one_of(_good_row.map(lambda n: ("good", n)), _hostile_row.map(lambda b: ("bad", b))), min_size=1, max_size=12
    )
)
def test_fuzzed_profiles_csv_is_loaded_whole_or_not_at_all(
    database_url: str, tmp_path: Path, lines: list[Line]
) -> None:
    run = uuid.uuid4().hex[:8]
    rows = [b"user_id,email,first_name"]
    for i, (kind, item) in enumerate(lines):
        rows.append(item if kind == "bad" else f"u-{run}-{i},p{i}@example.com,{item}".encode())
    path = tmp_path / f"{run}.csv"
    path.write_bytes(b"\n".join(rows) + b"\n")
    _assert_outcome(database_url, path, lines, sum(kind == "good" for kind, _ in lines))
