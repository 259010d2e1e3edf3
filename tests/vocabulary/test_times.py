"""``parse_iso``: every spelling tailor meets means one aware UTC instant, or a clear error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tailor.vocabulary.times import NotATime, naive_utc, parse_iso, to_utc

INSTANT = datetime(2026, 11, 20, 18, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20T18:02:00Z",
        "2026-11-20T18:02:00z",
        "2026-11-20T18:02:00+00:00",
        "2026-11-20T19:02:00+01:00",
        "2026-11-20T18:02:00",  # no offset: UTC
        " 2026-11-20T18:02:00.0000000Z ",  # Postmark: seven fractional digits
    ],
)
def test_every_spelling_is_the_same_utc_instant(text):
    moment = parse_iso(text)
    assert moment == INSTANT and moment.tzinfo is UTC


def test_datetimes_are_normalised_too():
    assert parse_iso(datetime(2026, 11, 20, 18, 2)) == INSTANT
    assert parse_iso(INSTANT.astimezone(timezone(timedelta(hours=-5)))).tzinfo is UTC


@pytest.mark.parametrize("junk", ["", "   ", "yesterday", "2026-13-01", None, 17])
def test_junk_is_a_clear_error(junk):
    with pytest.raises(NotATime, match="not an ISO 8601 time.*use e.g. 2026-11-20T18:02:00Z"):
        parse_iso(junk)
    assert to_utc(junk) is None


def test_out_of_range_is_an_error_not_an_overflow():
    with pytest.raises(NotATime, match="out of range"):
        parse_iso("0001-01-01T00:00+01:00")


def test_store_form_is_naive_utc():
    assert naive_utc("2026-11-20T19:02:00+01:00") == datetime(2026, 11, 20, 18, 2)
