"""Identity integrity: a write key cannot take over another known profile (SQLite and PostgreSQL).

An untrusted write (``trusted=False``: what the HTTP API passes for a write key not
marked trusted) that claims an identifier of another known profile — the email of an
identify, an alias's ``previousId``, an ``anonymousId`` — keeps the rest of its message
but not the claim; a trusted write merges as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from prometheus_client import generate_latest
from store_helpers import identify, table_counts, track

from tailor.config import ConfigError, Settings
from tailor.store import Store
from tailor.web.ingest import create_ingest_blueprint
from tailor.web.metrics import Metrics

VICTIM_EMAIL = "victim@example.com"


def _victim(store: Store) -> dict:
    store.ingest(
        [
            identify("v1", user="victim", ts="2026-11-01T00:00:00Z", email=VICTIM_EMAIL, first_name="Vera"),
            track("v2", user="victim", ts="2026-11-02T00:00:00Z", product_id="sku-v"),
        ]
    )
    return store.load_profile(id="victim")


def _attacker_history(store: Store) -> None:
    store.ingest([track("a1", user="attacker", product_id="sku-a")], trusted=False)


def test_identify_with_anothers_email_neither_merges_nor_replaces_it(store: Store) -> None:
    before = _victim(store)
    _attacker_history(store)
    result = store.ingest(
        [identify("a2", user="attacker", ts="9999-12-31T23:59:59Z", email=VICTIM_EMAIL, first_name="Mallory")],
        trusted=False,
    )
    assert [(c.kind, c.owner, c.claimant) for c in result.conflicts] == [("email", "victim", "attacker")]
    victim = store.load_profile(id="victim")
    assert victim["email"] == VICTIM_EMAIL and victim["traits"] == before["traits"]
    assert [e["messageId"] for e in victim["events"]] == ["v1", "v2"], "the attacker's events were merged in"
    assert store.load_profile(email=VICTIM_EMAIL)["id"] == "victim"
    attacker = store.load_profile(id="attacker")
    assert attacker["id"] == "attacker" and attacker["email"] is None, "the attacker got the victim's address"
    assert attacker["traits"]["first_name"] == "Mallory"  # the rest of the message is kept


def test_new_user_claiming_an_email_does_not_absorb_its_profile(store: Store) -> None:
    """A brand-new user id smaller than the victim's would have become the merged profile's id."""
    _victim(store)
    result = store.ingest([identify("a1", user="aaa-new", email=VICTIM_EMAIL)], trusted=False)
    assert [c.kind for c in result.conflicts] == ["email"]
    assert store.load_profile(email=VICTIM_EMAIL)["id"] == "victim"
    assert store.load_profile(id="aaa-new")["id"] == "aaa-new"


def test_anonymous_visitor_claiming_a_known_email_is_not_joined(store: Store) -> None:
    """Otherwise the visitor's anonymousId would resolve to the customer and write their traits."""
    _victim(store)
    store.ingest([identify("a1", anon="anon-evil", email=VICTIM_EMAIL)], trusted=False)
    store.ingest([identify("a2", anon="anon-evil", first_name="Mallory")], trusted=False)
    assert store.load_profile(id="victim")["traits"]["first_name"] == "Vera"
    assert store.load_profile(id="anon-anon-evil")["email"] is None


@pytest.mark.parametrize("previous", ["victim", "victim-anon"])
def test_alias_of_another_known_id_refused(store: Store, previous: str) -> None:
    store.ingest(
        [identify("v0", user="victim", anon="victim-anon", email=VICTIM_EMAIL, first_name="Vera")], trusted=True
    )
    _attacker_history(store)
    alias = {"type": "alias", "userId": "attacker", "previousId": previous, "messageId": "al1"}
    result = store.ingest([alias], trusted=False)
    assert [(c.kind, c.owner) for c in result.conflicts] == [("alias", "victim")]
    assert store.load_profile(id="victim")["id"] == "victim"
    assert store.load_profile(id="attacker")["id"] == "attacker"
    assert [e["messageId"] for e in store.load_profile(id="victim")["events"]] == ["v0"]


