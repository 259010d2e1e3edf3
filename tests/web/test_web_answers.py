"""What `json_response` writes: orjson's fast path must answer what `json.dumps` answered.

The render answer (~80 KB) is encoded by orjson; these pin the cases where orjson on its
own would differ from the ``json`` module the API used before (number-like keys, datetimes,
numpy floats, NaN) or refuse (lone surrogates, integers beyond 64 bits).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from flask import Flask

from tailor.web.body import encode, json_response


def _strict(raw: bytes) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} in the answer: not JSON")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def test_answers_parse_as_json_dumps_did():
    payload = {
        "subject": "Ünïcödé ✉ 日本",
        "html": "<p>" + "x" * 10_000 + "</p>",
        "nested": [{"a": 1, "b": [True, False, None]}, (1, 2)],
        "price": 12.5,
        "when": datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        1: "an int key",
        None: "a null key",
    }
    assert _strict(encode(payload)) == json.loads(json.dumps(payload, default=str, ensure_ascii=False))


def test_datetimes_keep_their_str_form():
    when = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert _strict(encode({"when": when})) == {"when": "2026-11-23 12:00:00+00:00"}


def test_numpy_floats_stay_numbers_and_other_types_become_strings():
    assert _strict(encode({"score": np.float64(0.25), "tags": {"a"}})) == {"score": 0.25, "tags": "{'a'}"}


def test_non_finite_floats_become_null():
    assert _strict(encode({"a": float("nan"), "b": [float("inf"), np.float64("-inf")], "c": 1.0})) == {
        "a": None,
        "b": [None, None],
        "c": 1.0,
    }


def test_what_orjson_refuses_is_still_valid_json():
    # a lone surrogate from stored data, an integer beyond 64 bits: the json module's path
    assert _strict(encode({"name": "bad \ud800 text", "big": 2**70})) == {"name": "bad ? text", "big": 2**70}
    assert _strict(encode({"big": 2**70, "nan": float("nan")})) == {"big": 2**70, "nan": None}


def test_json_response_is_utf8_json_with_no_store_when_asked():
    with Flask(__name__).test_request_context():
        answer = json_response({"ok": "é"}, 201, no_store=True)
    assert answer.status_code == 201
    assert answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert _strict(answer.get_data()) == {"ok": "é"}
