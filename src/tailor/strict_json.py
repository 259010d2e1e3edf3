"""The one JSON parser for everything tailor reads from outside: HTTP bodies and ingestion files.

Python's ``json`` accepts texts that no other JSON parser does and that tailor cannot
store or send back out; each would otherwise surface later, far from the input, as a
500 or a traceback. :func:`loads` refuses them where they enter, and says where:

* ``NaN``, ``Infinity``, ``-Infinity`` (not JSON) and numbers such as ``1e999`` that
  overflow to infinity (they cannot be written back out as JSON);
* nesting deeper than :data:`MAX_DEPTH` (a recursion bomb: the parser, and every later
  ``json.dumps`` of the value, would hit Python's recursion limit). A bracket scan that
  skips strings finds the exact line and column, and runs only when the text holds
  more brackets than the limit, so ordinary documents pay one ``str.count``;
* lone UTF-16 surrogates (``"\\ud800"``): they are not text, cannot be encoded as UTF-8
  and PostgreSQL refuses them; and NUL (``"\\u0000"``), which PostgreSQL's ``text`` and
  ``jsonb`` refuse and SQLite compares inconsistently (a profile id holding one could
  be inserted twice and fail its write with a 500). The value is walked only when
  the text holds such an escape, and the error names the JSON pointer of the string;
* integers longer than Python's conversion limit (4300 digits by default).

Every refusal is an :class:`InvalidJSON`; callers turn it into their own report (a 400
problem+json in ``tailor.web.body``, ``path:line:col`` in ``tailor.store.files``).

Speed: a text is first given to orjson (about 5× faster than ``json``, and it matters:
every ingested line and HTTP body comes through here). orjson refuses everything above
itself — ``NaN``/``Infinity``, numbers that overflow to infinity, lone surrogate escapes,
control characters — except NUL escapes (checked after it), deep nesting (its limit is
1024: the depth check runs first, as before) and integers beyond 64 bits, which it would
turn into floats: a text with a run of 19 digits goes to ``json`` directly. Whatever orjson refuses is parsed
again by ``json`` below, so the accepted texts, the values and every error (message,
line, column, pointer) are those of the strict ``json`` path.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any

import orjson

#: deepest nesting of objects/arrays accepted (real profiles, contexts and Segment messages are shallow)
MAX_DEPTH = 64

#: what a stored string may not hold: a lone surrogate (a pair decodes to one character) or NUL
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: a \uD800-\uDFFF or \u0000 escape, or a surrogate itself (a str decoded with "surrogatepass" may hold one)
_MAYBE_UNSTORABLE = re.compile("\\\\u[dD][89a-fA-F]|\\\\u0000|[\ud800-\udfff]")
#: the escape of NUL (a raw NUL in a JSON text is a control character: both parsers refuse it)
_NUL_ESCAPE = "\\u0000"
#: a high surrogate escape not followed by a low one, or a low one not preceded by a high one
_LONE_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
#: bytes.translate table: digits to "0", everything else to " " (a C-speed scan for long digit runs)
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
#: a run of digits that may be an integer orjson cannot hold (beyond 64 bits: it would give a float)
_LONG_DIGITS = b"0" * 19
#: what the depth scan looks at: whole strings (skipped, brackets in them are text) and brackets;
#: possessive, so an unterminated string fails at once instead of backtracking exponentially
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)
#: the quick depth check keeps quotes and brackets only (bytes.translate's delete: C speed)
_NOT_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')
_QUOTED = re.compile(b'"[^"]*"')


class InvalidJSON(ValueError):
    """A JSON text tailor does not accept.

    ``line``/``col`` are 1-based, 0 when unknown; ``pointer`` is the RFC 6901 pointer of
    the offending value when known, else ``None``.
    """

    def __init__(self, message: str, line: int = 0, col: int = 0, pointer: str | None = None):
        super().__init__(message)
        self.message, self.line, self.col, self.pointer = message, line, col, pointer


def _not_a_number(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidJSON(f"{text[:40]} is out of range")
    return value


#: one decoder for every call (``json.loads`` with options builds a new one per call)
_DECODER = json.JSONDecoder(parse_constant=_not_a_number, parse_float=_finite_float)


def loads(raw: str | bytes | bytearray) -> Any:
    """Parse JSON strictly (see the module docstring); raises :class:`InvalidJSON`.

    Bytes are decoded as ``json.loads`` does (UTF-8, or UTF-16/32 when the bytes say so).
    """
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = bytes(raw).decode(json.detect_encoding(raw), "surrogatepass")
        except UnicodeDecodeError as exc:
            raise InvalidJSON(f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} ({exc.reason})") from None
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte order mark is not part of the document (json.loads refuses it in a str)
    if text.count("[") + text.count("{") > MAX_DEPTH and not _shallow(text):
        _check_depth(text)
    if _orjson_can_hold(text):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # refused: json below says why, where (or accepts what only it can hold)
        else:
            if _NUL_ESCAPE in text:  # orjson refused any lone surrogate, but not NUL (C-speed test)
                _check_strings(value, text)
            return value
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        if text.count("[") + text.count("{") > MAX_DEPTH:
            _check_depth(text)  # too deep is reported first, whatever :func:`_shallow` guessed
        if isinstance(exc, json.JSONDecodeError):
            raise InvalidJSON(exc.msg, exc.lineno, exc.colno) from None
        if isinstance(exc, InvalidJSON):
            raise
        raise InvalidJSON(str(exc).split(";")[0][:200]) from None  # e.g. an integer of more than 4300 digits
    # "\\u" and isascii() are C-speed (isascii is O(1)): most texts skip the regex
    if ("\\u" in text or not text.isascii()) and _MAYBE_UNSTORABLE.search(text):
        _check_strings(value, text)
    return value


def _orjson_can_hold(text: str | bytes) -> bool:
    """No run of 19 digits: every integer in ``text`` fits orjson's 64 bits (it would make a float of a bigger one)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return _LONG_DIGITS not in raw.translate(_DIGITS)


