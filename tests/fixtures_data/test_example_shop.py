"""The example shop in ``fixtures/``: deterministic, committed as generated, and realistic enough to learn from.

The checks are plain functions over a fixtures folder (``check_*``), run on the committed
files; ``test_checks_catch_broken_data`` corrupts a copy and proves each check can fail.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SCRIPT = ROOT / "scripts" / "generate_fixtures.py"
REF = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)

CATALOG_HEADER = [
    "id",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "stock",
    "image_url",
    "url",
    "tags",
    "created_at",
]
PROFILE_HEADER = [
    "user_id",
    "email",
    "first_name",
    "last_name",
    "city",
    "country",
    "locale",
    "timezone",
    "consent_personalization",
    "consent_tracking",
    "consent_email_marketing",
    "created_at",
]
PERSONAS = [
    "new-subscriber",
    "vip-new-york",
    "cart-abandoner",
    "browse-abandoner",
    "lapsed-customer",
    "no-consent",
    "french-shopper",
    "sparse-data",
    "recent-buyer",
]
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
LOCALE_COUNTRY = {"en_US": "US", "en_GB": "GB", "fr_FR": "FR", "de_DE": "DE", "es_ES": "ES"}
COUNTRY_TZ_PREFIX = {
    "US": "America/",
    "GB": "Europe/London",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
}
ECOMMERCE = {"Product Viewed", "Product Added", "Checkout Started", "Order Completed"}


# --------------------------------------------------------------------------- loading


def ts(value: str) -> datetime:
    assert isinstance(value, str) and TS.match(value), f"not an ISO 8601 UTC timestamp with Z: {value!r}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def read_csv(path: Path, header: list[str]) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == header, f"{path.name}: header {reader.fieldnames} != {header}"
        return list(reader)


def load(folder: Path) -> dict:
    events = []
    with (folder / "events.jsonl").open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            assert line.strip(), f"events.jsonl:{n}: empty line"
            events.append(json.loads(line))
    personas = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((folder / "personas").glob("*.json"))}
    return {
        "catalog": read_csv(folder / "catalog.csv", CATALOG_HEADER),
        "profiles": read_csv(folder / "profiles.csv", PROFILE_HEADER),
        "events": events,
        "personas": personas,
    }


@pytest.fixture(scope="module")
def shop() -> dict:
    assert FIXTURES.is_dir(), "fixtures/ is missing: run `python scripts/generate_fixtures.py`"
    return load(FIXTURES)


# --------------------------------------------------------------------------- checks


def check_catalog(catalog: list[dict]) -> None:
    assert len(catalog) >= 200, f"only {len(catalog)} products"
    ids = [p["id"] for p in catalog]
    assert len(set(ids)) == len(ids), "duplicate product ids"
    assert len({p["title"] for p in catalog}) == len(catalog), "duplicate product titles"
    for p in catalog:
        assert re.fullmatch(r"sku-\d{4}", p["id"]), p["id"]
        assert re.fullmatch(r"\d+\.\d{2}", p["price"]) and float(p["price"]) > 0, (p["id"], p["price"])
        assert p["currency"] in {"USD", "EUR"}, p["currency"]
        assert re.fullmatch(r"\d+", p["stock"]), (p["id"], p["stock"])
        assert p["image_url"] == f"https://cdn.example-shop.com/img/{p['id']}.jpg"
        assert p["url"] == f"https://example-shop.com/p/{p['id']}"
        assert p["tags"] and all(p["tags"].split("|")), (p["id"], p["tags"])
        assert len(p["description"].split()) >= 10 and p["description"].endswith("."), p["description"]
        assert ts(p["created_at"]) < REF
    categories = Counter(p["category"] for p in catalog)
    assert 6 <= len(categories) <= 10 and min(categories.values()) >= 15, categories
    assert 10 <= len({p["brand"] for p in catalog}) <= 20
    currencies = Counter(p["currency"] for p in catalog)
    assert currencies["USD"] > 0.7 * len(catalog), currencies
    out_of_stock = sum(p["stock"] == "0" for p in catalog) / len(catalog)
    assert 0.04 <= out_of_stock <= 0.12, out_of_stock


def check_profiles(profiles: list[dict]) -> None:
    assert len(profiles) >= 500, f"only {len(profiles)} profiles"
    ids = [p["user_id"] for p in profiles]
    assert len(set(ids)) == len(ids), "duplicate user ids"
    emails = [p["email"] for p in profiles]
    assert len(set(emails)) == len(emails), "duplicate emails"
    for p in profiles:
        assert not p["user_id"].startswith("persona-")
        assert re.fullmatch(r"[a-z0-9.]+@example\.(com|org)", p["email"]), p["email"]
        assert p["first_name"] and p["last_name"] and p["city"], p
        assert LOCALE_COUNTRY[p["locale"]] == p["country"], (p["locale"], p["country"])
        assert p["timezone"].startswith(COUNTRY_TZ_PREFIX[p["country"]]), (p["country"], p["timezone"])
        ZoneInfo(p["timezone"])  # a real IANA name
        for key in ("consent_personalization", "consent_tracking", "consent_email_marketing"):
            assert p[key] in {"true", "false"}, (key, p[key])
        assert ts(p["created_at"]) < REF
    assert {"New York", "London", "Paris", "Berlin", "Madrid"} <= {p["city"] for p in profiles}
    ny = {p["timezone"] for p in profiles if p["city"] == "New York"}
    assert ny == {"America/New_York"}, ny
    assert {p["timezone"] for p in profiles if p["city"] == "Lyon"} <= {"Europe/Paris"}
    assert set(LOCALE_COUNTRY) == {p["locale"] for p in profiles}
    n = len(profiles)
    for key, expected in (
        ("consent_personalization", 0.90),
        ("consent_tracking", 0.95),
        ("consent_email_marketing", 0.97),
    ):
        share = sum(p[key] == "true" for p in profiles) / n
        assert abs(share - expected) < 0.04, (key, share)


def check_events(events: list[dict], catalog: list[dict], profiles: list[dict]) -> None:
    assert len(events) >= 20_000, f"only {len(events)} events"
    products = {p["id"]: p for p in catalog}
    users = {p["user_id"] for p in profiles}
    message_ids = [e.get("messageId") for e in events]
    assert all(message_ids), "an event has no messageId"
    assert len(set(message_ids)) == len(message_ids), "duplicate messageIds"
    moments = [ts(e["timestamp"]) for e in events]
    assert moments == sorted(moments), "events are not sorted by timestamp"
    assert moments[-1] < REF, "an event is in the future of the reference time"
    assert moments[0] >= REF - timedelta(days=76)
    assert moments[-1] - moments[0] >= timedelta(days=60), "events span less than 60 days"
    order_ids = []
    for e in events:
        assert e["type"] in {"track", "identify", "page"}, e["type"]
        assert e.get("userId") or e.get("anonymousId"), e["messageId"]
        if "userId" in e:
            assert e["userId"] in users, f"unknown userId {e['userId']}"
        if e["type"] == "identify":
            assert e.get("userId") and e.get("anonymousId"), "identify must link anonymousId to userId"
            continue
        if e["type"] != "track":
            continue
        assert e["event"] in ECOMMERCE, e["event"]
        props = e["properties"]
        if e["event"] in {"Product Viewed", "Product Added"}:
            p = products.get(props["product_id"])
            assert p is not None, f"unknown product {props['product_id']}"
            assert (props["name"], props["category"], props["brand"], props["currency"]) == (
                p["title"],
                p["category"],
                p["brand"],
                p["currency"],
            ), props
            assert abs(props["price"] - float(p["price"])) < 0.005
        if e["event"] == "Product Added":
            assert props["quantity"] >= 1
            assert products[props["product_id"]]["stock"] != "0", "added an out-of-stock product"
        if e["event"] in {"Checkout Started", "Order Completed"}:
            assert e.get("userId"), "checkouts and orders are by known customers"
            assert props["products"], "empty products[]"
            for item in props["products"]:
                assert set(item) >= {"product_id", "sku", "name", "category", "brand", "price", "quantity"}, item
                assert item["product_id"] in products, f"unknown product {item['product_id']}"
                assert products[item["product_id"]]["currency"] == props["currency"]
        if e["event"] == "Order Completed":
            assert {"order_id", "total", "revenue", "currency", "products"} <= set(props), props
            subtotal = round(sum(i["price"] * i["quantity"] for i in props["products"]), 2)
            assert abs(props["revenue"] - subtotal) < 0.01, (props["revenue"], subtotal)
            assert props["total"] >= props["revenue"]
            order_ids.append(props["order_id"])
    assert len(set(order_ids)) == len(order_ids), "duplicate order ids"
    funnel = Counter(e.get("event") for e in events)
    assert (
        funnel["Product Viewed"]
        > funnel["Product Added"]
        > funnel["Checkout Started"]
        > funnel["Order Completed"]
        > 300
    ), funnel


def check_behaviour(events: list[dict], catalog: list[dict]) -> None:
    """Structure a recommender and the triggers can find."""
    # popularity skew: the top 5% of products get far more than 5% of the views
    views = Counter(e["properties"]["product_id"] for e in events if e.get("event") == "Product Viewed")
    top = sum(c for _, c in views.most_common(max(1, len(catalog) // 20)))
    assert top / sum(views.values()) > 0.2, top / sum(views.values())
    # category affinity: active users concentrate their views on one or two categories
    per_user: dict[str, Counter] = defaultdict(Counter)
    for e in events:
        if e.get("event") == "Product Viewed" and e.get("userId"):
            per_user[e["userId"]][e["properties"]["category"]] += 1
    shares = [c.most_common(1)[0][1] / sum(c.values()) for c in per_user.values() if sum(c.values()) >= 10]
    assert len(shares) >= 100 and sum(shares) / len(shares) > 0.4, (len(shares), sum(shares) / max(1, len(shares)))
    # anonymous browsing, later linked by identify
    linked = {e["anonymousId"]: e["userId"] for e in events if e["type"] == "identify"}
    anon_only = [e for e in events if not e.get("userId")]
    assert len(linked) >= 20 and len(anon_only) >= 500
    anon_before_identify = {e["anonymousId"] for e in anon_only if e["anonymousId"] in linked}
    assert len(anon_before_identify) >= 20, "no anonymous browsing followed by an identify"
    # cart abandonment: adds in the last 7 days (older than 1h) with no order afterwards
    recent = REF - timedelta(days=7)
    last_add: dict[str, datetime] = {}
    last_order: dict[str, datetime] = {}
    last_activity: dict[str, tuple[datetime, str]] = {}
    for e in events:
        user = e.get("userId")
        if not user or e["type"] != "track":
            continue
        moment = ts(e["timestamp"])
        if e["event"] in {"Product Added", "Checkout Started"}:
            last_add[user] = moment
        if e["event"] == "Order Completed":
            last_order[user] = moment
        last_activity[user] = (moment, e["event"])
    abandoners = [
        u
        for u, t in last_add.items()
        if recent <= t <= REF - timedelta(hours=1) and last_order.get(u, datetime.min.replace(tzinfo=UTC)) < t
    ]
    assert len(abandoners) >= 20, f"only {len(abandoners)} recent cart abandoners"
    # recent browse-only visitors: viewed in the last 3 days, no add or order in the last 7
    browsers = [
        u
        for u, (t, ev) in last_activity.items()
        if t >= REF - timedelta(days=3)
        and ev == "Product Viewed"
        and last_add.get(u, recent) <= recent
        and last_order.get(u, recent) <= recent
    ]
    assert len(browsers) >= 20, f"only {len(browsers)} recent browse-only users"


def check_personas(personas: dict[str, dict], catalog: list[dict], profiles: list[dict]) -> None:
    assert set(PERSONAS) <= set(personas), f"missing personas: {set(PERSONAS) - set(personas)}"
    products = {p["id"]: p for p in catalog}
    user_ids = {p["user_id"] for p in profiles}
    ids = set()
    for name, doc in personas.items():
        assert set(doc) == {"id", "email", "traits", "consents", "events"}, (name, set(doc))
        assert doc["id"] == f"persona-{name}" and doc["id"] not in user_ids, doc["id"]
        ids.add(doc["id"])
        assert re.fullmatch(r"[a-z0-9.\-]+@example\.(com|org)", doc["email"]), doc["email"]
        assert isinstance(doc["traits"], dict)
        assert set(doc["consents"]) == {"personalization", "tracking", "email_marketing"}
        assert all(isinstance(v, bool) for v in doc["consents"].values())
        if "timezone" in doc["traits"]:
            ZoneInfo(doc["traits"]["timezone"])
        message_ids = [e["messageId"] for e in doc["events"]]
        assert len(set(message_ids)) == len(message_ids), name
        for e in doc["events"]:
            assert e["type"] == "track" and e["event"] in ECOMMERCE, (name, e)
            assert ts(e["timestamp"]) < REF, (name, e["timestamp"])
            props = e["properties"]
            for item in props.get("products", [props] if "product_id" in props else []):
                assert item["product_id"] in products, f"{name}: unknown product {item['product_id']}"
                assert item["name"] == products[item["product_id"]]["title"]
    assert len(ids) == len(personas)


def _timeline(doc: dict, event: str) -> list[tuple[datetime, dict]]:
    return [(ts(e["timestamp"]), e["properties"]) for e in doc["events"] if e["event"] == event]


def check_persona_paths(personas: dict[str, dict], catalog: list[dict]) -> None:
    products = {p["id"]: p for p in catalog}

    new = personas["new-subscriber"]
    assert new["events"] == [] and REF - ts(new["traits"]["created_at"]) <= timedelta(days=1)

    vip = personas["vip-new-york"]
    orders = _timeline(vip, "Order Completed")
    assert vip["traits"]["city"] == "New York" and vip["traits"]["segment"] == "vip"
    assert len(orders) >= 5 and sum(p["revenue"] for _, p in orders) > 1500
    assert (REF - max(t for t, _ in orders)).days == 10

    cart = personas["cart-abandoner"]
    adds = _timeline(cart, "Product Added")
    checkouts = _timeline(cart, "Checkout Started")
    last_add = max(t for t, _ in adds + checkouts)
    assert timedelta(hours=2, minutes=30) <= REF - last_add <= timedelta(hours=4)
    assert all(t < last_add for t, _ in _timeline(cart, "Order Completed")), "cart-abandoner ordered after adding"
    cart_items = [i["product_id"] for i in checkouts[-1][1]["products"]]
    assert cart_items and all(products[i]["stock"] != "0" for i in cart_items)

    browse = personas["browse-abandoner"]
    views = _timeline(browse, "Product Viewed")
    assert len(views) == 3 and len({p["category"] for _, p in views}) == 1
    assert all(timedelta(hours=4) <= REF - t <= timedelta(hours=6) for t, _ in views)
    assert not _timeline(browse, "Product Added") and not _timeline(browse, "Order Completed")

    lapsed = _timeline(personas["lapsed-customer"], "Order Completed")
    assert lapsed and (REF - max(t for t, _ in lapsed)).days == 120

    no_consent = personas["no-consent"]
    assert no_consent["consents"]["personalization"] is False and no_consent["events"]

    french = personas["french-shopper"]["traits"]
    assert (french["locale"], french["timezone"]) == ("fr_FR", "Europe/Paris")

    sparse = personas["sparse-data"]
    assert "first_name" not in sparse["traits"] and "city" not in sparse["traits"] and not sparse["events"]

    buyer = personas["recent-buyer"]
    orders = _timeline(buyer, "Order Completed")
    adds = _timeline(buyer, "Product Added")
    assert orders and adds and max(t for t, _ in orders) > max(t for t, _ in adds)
    assert timedelta(hours=12) <= REF - max(t for t, _ in orders) <= timedelta(hours=36)
    ordered = {i["product_id"] for _, p in orders for i in p["products"]}
    assert {p["product_id"] for _, p in adds} <= ordered, "recent-buyer left something in the cart"


def check_all(folder: Path) -> None:
    data = load(folder)
    check_catalog(data["catalog"])
    check_profiles(data["profiles"])
    check_events(data["events"], data["catalog"], data["profiles"])
    check_behaviour(data["events"], data["catalog"])
    check_personas(data["personas"], data["catalog"], data["profiles"])
    check_persona_paths(data["personas"], data["catalog"])


# --------------------------------------------------------------------------- tests


def generate(out: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True, timeout=120)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shop") / "fixtures"
    generate(out)
    return out


@pytest.mark.slow
def test_generator_is_deterministic(generated: Path, tmp_path: Path):
    again = tmp_path / "again"
    generate(again)
    first, second = files(generated), files(again)
    assert set(first) == set(second)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs"


@pytest.mark.slow
def test_committed_fixtures_match_the_generator(generated: Path):
    produced, committed = files(generated), files(FIXTURES)
    assert set(produced) <= set(committed), f"not committed: {set(produced) - set(committed)}"
    stale = [name for name in produced if produced[name] != committed[name]]
    assert not stale, f"fixtures/ drifted from scripts/generate_fixtures.py: {stale} (run `make fixtures`)"
    # the coverage personas are written by `tailor personas generate` from the rules (and kept
    # equal to it by tests/preview/test_coverage_personas.py), not by the data generator
    unexplained = {name for name in set(committed) - set(produced) if not name.startswith("personas/coverage/")}
    assert unexplained <= {".gitkeep"}, f"files no generator writes: {unexplained}"


def test_events_file_is_small_enough():
    assert (FIXTURES / "events.jsonl").stat().st_size < 15 * 1024 * 1024


def test_catalog(shop):
    check_catalog(shop["catalog"])


def test_profiles(shop):
    check_profiles(shop["profiles"])


def test_events(shop):
    check_events(shop["events"], shop["catalog"], shop["profiles"])


def test_behaviour_is_learnable_and_triggers_findable(shop):
    check_behaviour(shop["events"], shop["catalog"])


def test_personas_shape(shop):
    check_personas(shop["personas"], shop["catalog"], shop["profiles"])


def test_personas_exercise_their_paths(shop):
    check_persona_paths(shop["personas"], shop["catalog"])


def test_personas_readme_describes_each():
    readme = (FIXTURES / "personas" / "README.md").read_text(encoding="utf-8")
    for name in PERSONAS:
        assert f"`{name}`" in readme, name


def _rewrite_jsonl(path: Path, change) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    change(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _corrupt_duplicate_message_id(folder: Path) -> None:
    def change(rows):
        rows[10]["messageId"] = rows[9]["messageId"]

    _rewrite_jsonl(folder / "events.jsonl", change)


def _corrupt_unknown_product(folder: Path) -> None:
    def change(rows):
        viewed = next(r for r in rows if r.get("event") == "Product Viewed")
        viewed["properties"]["product_id"] = "sku-9999"

    _rewrite_jsonl(folder / "events.jsonl", change)


def _corrupt_unsorted(folder: Path) -> None:
    def change(rows):
        rows[0], rows[-1] = rows[-1], rows[0]

    _rewrite_jsonl(folder / "events.jsonl", change)


def _corrupt_unknown_user(folder: Path) -> None:
    def change(rows):
        next(r for r in rows if r.get("userId"))["userId"] = "u-99999"

    _rewrite_jsonl(folder / "events.jsonl", change)


def _corrupt_cart_abandoner_orders(folder: Path) -> None:
    path = folder / "personas" / "cart-abandoner.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    order = next(e for e in doc["events"] if e["event"] == "Order Completed")
    late = dict(order, messageId="late-order", timestamp="2026-11-23T11:00:00Z")
    doc["events"].append(late)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _corrupt_persona_product(folder: Path) -> None:
    path = folder / "personas" / "browse-abandoner.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["events"][0]["properties"]["product_id"] = "sku-0000"
    path.write_text(json.dumps(doc), encoding="utf-8")


def _corrupt_real_email_domain(folder: Path) -> None:
    path = folder / "profiles.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("@example.com", "@gmail.com", 1), encoding="utf-8")


def _corrupt_drop_products(folder: Path) -> None:
    path = folder / "catalog.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:150]), encoding="utf-8")


@pytest.mark.parametrize(
    "corrupt",
    [
        _corrupt_duplicate_message_id,
        _corrupt_unknown_product,
        _corrupt_unsorted,
        _corrupt_unknown_user,
        _corrupt_cart_abandoner_orders,
        _corrupt_persona_product,
        _corrupt_real_email_domain,
        _corrupt_drop_products,
    ],
    ids=lambda f: f.__name__.removeprefix("_corrupt_"),
)
@pytest.mark.slow
def test_checks_catch_broken_data(generated: Path, tmp_path: Path, corrupt):
    copy = tmp_path / "fixtures"
    shutil.copytree(generated, copy)
    check_all(copy)  # the pristine copy passes ...
    corrupt(copy)
    with pytest.raises((AssertionError, KeyError, StopIteration)):
        check_all(copy)  # ... and the corrupted one does not
