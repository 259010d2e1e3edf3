"""Message times: Segment's clock-skew correction, far-future times clamped, bad times refused.

Through the real store (SQLite and PostgreSQL) and, for the batch answer, a real HTTP server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from flask import Flask
from store_helpers import identify, table_counts, track

from tailor.config import Settings
from tailor.store import Store, ValidationError
from tailor.store.times import parse_time, utcnow
from tailor.web.ingest import create_ingest_blueprint


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat() + "Z"


def _event(store: Store, profile: str, message_id: str) -> dict:
    return next(e for e in store.export_profile(profile)["events"] if e["messageId"] == message_id)


def test_year_9999_is_clamped_and_does_not_win_forever(store: Store) -> None:
    before = utcnow()
    store.ingest([identify("far", user="u-1", ts="9999-12-31T23:59:59Z", first_name="Forever")])
    event = _event(store, "u-1", "far")
    stored = parse_time(event["timestamp"])
    assert before - timedelta(seconds=1) <= stored <= utcnow() + timedelta(seconds=1)
    assert event["context"]["tailor"] == {"timestampClamped": "9999-12-31T23:59:59Z"}
    # an ordinary later write wins: the far-future time did not make the trait permanent
    later = _iso(datetime.now(UTC) + timedelta(minutes=1))
    store.ingest([identify("next", user="u-1", ts=later, first_name="Ann")])
    assert store.load_profile(id="u-1")["traits"]["first_name"] == "Ann"


def test_small_future_skew_is_kept(store: Store) -> None:
    soon = _iso(datetime.now(UTC) + timedelta(minutes=2))
    store.ingest([track("soon", ts=soon)])
    event = _event(store, "u-1", "soon")
    assert event["timestamp"].startswith(soon[:16]) and "tailor" not in event["context"]


def test_sent_at_corrects_the_client_clock(store: Store) -> None:
    """A client clock one day ahead: timestamp and sentAt both by that clock → the server's time."""
    ahead = datetime.now(UTC) + timedelta(days=1)
    message = {**track("skew"), "timestamp": _iso(ahead - timedelta(minutes=10)), "sentAt": _iso(ahead)}
    store.ingest([message])
    stored = parse_time(_event(store, "u-1", "skew")["timestamp"])
    expected = utcnow() - timedelta(minutes=10)
    assert abs(stored - expected) < timedelta(seconds=30)


def test_original_timestamp_and_own_received_at_of_an_export(store: Store) -> None:
    """A Segment export carries its receivedAt: the correction is anchored on it, not on now."""
    export = {
        **track("exp"),
        "originalTimestamp": "2026-11-20T10:00:00Z",
        "sentAt": "2026-11-20T10:00:05Z",
        "receivedAt": "2026-11-20T09:00:06Z",
        "timestamp": "2026-11-20T09:00:01Z",
    }
    store.ingest([export])
    assert _event(store, "u-1", "exp")["timestamp"] == "2026-11-20T09:00:01Z"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timestamp": "1969-12-31T23:59:59Z"}, "timestamp"),
        ({"timestamp": "10000-01-01T00:00:00Z"}, "timestamp"),
        ({"timestamp": 1700000000}, "timestamp"),
        ({"timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"}, "timestamp"),
        ({"sentAt": "yesterday"}, "sentAt"),
    ],
)
def test_bad_times_are_refused_with_their_pointer(store: Store, changes: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        store.ingest([track("ok"), {**track("bad"), **changes}])
    assert caught.value.pointer == f"/batch/1/{field}"
    assert table_counts(store)["events"] == 0


@pytest.fixture
def ingest_url(store: Store, serve) -> str:
    app = Flask("timestamps-test")
    app.register_blueprint(create_ingest_blueprint(store, Settings().with_values(write_keys="wk")))
    return serve(app)


def test_http_batch_bad_time_is_a_400_naming_the_message(store: Store, ingest_url: str) -> None:
    batch = {
        "batch": [track("ok"), {**track("bad"), "timestamp": "0001-01-01T00:00:00Z"}],
        "sentAt": _iso(datetime.now(UTC)),
    }
    response = requests.post(f"{ingest_url}/v1/batch", json=batch, auth=("wk", ""), timeout=10)
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["pointer"] == "/batch/1/timestamp"
    assert table_counts(store)["events"] == 0


def test_http_batch_sent_at_and_caller_received_at(store: Store, ingest_url: str) -> None:
    """The batch's sentAt corrects each message; a caller's receivedAt cannot move the anchor."""
    ahead = datetime.now(UTC) + timedelta(hours=3)
    message = {**track("m"), "timestamp": _iso(ahead - timedelta(hours=1)), "receivedAt": "2001-01-01T00:00:00Z"}
    batch = {"batch": [message], "sentAt": _iso(ahead)}
    assert requests.post(f"{ingest_url}/v1/batch", json=batch, auth=("wk", ""), timeout=10).status_code == 200
    stored = parse_time(_event(store, "u-1", "m")["timestamp"])
    assert abs(stored - (utcnow() - timedelta(hours=1))) < timedelta(seconds=30)