def test_foreign_anonymous_id_refused(store: Store) -> None:
    store.ingest([identify("v0", user="victim", anon="victim-anon", first_name="Vera")])
    result = store.ingest([track("a1", user="attacker", anon="victim-anon")], trusted=False)
    assert [(c.kind, c.owner) for c in result.conflicts] == [("anonymous_id", "victim")]
    assert store.load_profile(id="attacker")["id"] == "attacker"
    assert store.load_profile(anonymous_id="victim-anon")["id"] == "victim"


def test_legitimate_flows_still_merge_untrusted(store: Store) -> None:
    """A visitor logging in (anonymous → user), and the same person identifying again."""
    store.ingest([track("t1", user=None, anon="visitor-1")], trusted=False)
    result = store.ingest([identify("i1", user="u-9", anon="visitor-1", email="zoe@example.com")], trusted=False)
    store.ingest([identify("i2", user="u-9", email="zoe@example.com", first_name="Zoe")], trusted=False)
    store.ingest([{"type": "alias", "userId": "u-9", "previousId": "visitor-2", "messageId": "al"}], trusted=False)
    assert result.conflicts == ()
    doc = store.load_profile(anonymous_id="visitor-1")
    assert doc["id"] == "u-9" and doc["email"] == "zoe@example.com" and doc["traits"]["first_name"] == "Zoe"
    assert [e["messageId"] for e in doc["events"]] == ["t1", "i1", "i2", "al"]
    assert table_counts(store)["profiles"] == 1


def test_trusted_write_merges_two_known_profiles(store: Store) -> None:
    _victim(store)
    _attacker_history(store)
    result = store.ingest([{"type": "alias", "userId": "u-new", "previousId": "victim", "messageId": "al"}])
    assert result.conflicts == ()
    assert store.load_profile(id="victim")["id"] == "u-new"  # the server-side source renamed the customer


# -- the setting and the HTTP path ---------------------------------------------------------


def test_trusted_suffix_in_write_keys() -> None:
    settings = Settings.load(None, {"TAILOR_WRITE_KEYS": "browser-key, backend-key:trusted"})
    assert settings.write_keys == ("browser-key", "backend-key")
    assert settings.trusted_write_keys == ("backend-key",)
    assert Settings().with_values(write_keys=["k"]).trusted_write_keys == ()
    with pytest.raises(ConfigError):
        Settings().with_values(write_keys=":trusted")


@pytest.fixture
def ingest_url(store: Store, serve) -> Iterator[tuple[str, Metrics]]:
    metrics = Metrics()
    app = Flask("integrity-test")
    app.extensions["tailor.metrics"] = metrics
    settings = Settings().with_values(write_keys="browser-key,backend-key:trusted")
    app.register_blueprint(create_ingest_blueprint(store, settings))
    yield serve(app), metrics


def test_http_untrusted_key_cannot_take_over_and_conflict_is_counted(store: Store, ingest_url, capfd) -> None:
    url, metrics = ingest_url
    _victim(store)
    batch = {"batch": [identify("a1", user="attacker", email=VICTIM_EMAIL, first_name="Mallory")]}
    response = requests.post(f"{url}/v1/batch", json=batch, auth=("browser-key", ""), timeout=10)
    assert response.status_code == 200
    assert store.load_profile(email=VICTIM_EMAIL)["id"] == "victim"
    assert store.load_profile(id="attacker")["email"] is None
    exposition = generate_latest(metrics.registry).decode()
    assert 'tailor_identity_conflicts_total{kind="email"} 1.0' in exposition
    logged = capfd.readouterr().err  # the JSON log lines
    assert '"owner": "victim"' in logged and "identity claim refused" in logged
    assert VICTIM_EMAIL not in logged


