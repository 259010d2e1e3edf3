"""Unsubscribe tokens: every alteration is refused, and no address can be read from one."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailor.delivery.unsubscribe import BadToken, Unsubscribe


@pytest.fixture(scope="module")
def links(tmp_path_factory):
    from tailor.store import Store

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('tokens') / 't.db'}")
    store.migrate()
    yield Unsubscribe(store, "https://mail.shop.example")
    store.close()


def test_a_token_names_the_address_hash_and_nothing_readable(links):
    token = links.token("Ann.Smith@Example.com")
    assert links.verify(token) == links.store.hash_email("ann.smith@example.com")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"ann" not in raw.lower() and b"example" not in raw.lower()
    assert links.url("ann.smith@example.com").startswith("https://mail.shop.example/v1/unsubscribe/")


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_changing_any_byte_of_a_token_makes_it_invalid(links, position, flip):
    token = links.token("ann@example.com")
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position % len(raw)] ^= flip
    altered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(BadToken):
        links.verify(altered)


def test_a_token_of_another_store_is_refused(links, tmp_path):
    from tailor.store import Store

    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    other.migrate()
    with pytest.raises(BadToken):
        links.verify(Unsubscribe(other).token("ann@example.com"))
    other.close()
