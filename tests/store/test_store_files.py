"""``Store.ingest_file`` and ``tailor ingest``: JSON/JSONL events, profile and catalog CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_helpers import FIXTURES, identify, table_counts, track

from tailor.cli.ingest import ingest
from tailor.problems import ProblemError
from tailor.store import IngestResult, Store

CATALOG = """id,title,description,category,brand,price,currency,stock,image_url,url,tags,created_at
sku-1,Wool Coat,"A warm coat, with a hood.",Outerwear,Northwind,101.95,USD,3,https://cdn/img/sku-1.jpg,https://shop/p/sku-1,warm|wool,2026-01-01T00:00:00Z
sku-2,Boots,Sturdy boots.,Shoes,Kestrel,89,EUR,0,,,,
"""

PROFILES = (
    "user_id,email,first_name,last_name,city,country,locale,timezone,"
    "consent_personalization,consent_tracking,consent_email_marketing,created_at\n"
    """u-1, Ann@Example.com ,Ann,Lee,Lyon,FR,fr_FR,Europe/Paris,true,false,true,2026-01-01T00:00:00Z
u-2,bob@example.com,Bob,,Austin,US,en_US,America/Chicago,false,true,true,2026-02-01T00:00:00Z
"""
)


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_catalog_csv(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, "catalog.csv", CATALOG)
    assert store.ingest_file(path) == IngestResult(2, 0)
    assert store.ingest_file(path) == IngestResult(0, 2)
    products = store.catalog()
    assert products[0] == {
        "id": "sku-1",
        "title": "Wool Coat",
        "description": "A warm coat, with a hood.",
        "category": "Outerwear",
        "brand": "Northwind",
        "price": 101.95,
        "currency": "USD",
        "stock": 3,
        "image_url": "https://cdn/img/sku-1.jpg",
        "url": "https://shop/p/sku-1",
        "tags": ["warm", "wool"],
        "created_at": "2026-01-01T00:00:00Z",
    }
    assert (
        products[1]["price"] == 89.0
        and products[1]["stock"] == 0
        and products[1]["tags"] == []
        and products[1]["url"] is None
    )
    # a changed row is updated in place
    _write(tmp_path, "catalog.csv", CATALOG.replace(",3,https", ",7,https"))
    assert store.ingest_file(path) == IngestResult(1, 1)
    assert store.catalog()[0]["stock"] == 7


def test_catalog_json(store: Store, tmp_path: Path) -> None:
    path = _write(
        tmp_path, "catalog.json", json.dumps({"products": [{"id": "sku-9", "title": "Hat", "price": 5, "tags": ["a"]}]})
    )
    assert store.ingest_file(path) == IngestResult(1, 0)
    assert store.catalog()[0]["tags"] == ["a"]


def test_profiles_csv(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, "profiles.csv", PROFILES)
    assert store.ingest_file(path) == IngestResult(2, 0)
    doc = store.load_profile(email="ann@example.com")
    assert doc == {
        "id": "u-1",
        "email": "ann@example.com",
        "traits": {
            "first_name": "Ann",
            "last_name": "Lee",
            "city": "Lyon",
            "country": "FR",
            "locale": "fr_FR",
            "timezone": "Europe/Paris",
        },
        "consents": {"personalization": True, "tracking": False, "email_marketing": True},
        "events": [],
    }
    before = table_counts(store)
    assert store.ingest_file(path) == IngestResult(0, 2)
    assert table_counts(store) == before
    # a newer identify wins over the export; the export's older values do not come back
    store.ingest([identify("i", user="u-1", ts="2026-06-01T00:00:00Z", city="Paris")])
    store.ingest_file(path)
    assert store.load_profile(id="u-1")["traits"]["city"] == "Paris"


def test_bad_csv_rows_are_reported_by_line(store: Store, tmp_path: Path) -> None:
    bad = (
        PROFILES
        + "u-3,not-an-email,C,,,,,,true,true,true,\n"
        + ",x@example.com,D,,,,,,true,true,true,\n"
        + "u-5,e@example.com,E,,,,,,maybe,true,true,\n"
    )
    with pytest.raises(ProblemError) as info:
        store.ingest_file(_write(tmp_path, "profiles.csv", bad))
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path}/profiles.csv:4:1: email: must be an email address",
        f"{tmp_path}/profiles.csv:5:1: user_id: required",
        f"{tmp_path}/profiles.csv:6:1: consent_personalization: must be true or false, got 'maybe'",
    ]
    assert table_counts(store)["profiles"] == 0
    with pytest.raises(ProblemError) as info:
        store.ingest_file(_write(tmp_path, "catalog.csv", CATALOG + 'sku-3,"Multi\nline",x,Bags,B,cheap,USD,1,,,,\n'))
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path}/catalog.csv:4:1: price: must be a number, got 'cheap'"
    ]
    with pytest.raises(ProblemError, match=r"unknown CSV header"):
        store.ingest_file(_write(tmp_path, "other.csv", "a,b\n1,2\n"))


def test_jsonl_with_a_bad_line_names_the_line_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    lines = [json.dumps(track(f"m{i}")) for i in range(5)]
    lines[2] = json.dumps({"type": "track", "userId": "u-1", "messageId": "m2"})
    lines.insert(4, "")  # blank lines are fine
    lines.append("{not json")
    path = _write(tmp_path, "events.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(ProblemError) as info:
        store.ingest_file(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3:1: /event: required for track calls: a non-empty string",
        f"{path}:7:2: invalid JSON: Expecting property name enclosed in double quotes",
    ]
    assert all(count == 0 for count in table_counts(store).values())


def test_json_single_list_and_batch(store: Store, tmp_path: Path) -> None:
    single = _write(tmp_path, "one.json", json.dumps(track("a")))
    listed = _write(tmp_path, "list.json", json.dumps([track("a"), track("b")]))
    batch = _write(tmp_path, "batch.json", json.dumps({"batch": [track("b"), track("c")], "writeKey": "x"}))
    assert store.ingest_file(single) == IngestResult(1, 0)
    assert store.ingest_file(listed) == IngestResult(1, 1)
    assert store.ingest_file(batch) == IngestResult(1, 1)
    bad = _write(tmp_path, "bad.json", json.dumps({"batch": [track("d"), {"type": "track", "userId": "u"}]}))
    with pytest.raises(ProblemError) as info:
        store.ingest_file(bad)
    assert str(info.value.problems[0]) == f"{bad}:1:1: /batch/1/event: required for track calls: a non-empty string"
    broken = _write(tmp_path, "broken.json", '{\n  "batch": [\n    {"type": "track",]\n}')
    with pytest.raises(ProblemError, match=r"broken.json:3:22: invalid JSON"):
        store.ingest_file(broken)


def test_the_example_shop_loads_completely_and_idempotently(store: Store) -> None:
    # How fast it loads is measured in benchmarks/, not asserted here.
    results = [store.ingest_file(FIXTURES / name) for name in ("catalog.csv", "profiles.csv", "events.jsonl")]
    lines = sum(1 for line in (FIXTURES / "events.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    assert results[2] == IngestResult(lines, 0)
    counts = table_counts(store)
    assert [
        store.ingest_file(FIXTURES / name).accepted for name in ("catalog.csv", "profiles.csv", "events.jsonl")
    ] == [0, 0, 0]
    assert table_counts(store) == counts
    frame = store.interactions()
    assert list(frame.columns) == ["user_id", "product_id", "event", "timestamp"]
    assert set(frame["event"]) == {"Product Viewed", "Product Added", "Checkout Started", "Order Completed"}
    assert set(frame["user_id"]) <= set(store.profile_ids())
    assert str(frame["timestamp"].dt.tz) == "UTC"
    events = store.events_frame(since=frame["timestamp"].max().to_pydatetime())
    assert list(events.columns)[:4] == ["profile_id", "type", "event", "timestamp"] and 1 <= len(events) < 50
    # anonymous visitors who signed up ended up in their user profile
    signups = [json.loads(line) for line in (FIXTURES / "events.jsonl").open() if '"identify"' in line]
    for message in signups[:20]:
        assert store.load_profile(anonymous_id=message["anonymousId"])["id"] == message["userId"]


def test_cli_ingest(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    events = _write(tmp_path, "events.jsonl", "\n".join(json.dumps(track(f"m{i}")) for i in range(3)) + "\n")
    catalog = _write(tmp_path, "catalog.csv", CATALOG)
    result = runner.invoke(ingest, ["--database-url", database_url, str(catalog), str(events)])
    assert result.exit_code == 0, result.output
    assert f"{events}: 3 stored, 0 already present" in result.output
    assert f"{catalog}: 2 stored, 0 already present" in result.output
    result = runner.invoke(ingest, ["--database-url", database_url, str(events)])
    assert "0 stored, 3 already present" in result.output
    bad = _write(tmp_path, "bad.jsonl", json.dumps(track("x")) + "\n" + json.dumps({"type": "track"}) + "\n")
    result = runner.invoke(ingest, ["--database-url", database_url, str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2:1: /type" not in result.output
    assert f"{bad}:2:1: /userId: userId or anonymousId is required" in result.output
    missing = runner.invoke(ingest, ["--database-url", database_url, str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "no such file" in missing.output
