"""The example shop's rules/: they load cleanly, and each persona takes its own path."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from rules_helpers import AT, event

from tailor.context import build_render_context
from tailor.profile import validate_profile
from tailor.rules import Decision, RuleBook

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
PERSONAS = ROOT / "fixtures" / "personas"
SLOTS = ["hero", "footer_offer"]

#: persona -> (hero block, footer_offer block)
EXPECTED = {
    "new-subscriber": ("hero/welcome", "footer_offer/first-order"),
    "vip-new-york": ("hero/winter-promo", "footer_offer/vip-free-shipping"),
    "cart-abandoner": ("hero/cart-reminder", "footer_offer/cart-discount"),
    "browse-abandoner": ("hero/browse-reminder", "footer_offer/first-order"),
    "lapsed-customer": ("hero/win-back", "footer_offer/win-back"),
    "no-consent": ("hero/generic", "footer_offer/generic"),
    "french-shopper": ("hero/french", "footer_offer/first-order"),
    "sparse-data": ("hero/generic", "footer_offer/generic"),
    "recent-buyer": ("hero/thank-you", "footer_offer/generic"),
}


def ago(**delta) -> str:
    return (AT - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def order(days: float, total: float, category: str = "Shoes") -> dict:
    return event(
        "Order Completed",
        ago(days=days),
        order_id=f"o{days}",
        total=total,
        products=[{"product_id": "sku-0001", "category": category, "price": total, "quantity": 1}],
    )


def persona(pid: str, traits: dict, events: list[dict], consent: bool = True, email: bool = True) -> dict:
    return {
        "id": pid,
        "email": f"{pid}@example.com" if email else None,
        "traits": traits,
        "consents": {"personalization": consent, "tracking": consent, "email_marketing": True},
        "events": events,
    }


def synthetic_personas() -> dict[str, dict]:
    """Small stand-ins for fixtures/personas, one per path through the example rules."""
    en = {"first_name": "Ann", "locale": "en_US", "timezone": "America/New_York"}
    return {
        "new-subscriber": persona("new-subscriber", {**en, "created_at": ago(days=1)}, []),
        "vip-new-york": persona(
            "vip-new-york", {**en, "city": "New York", "segment": "vip"}, [order(12, 320.0), order(60, 410.0)]
        ),
        "cart-abandoner": persona(
            "cart-abandoner",
            en,
            [event("Product Added", ago(hours=5), "m1", product_id="sku-0003", price=59.0, quantity=1)],
        ),
        "browse-abandoner": persona(
            "browse-abandoner",
            en,
            [
                event("Product Viewed", ago(hours=8), product_id="sku-0004"),
                event("Product Viewed", ago(hours=6), product_id="sku-0005"),
            ],
        ),
        "lapsed-customer": persona("lapsed-customer", en, [order(150, 80.0)]),
        "no-consent": persona(
            "no-consent", en, [event("Product Added", ago(hours=5), "m2", product_id="sku-0003")], consent=False
        ),
        "french-shopper": persona(
            "french-shopper",
            {"first_name": "Léa", "locale": "fr_FR", "city": "Lyon", "timezone": "Europe/Paris"},
            [event("Product Viewed", ago(days=3), product_id="sku-0006")],
        ),
        "sparse-data": persona("sparse-data", {}, []),
        "recent-buyer": persona("recent-buyer", en, [order(3, 60.0)]),
    }


def decide(book: RuleBook, document: dict, context: dict | None = None) -> Decision:
    """What a send decides for ``document``: the production render context, then the rules."""
    ctx = build_render_context(validate_profile(document), AT, book, esp_context=context)
    return book.decide(SLOTS, ctx.condition_names(), personalized=ctx.personalized)


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook.load(RULES)


def test_example_rules_have_no_problems():
    assert [str(p) for p in RuleBook.check(RULES)] == []


def test_example_blocks_exist_once_templates_are_there():
    blocks = ROOT / "templates" / "blocks"
    if not any(blocks.rglob("*.mjml")):
        pytest.skip("templates/blocks/ not written yet")
    assert [str(p) for p in RuleBook.check(RULES, ROOT / "templates")] == []


def test_every_synthetic_persona_takes_its_own_path(book):
    seen = set()
    for name, document in synthetic_personas().items():
        decision = decide(book, document, {"test": True})
        assert decision.abort is None, name
        assert (decision.blocks["hero"], decision.blocks["footer_offer"]) == EXPECTED[name], name
        json.dumps(decision.as_dict())
        hero = next(t for t in decision.trace if t.get("slot") == "hero")
        seen.add((hero["why"], json.dumps(hero["rules"], sort_keys=True)))
    assert len(seen) == len(EXPECTED)


def test_cart_persona_gets_the_discount_code(book):
    decision = decide(book, synthetic_personas()["cart-abandoner"])
    assert decision.variables == {"discount_code": "COMEBACK10"}


def test_no_consent_trace_says_so(book):
    decision = decide(book, synthetic_personas()["no-consent"])
    hero = next(t for t in decision.trace if t.get("slot") == "hero")
    assert hero["consent"] is False and hero["why"] == "default"
    assert {r["id"] for r in hero["rules"] if r.get("skipped") == "no consent"} >= {"cart-reminder", "vip"}


def test_sparse_data_falls_back_with_missing_names(book):
    decision = decide(book, synthetic_personas()["sparse-data"])
    hero = next(t for t in decision.trace if t.get("slot") == "hero")
    rules = {r["id"]: r for r in hero["rules"]}
    assert rules["french-locale"]["missing"] == "profile.locale"
    assert rules["new-subscriber-welcome"]["values"]["profile.days_since_first_seen"] is None


def test_abort_without_email(book):
    document = synthetic_personas()["sparse-data"] | {"email": None}
    assert decide(book, document).abort == "the recipient has no email address"
    assert decide(book, document, {"test": True}).abort is None


def test_cart_campaign_aborts_once_the_cart_is_ordered(book):
    document = synthetic_personas()["cart-abandoner"]
    document["events"].append(
        event("Order Completed", AT.isoformat(), order_id="x", products=[{"product_id": "sku-0003"}])
    )
    decision = decide(book, document, {"campaign": "cart_abandonment"})
    assert decision.abort == "the cart is no longer abandoned"


@pytest.mark.skipif(not PERSONAS.is_dir(), reason="fixtures/personas not generated yet")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_personas(book, name):
    path = PERSONAS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not generated")
    decision = decide(book, json.loads(path.read_text()), {"test": True})
    assert decision.blocks["hero"] == EXPECTED[name][0], json.dumps(decision.trace, indent=1)