def test_http_trusted_key_merges(store: Store, ingest_url) -> None:
    url, metrics = ingest_url
    _victim(store)
    alias = {"type": "alias", "userId": "u-new", "previousId": "victim", "messageId": "al"}
    assert requests.post(f"{url}/v1/alias", json=alias, auth=("backend-key", ""), timeout=10).status_code == 200
    assert store.load_profile(email=VICTIM_EMAIL)["id"] == "u-new"
    exposition = generate_latest(metrics.registry).decode()
    assert "tailor_identity_conflicts_total{" not in exposition


# -- messageId scope -------------------------------------------------------------------------


def test_two_people_with_the_same_message_id_both_stored_and_reported(store: Store) -> None:
    first = store.ingest([track("m-1", user="victim", product_id="sku-1")], trusted=False)
    second = store.ingest([track("m-1", user="attacker", product_id="sku-1")], trusted=False)
    assert first.clashes == () and second.accepted == 1
    assert [(c.kind, c.pointer) for c in second.clashes] == [("shared", "/batch/0")]
    assert [e["messageId"] for e in store.load_profile(id="victim")["events"]] == ["m-1"]
    assert [e["messageId"] for e in store.load_profile(id="attacker")["events"]] == ["m-1"]


def test_same_message_twice_stores_once_without_a_clash(store: Store) -> None:
    message = track("m-1", user="u-1", anon="a-1", product_id="sku-1")
    store.ingest([message])
    again = store.ingest([message, message])
    assert (again.accepted, again.duplicates, again.clashes) == (0, 2, ())
    assert table_counts(store)["events"] == 1


def test_same_sender_reusing_an_id_for_other_content_is_reported(store: Store) -> None:
    store.ingest([track("m-1", user="u-1", product_id="sku-1")])
    result = store.ingest([track("ok", user="u-1"), track("m-1", user="u-1", product_id="sku-2")])
    assert result.accepted == 1 and [(c.kind, c.pointer) for c in result.clashes] == [("reused", "/batch/1")]
    assert [e["properties"] for e in store.load_profile(id="u-1")["events"] if e["messageId"] == "m-1"] == [
        {"product_id": "sku-1"}
    ]


def test_one_batch_two_people_same_id(store: Store) -> None:
    result = store.ingest([track("m", user="u-1"), track("m", user="u-2")])
    assert result.accepted == 2 and {c.kind for c in result.clashes} == {"shared"}
    assert table_counts(store)["events"] == 2


def test_rows_from_before_scopes_still_deduplicate(store: Store) -> None:
    """Events stored before migration 0005 have scope '': a retry of one is still a duplicate."""
    from sqlalchemy import text

    store.ingest([track("old", user="u-1")])
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE events SET scope = ''"))
    assert store.ingest([track("old", user="u-1")]).duplicates == 1
    assert table_counts(store)["events"] == 1


def test_http_clash_is_a_warning_in_the_answer_and_counted(store: Store, ingest_url) -> None:
    url, metrics = ingest_url
    store.ingest([track("m-1", user="victim")])
    batch = {"batch": [track("fine", user="attacker"), track("m-1", user="attacker")]}
    response = requests.post(f"{url}/v1/batch", json=batch, auth=("browser-key", ""), timeout=10)
    assert response.status_code == 200 and response.json()["success"] is True
    assert response.json()["warnings"] == [
        {"code": "message-id-shared", "pointer": "/batch/1/messageId", "detail": "..."}
        | {"detail": response.json()["warnings"][0]["detail"]}
    ]
    assert len(store.load_profile(id="victim")["events"]) == 1
    assert [e["messageId"] for e in store.load_profile(id="attacker")["events"]] == ["fine", "m-1"]
    assert 'tailor_message_id_clashes_total{kind="shared"} 1.0' in generate_latest(metrics.registry).decode()
    plain = requests.post(f"{url}/v1/track", json=track("other", user="attacker"), auth=("browser-key", ""), timeout=10)
    assert plain.json() == {"success": True}  # Segment's answer, unchanged when there is nothing to say


