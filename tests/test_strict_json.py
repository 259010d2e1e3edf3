"""The one strict JSON parser: what it refuses, and where it says the problem is."""

from __future__ import annotations

import pytest

from tailor.strict_json import MAX_DEPTH, InvalidJSON, loads


def _refused(text: str | bytes) -> InvalidJSON:
    with pytest.raises(InvalidJSON) as info:
        loads(text)
    return info.value


def test_plain_json_parses_from_str_and_bytes() -> None:
    doc = '{"a": [1, 2.5, "caf\\u00e9", "\\ud83d\\ude00", null, true]}'
    expected = {"a": [1, 2.5, "café", "\U0001f600", None, True]}
    assert loads(doc) == expected and loads(doc.encode()) == expected
    assert loads(b"\xef\xbb\xbf[1]") == [1]  # a UTF-8 byte order mark is not part of the document


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_numbers_json_cannot_hold_are_refused(number: str) -> None:
    assert number in _refused('{"x": ' + number + "}").message


def test_nesting_is_limited_with_the_position_of_the_bracket_that_passes_it() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    error = _refused('{"s": "[[[[",\n "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert (error.line, error.col) == (2, 6 + MAX_DEPTH), error  # "{" is level 1
    assert "nested deeper" in error.message
    # brackets inside strings are text, also when escaped quotes surround them
    assert loads('["\\"' + "[" * 200 + '"]') == ['"' + "[" * 200]


def test_lone_surrogates_are_refused_with_a_pointer() -> None:
    error = _refused('{"a": [1, {"b/c": "x\\ud800"}]}')
    assert error.pointer == "/a/1/b~1c" and (error.line, error.col) == (1, 21), error
    assert _refused('{"k": {"\\udfff": 1}}').pointer == "/k"
    assert _refused('"\\ud800"').pointer == ""


def test_nul_is_refused_with_a_pointer_by_both_parsers() -> None:
    # PostgreSQL's text and jsonb refuse NUL, SQLite compares it inconsistently: both were 500s
    error = _refused('{"a": [1, {"b": "x\\u0000y"}]}')
    assert error.pointer == "/a/1/b" and (error.line, error.col) == (1, 19) and "NUL" in error.message, error
    assert _refused('{"traits": {"k\\u0000": 1}}').pointer == "/traits"
    # a text with an integer beyond 64 bits is parsed by json, not orjson: refused the same way
    assert _refused('{"n": 18446744073709551616, "s": "\\u0000"}').pointer == "/s"
    # an escaped backslash followed by "u0000" is text, not NUL
    assert loads('["\\\\u0000"]') == ["\\u0000"]


def test_syntax_errors_and_huge_integers_say_where_or_what() -> None:
    error = _refused('{"a": 1,\n  "b" 2}')
    assert (error.line, error.col) == (2, 7) and error.pointer is None
    assert _refused("9" * 5000).message.startswith("Exceeds the limit")
    assert "not UTF-8" in _refused(b'["caf\xe9"]').message


@pytest.mark.parametrize(
    "doc",
    [
        '{"big": 18446744073709551616, "neg": -9223372036854775809, "id": "1234567890123456789012"}',
        "[9223372036854775807, -9223372036854775808, 0.1, -0.0, 1e-400, 2.2250738585072011e-308, 1E+2]",
        '{"a": {"a": 1, "a": 2}, "s": "caf\\u00e9 \\ud83d\\ude00 \\/ \\u0001", "e": [], "o": {}}',
    ],
)
def test_the_fast_parser_gives_the_values_json_gives(doc: str) -> None:
    import json

    value = loads(doc)
    assert value == json.loads(doc)
    assert json.dumps(value) == json.dumps(json.loads(doc))  # same types too: an int stays an int


def test_the_quick_depth_check_reads_brackets_in_strings_and_escapes_as_text() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    # many brackets overall, each string full of them, escaped quotes and backslashes around
    doc = "[" + ",".join(['{"a": "\\\\", "b": "\\"]]]}}}", "c": [[{"d": "[[[["}]]}'] * 40) + "]"
    assert len(loads(doc)) == 40
    error = _refused('["]]]]", ' + deep + "]")
    assert "nested deeper" in error.message and (error.line, error.col) == (1, 9 + MAX_DEPTH)
    # not JSON (an unterminated string): still the depth problem first, at the same place
    assert "nested deeper" in _refused('["' + deep).message


def test_stored_json_reads_as_json_reads_it_from_str_and_bytes() -> None:
    import json

    from tailor.strict_json import loads_stored

    text = '{"big": 18446744073709551616, "nan": NaN, "s": "caf\\u00e9", "f": 0.1}'
    for raw in (text, text.encode()):
        assert json.dumps(loads_stored(raw)) == json.dumps(json.loads(raw))
