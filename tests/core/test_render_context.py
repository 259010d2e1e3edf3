"""The one render context: what every send, the studio and the rules tests decide and render with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tailor import Tailor
from tailor.context import build_render_context
from tailor.profile import validate_profile
from tailor.rules import RuleBook

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def persona(name: str) -> dict:
    return validate_profile(json.loads((ROOT / "fixtures" / "personas" / f"{name}.json").read_text()))


def test_a_trait_wins_over_the_computed_feature_of_the_same_name():
    doc = persona("recent-buyer")
    computed = build_render_context(doc, AT).features["lifetime_value"]
    doc["traits"]["lifetime_value"] = 99999
    ctx = build_render_context(doc, AT)
    assert computed != 99999
    assert ctx.profile["lifetime_value"] == 99999
    assert ctx.features["lifetime_value"] == computed  # the recommender still sees what the events say


def test_without_personalization_consent_the_events_are_not_read():
    book = RuleBook.load(ROOT / "rules")
    doc = persona("cart-abandoner")
    consenting = build_render_context(doc, AT, book)
    assert consenting.triggers["cart_abandonment"]["active"] and consenting.features
    doc["consents"]["personalization"] = False
    ctx = build_render_context(doc, AT, book)
    assert ctx.personalized is False
    assert ctx.features == {} and ctx.triggers == {}
    assert "days_since_first_seen" not in ctx.profile
    assert ctx.profile["consents"]["personalization"] is False
    assert ctx.profile["first_name"] == doc["traits"]["first_name"]


def test_time_zone_locale_and_currency_come_from_the_profile_and_the_esp_context():
    ctx = build_render_context(persona("french-shopper"), AT, esp_context={"currency": "EUR"})
    formatting = ctx.formatting
    assert formatting.locale == "fr_FR" and formatting.currency == "EUR" and formatting.lang == "fr-FR"
    assert formatting.timezone is ctx.timezone and ctx.now.tzinfo is ctx.timezone
    assert not any(name.startswith("__") for name in ctx.as_template_vars()), "no protocol by string keys"
    assert str(ctx.timezone) == persona("french-shopper")["traits"]["timezone"]
    assert ctx.now == AT and ctx.now.utcoffset() != AT.utcoffset()
    assert build_render_context(persona("sparse-data"), AT).currency == "USD"
    assert build_render_context(persona("sparse-data"), AT, default_currency="GBP").currency == "GBP"


def test_a_render_uses_exactly_the_built_context_plus_the_rules_variables():
    tailor = Tailor(ROOT / "templates", ROOT / "rules")
    doc = persona("cart-abandoner")
    prepared = tailor.prepare("cart_abandonment", profile=doc, at=AT)
    ctx = build_render_context(doc, AT, tailor.rulebook, catalog={})
    ctx.recs = prepared.context["recs"]
    ctx.variables = {k: prepared.context[k] for k in ("discount_code",)}
    assert prepared.context == ctx.as_template_vars()
    assert list(prepared.context) == list(ctx.as_template_vars())


def test_the_winning_rules_are_read_from_the_typed_decisions_and_the_json_keeps_its_shape():
    tailor = Tailor(ROOT / "templates", ROOT / "rules")
    email = tailor.render("newsletter", profile=persona("cart-abandoner"), at=AT, record_exposure=False)
    assert email.winning_rules()["hero"] == "cart-reminder"
    hero = next(d for d in email.slot_decisions if d.slot == "hero")
    assert hero.rule_id == "cart-reminder" and hero.block == email.blocks["hero"]
    assert [d.as_dict() for d in email.slot_decisions] == [d for d in email.decisions if "slot" in d]
    assert "slot_decisions" not in email.to_dict()
    json.dumps(email.to_dict())
    plain = tailor.render("newsletter", profile=persona("sparse-data"), at=AT, record_exposure=False)
    assert "hero" not in plain.winning_rules()


def test_segments_of_a_stored_profile_follow_the_render_context(tmp_path):
    """``tailor batch --segment`` picks recipients with the same context a send renders with."""
    tailor = Tailor(ROOT / "templates", ROOT / "rules", f"sqlite:///{tmp_path / 'seg.db'}", create_store=True)
    identify = {"type": "identify", "timestamp": "2026-11-01T10:00:00Z"}
    traits = {"lifetime_value": 900, "locale": "fr_FR"}  # a CRM trait beats the computed 0
    tailor.store.ingest(
        [
            {**identify, "userId": "u-seg", "messageId": "seg-1", "traits": traits},
            {
                **identify,
                "userId": "u-off",
                "messageId": "seg-2",
                "traits": {**traits, "consent_personalization": False},
            },
        ]
    )
    assert tailor.segments_of("u-seg", AT) == ["vip", "french_speaking"]
    assert tailor.segments_of("u-off", AT) == ["french_speaking"]  # only segments that read no behaviour
    assert tailor.segments_of("nobody", AT) == []