def loads_stored(text: str | bytes) -> Any:
    """What ``json.loads`` answers, faster: JSON the store wrote itself (the engines' JSON
    deserializer). Not strict — stored values were checked on the way in — so what orjson
    refuses (e.g. a ``NaN`` some writer let through) still reads as ``json`` reads it. Bytes
    (psycopg hands over ``jsonb`` as bytes) are UTF-8."""
    if _orjson_can_hold(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps_stored(value: Any) -> str:
    """Compact JSON text for the store to keep (staged records, event columns): orjson's, which
    is several times cheaper than ``json``'s; what orjson refuses — an integer beyond 64 bits,
    which :func:`loads` accepts — is written by ``json`` in the same form, so no value a
    message may carry fails a write. :func:`loads_stored` reads either back exactly."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_naive_time)


def _naive_time(value: Any) -> str:
    """A time as orjson writes it (ISO 8601; a naive time without offset)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _shallow(text: str) -> bool:
    """True when valid JSON ``text`` nests no deeper than :data:`MAX_DEPTH`; a quick check at C
    speed (a 500-message batch has thousands of brackets): escaped backslashes and quotes
    removed, then everything but quotes and brackets, then the strings, then the innermost
    bracket pairs, one level per pass. False: :func:`_check_depth` decides (and says where).
    On text that is not JSON it may be wrong: :func:`loads` then runs the exact check anyway
    before reporting the syntax error, as it always did."""
    marks = text.replace("\\\\", "").replace('\\"', "").encode("utf-8", "surrogatepass")
    marks = marks.translate(None, _NOT_QUOTE_OR_BRACKET).replace(b'""', b"")
    if b'"' in marks:
        marks = _QUOTED.sub(b"", marks)
    marks = marks.replace(b"{", b"[").replace(b"}", b"]")
    for _ in range(MAX_DEPTH):
        if not marks:
            return True
        marks = marks.replace(b"[]", b"")
    return not marks


def _check_depth(text: str) -> None:
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, col = _position(text, match.start())
                raise InvalidJSON(f"nested deeper than {MAX_DEPTH} levels", line, col)
        elif char in "]}":
            depth -= 1


def _check_strings(value: Any, text: str) -> None:
    """Walk ``value`` without recursion; the pointer is built only for an error (``trail`` is a linked list)."""
    stack: list[tuple[Any, Any]] = [(value, None)]
    while stack:
        item, trail = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise _unstorable_error("a string", item, trail, text)
            continue
        if not isinstance(item, (dict, list)):
            continue
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(key, str) and _UNSTORABLE.search(key):
                raise _unstorable_error("a key", key, trail, text)
            if isinstance(child, (dict, list, str)):
                stack.append((child, (key, trail)))


def _unstorable_error(what: str, string: str, trail: Any, text: str) -> InvalidJSON:
    if "\x00" in string:
        offset = text.find(_NUL_ESCAPE)
        line, col = _position(text, offset) if offset >= 0 else (0, 0)
        return InvalidJSON(
            f"{what} holds a NUL character (\\u0000): PostgreSQL cannot store it", line, col, _pointer(trail)
        )
    escape = _LONE_SURROGATE_ESCAPE.search(text)
    line, col = _position(text, escape.start()) if escape else (0, 0)
    return InvalidJSON(f"{what} holds a lone UTF-16 surrogate (not text)", line, col, _pointer(trail))


def _position(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _pointer(trail: Any) -> str:
    keys: list[str] = []
    while trail is not None:
        key, trail = trail
        keys.append(str(key).replace("~", "~0").replace("/", "~1"))
    return "".join("/" + k for k in reversed(keys))
