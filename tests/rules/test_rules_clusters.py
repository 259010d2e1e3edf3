"""Clustering segments: `tailor segments train` on the example shop, labels at send time."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime
from pathlib import Path

import joblib
import pytest
from click.testing import CliRunner

from tailor.cli.segments import segments
from tailor.context import build_render_context
from tailor.profile import validate_profile
from tailor.rules import RuleBook
from tailor.store import Store

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CLUSTERS = """\
segments:
  rfm:
    model: kmeans
    features: [recency, frequency, monetary]
    k: 4
    labels: [champions, loyal, slipping, hibernating]
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("clusters")
    url = f"sqlite:///{base / 'tailor.db'}"
    store = Store(url)
    store.migrate()
    for name in ("catalog.csv", "profiles.csv", "events.jsonl"):
        store.ingest_file(ROOT / "fixtures" / name)
    store.close()
    rules = base / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "clusters.yaml").write_text(CLUSTERS, encoding="utf-8")
    (rules / "champion_hero.yaml").write_text(
        "slot: champion_test\nrules:\n  - {id: champion-thanks, when: \"'champions' in segments\", block: hero/vip}\n"
        "default: hero/generic\n",
        encoding="utf-8",
    )
    out = base / "artifacts"
    result = CliRunner().invoke(
        segments,
        ["train", "--rules", str(rules), "--database-url", url, "--out", str(out), "--at", "2026-11-23T12:00:00Z"],
    )
    assert result.exit_code == 0, result.output
    return {"url": url, "rules": rules, "out": out, "output": result.output}


@pytest.mark.slow
def test_train_saves_a_model_with_deterministic_names(shop: dict) -> None:
    path = shop["out"] / "segments" / "rfm.joblib"
    model = joblib.load(path)
    assert "rfm:" in shop["output"] and str(path) in shop["output"]
    assert sorted(model["labels"]) == sorted(["champions", "loyal", "slipping", "hibernating"])
    means = [model["rank_means"][label] for label in ("champions", "loyal", "slipping", "hibernating")]
    assert means == sorted(means, reverse=True)  # named by monetary rank, best first
    assert sum(model["counts"].values()) == model["profiles"] > 500
    # training again gives the same clusters under the same names
    again = CliRunner().invoke(
        segments,
        [
            "train",
            "--rules",
            str(shop["rules"]),
            "--database-url",
            shop["url"],
            "--out",
            str(shop["out"]),
            "--at",
            "2026-11-23T12:00:00Z",
        ],
    )
    assert again.exit_code == 0, again.output
    assert joblib.load(path)["counts"] == model["counts"]


@pytest.mark.slow
def test_send_time_label_is_the_trained_cluster_and_conditions_can_use_it(shop: dict) -> None:
    from tailor.features import compute_features_frame

    book = RuleBook.load(shop["rules"])
    book.artifacts = shop["out"]
    model = joblib.load(shop["out"] / "segments" / "rfm.joblib")
    store = Store(shop["url"])
    catalog = {row["id"]: row for row in store.catalog()}
    events = store.events_frame()
    events = events[~events["profile_id"].isin(store.personalization_refused())]  # as training does
    frame = compute_features_frame(events, AT, catalog=catalog).set_index("profile_id")
    trained = dict(zip(frame.index, (model["labels"][i] for i in model["kmeans"].labels_), strict=True))
    seen = set()
    for pid in store.profile_ids():
        document = store.load_profile(id=pid, event_limit=None)
        context = build_render_context(validate_profile(document), AT, book, catalog=catalog)
        labels = [s for s in context.segments if s in model["labels"]]
        if document["consents"].get("personalization") is False:
            assert labels == []
            continue
        assert labels == [trained[pid]] if pid in trained else len(labels) == 1, pid
        seen.add(labels[0])
        decision = book.decide(["champion_test"], context.condition_names(), personalized=context.personalized)
        assert (decision.blocks["champion_test"] == "hero/vip") == (labels[0] == "champions")
    store.close()
    assert "champions" in seen and len(seen) >= 3


@pytest.mark.slow
def test_without_a_trained_model_no_label_is_given(shop: dict, tmp_path: Path) -> None:
    book = RuleBook.load(shop["rules"])
    book.artifacts = tmp_path  # nothing trained here
    profile = {"days_since_purchase": 3, "orders_total": 9, "lifetime_value": 2000.0}
    assert not {"champions", "loyal", "slipping", "hibernating"} & set(book.segments_for({"profile": profile}))
    book.artifacts = shop["out"]
    model = joblib.load(shop["out"] / "segments" / "rfm.joblib")
    columns = ["days_since_purchase", "orders_total", "lifetime_value"]
    for index, label in enumerate(model["labels"]):  # a profile at a cluster's centre gets its label
        centre = {
            c: math.expm1(v * s + m)
            for c, v, s, m in zip(columns, model["centers"][index], model["scale"], model["mean"], strict=True)
        }
        assert label in book.segments_for({"profile": centre})
    assert "hibernating" in book.segments_for(
        {"profile": {"days_since_purchase": None, "orders_total": 0, "lifetime_value": 0.0}}
    )


@pytest.mark.parametrize(
    "body, message",
    [
        ("  x: {model: kmeans, features: [recency, monetary], k: 3, labels: [a, b]}", "2 labels for k=3"),
        ("  x: {model: kmeans, features: [recency, favorite_brand]}", "'favorite_brand' is not a numeric feature"),
        ("  x: {model: kmeans, features: [recency, frequency], rank_by: monetary}", "rank_by 'monetary'"),
        ("  x: {model: kmeans, features: [recency], when: 'true'}", "give exactly one of 'when' or 'model'+'features'"),
        ("  x: {model: dbscan, features: [recency]}", "'dbscan' is not one of 'kmeans'"),
        (
            "  x: {model: kmeans, features: [monetary], k: 2, labels: [vip, low]}\n  vip: {when: 'true'}",
            "duplicate segment id 'vip'",
        ),
    ],
)
def test_check_reports_bad_clustering_segments(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text("segments:\n" + body + "\n", encoding="utf-8")
    problems = [str(p) for p in RuleBook.check(tmp_path)]
    assert any(message in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "s.yaml") + ":") for p in problems)