def test_two_known_people_cannot_be_joined_through_a_new_identifier_in_one_batch(store: Store) -> None:
    """A fresh email (or anonymousId) claimed by the attacker and then by the victim's id in the same batch."""
    _victim(store)
    result = store.ingest(
        [
            identify("a1", user="attacker", anon="fresh-anon", email="fresh@example.com"),
            identify("a2", user="victim", anon="fresh-anon", email="fresh@example.com"),
        ],
        trusted=False,
    )
    # the victim's own email stays (an untrusted write does not replace it); the anonymous id is the attacker's
    assert sorted((c.kind, c.owner) for c in result.conflicts) == [("anonymous_id", "attacker"), ("email", "victim")]
    assert store.load_profile(id="victim")["id"] == "victim"
    assert store.load_profile(id="attacker")["id"] == "attacker"
    assert store.load_profile(email=VICTIM_EMAIL)["email"] == VICTIM_EMAIL
    assert store.load_profile(email="fresh@example.com")["id"] == "attacker"


# -- what an untrusted write may change on a known profile -----------------------------------

ATTACKER_EMAIL = "attacker@evil.test"


def _customer(store: Store, **consents: bool) -> None:
    """A known customer as a trusted source wrote them: email, a name, and consent statements."""
    store.ingest(
        [
            identify(
                "c1",
                user="u-00002",
                ts="2026-11-01T00:00:00Z",
                email=VICTIM_EMAIL,
                first_name="Vera",
                consents=consents,
            )
        ]
    )


def _post(url: str, path: str, message: dict, key: str) -> requests.Response:
    return requests.post(f"{url}/v1/{path}", json=message, auth=(key, ""), timeout=10)


def test_http_untrusted_key_cannot_replace_a_known_customers_email(store: Store, ingest_url, capfd) -> None:
    """The red team's takeover: identify as the customer's userId with the attacker's address."""
    url, metrics = ingest_url
    _customer(store)
    attack = {"userId": "u-00002", "traits": {"email": ATTACKER_EMAIL, "first_name": "Mallory"}, "messageId": "x1"}
    assert _post(url, "identify", attack, "browser-key").status_code == 200
    customer = store.load_profile(id="u-00002")
    assert customer["email"] == VICTIM_EMAIL, "the attacker's address replaced the customer's"
    assert store.load_profile(email=ATTACKER_EMAIL) is None, "the attacker's address reaches the customer's export"
    assert customer["traits"]["first_name"] == "Mallory"  # ordinary traits: a userId is the client's assertion
    exposition = generate_latest(metrics.registry).decode()
    assert 'tailor_identity_conflicts_total{kind="email"} 1.0' in exposition
    logged = capfd.readouterr().err
    assert '"owner": "u-00002"' in logged and ATTACKER_EMAIL not in logged and VICTIM_EMAIL not in logged
    # a later timestamp does not help either
    late = {**attack, "messageId": "x2", "timestamp": "9999-12-31T23:59:59Z"}
    assert _post(url, "identify", late, "browser-key").status_code == 200
    assert store.load_profile(id="u-00002")["email"] == VICTIM_EMAIL


def test_untrusted_write_cannot_replace_the_email_through_a_joined_visitor(store: Store) -> None:
    """An anonymous visitor carrying the attacker's address, then 'logging in' as the customer."""
    _customer(store)
    store.ingest([identify("x1", anon="evil-visitor", email=ATTACKER_EMAIL)], trusted=False)
    result = store.ingest([identify("x2", user="u-00002", anon="evil-visitor")], trusted=False)
    assert [c.kind for c in result.conflicts] == ["email"]
    assert store.load_profile(id="u-00002")["email"] == VICTIM_EMAIL
    assert store.load_profile(email=ATTACKER_EMAIL)["id"] == "anon-evil-visitor"
    # the same in one batch
    result = store.ingest(
        [identify("y1", anon="evil-2", email="other@evil.test"), identify("y2", user="u-00002", anon="evil-2")],
        trusted=False,
    )
    assert "email" in [c.kind for c in result.conflicts]
    assert store.load_profile(id="u-00002")["email"] == VICTIM_EMAIL
    found = store.load_profile(email="other@evil.test")
    assert found is None or found["id"] != "u-00002"


