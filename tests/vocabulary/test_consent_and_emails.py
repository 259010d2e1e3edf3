"""Consent and email addresses, each read one way everywhere."""

from __future__ import annotations

import pytest

from tailor.vocabulary.consent import PERSONALIZATION, consent, granted
from tailor.vocabulary.emails import email_address, normalize_email


def test_only_an_explicit_false_refuses():
    assert granted(None, PERSONALIZATION) and granted({}, PERSONALIZATION)
    assert granted({PERSONALIZATION: None}, PERSONALIZATION) and granted({PERSONALIZATION: True}, PERSONALIZATION)
    assert not granted({PERSONALIZATION: False}, PERSONALIZATION)
    assert not consent({"consents": {"tracking": False}}, "tracking") and consent({"consents": None}, "tracking")


def test_one_normal_form_of_an_address():
    assert normalize_email("  Ann@Example.ORG ") == "ann@example.org"
    assert email_address("  Ann@Example.ORG ") == "ann@example.org"


@pytest.mark.parametrize("junk", ["", "ann", "@example.org", "ann@", "a nn@example.org", "a@b@c", None, 7])
def test_what_is_not_an_address(junk):
    assert email_address(junk) is None


def test_an_address_is_at_most_254_characters():
    # what SMTP can carry; PostgreSQL refused a longer one (a 500 on ingestion)
    assert email_address("a" * 64 + "@" + "b" * 185 + ".com") is not None  # 254
    assert email_address("a" * 64 + "@" + "b" * 186 + ".com") is None