def test_http_untrusted_key_cannot_grant_back_a_withdrawn_consent(store: Store, ingest_url) -> None:
    url, metrics = ingest_url
    _customer(store, email_marketing=False, tracking=True)
    grant = {"userId": "u-00002", "traits": {"consents": {"email_marketing": True}}, "messageId": "g1"}
    assert _post(url, "identify", grant, "browser-key").status_code == 200
    late = {
        **grant,
        "messageId": "g2",
        "timestamp": "9999-12-31T23:59:59Z",
        "traits": {"consent_email_marketing": True},
    }
    assert _post(url, "identify", late, "browser-key").status_code == 200
    assert store.load_profile(id="u-00002")["consents"]["email_marketing"] is False
    exposition = generate_latest(metrics.registry).decode()
    assert 'tailor_identity_conflicts_total{kind="consent"} 2.0' in exposition


def test_http_untrusted_key_can_withdraw_consent(store: Store, ingest_url) -> None:
    """A "no" is privacy-safe: what a browser consent banner sends."""
    url, _ = ingest_url
    _customer(store, email_marketing=True)
    withdraw = {"userId": "u-00002", "traits": {"consents": {"email_marketing": False}}, "messageId": "w1"}
    assert _post(url, "identify", withdraw, "browser-key").status_code == 200
    assert store.load_profile(id="u-00002")["consents"]["email_marketing"] is False


def test_untrusted_grant_cannot_outrun_a_delayed_withdrawal(store: Store) -> None:
    """A grant is never stored, so a withdrawal arriving later with an older time still wins."""
    _customer(store)
    store.ingest(
        [identify("g1", user="u-00002", ts="2026-11-21T00:00:00Z", consents={"tracking": True})], trusted=False
    )
    store.ingest([identify("w1", user="u-00002", ts="2026-11-20T00:00:00Z", consents={"tracking": False})])
    assert store.load_profile(id="u-00002")["consents"]["tracking"] is False


def test_http_trusted_key_can_change_email_and_grant_consent(store: Store, ingest_url) -> None:
    url, metrics = ingest_url
    _customer(store, email_marketing=False)
    change = {"userId": "u-00002", "traits": {"email": "new@example.com", "consents": {"email_marketing": True}}}
    assert _post(url, "identify", {**change, "messageId": "t1"}, "backend-key").status_code == 200
    customer = store.load_profile(id="u-00002")
    assert customer["email"] == "new@example.com" and customer["consents"]["email_marketing"] is True
    assert store.load_profile(email="new@example.com")["id"] == "u-00002"
    assert "tailor_identity_conflicts_total{" not in generate_latest(metrics.registry).decode()


def test_http_untrusted_key_sets_the_email_of_a_new_profile(store: Store, ingest_url) -> None:
    """A new userId (or a known one without an email yet) can still give its address."""
    url, metrics = ingest_url
    signup = {"userId": "u-new", "traits": {"email": "new@example.com", "first_name": "Nia"}, "messageId": "n1"}
    assert _post(url, "identify", signup, "browser-key").status_code == 200
    assert store.load_profile(email="new@example.com")["id"] == "u-new"
    store.ingest([track("t1", user="u-noemail", product_id="sku-1")], trusted=False)
    first = {"userId": "u-noemail", "traits": {"email": "first@example.com"}, "messageId": "n2"}
    assert _post(url, "identify", first, "browser-key").status_code == 200
    assert store.load_profile(id="u-noemail")["email"] == "first@example.com"
    # the same address again (an ordinary re-identify) is no conflict
    again = {"userId": "u-new", "traits": {"email": "NEW@example.com"}, "messageId": "n3"}
    assert _post(url, "identify", again, "browser-key").status_code == 200
    assert "tailor_identity_conflicts_total{" not in generate_latest(metrics.registry).decode()
