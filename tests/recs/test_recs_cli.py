"""``tailor recs train/evaluate``, interaction files and versioned artifacts."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from recs_data import CATALOG, make_interactions

from tailor.cli.recs import recs
from tailor.recommendations import EASE, ItemItem, load_latest, save_models
from tailor.recommendations.evaluation import evaluate_models, ranking_metrics, read_interactions, split_interactions
from tailor.recommendations.persistence import list_versions, prune


def clustered(n_users: int = 60, seed: int = 0) -> pd.DataFrame:
    """Users in 3 taste clusters of 8 items each: a model that learns clusters scores well."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        cluster = u % 3
        for item in rng.choice(8, size=6, replace=False):
            rows.append((f"user{u}", f"item{cluster}-{item}", 1.0, 1_700_000_000 + u * 100 + int(item)))
    return pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])


def test_save_and_load_latest_versions(tmp_path, interactions):
    assert load_latest(tmp_path) is None
    first = save_models({"itemitem": ItemItem().fit(interactions)}, tmp_path)
    second = save_models({"ease": EASE(l2=1.0).fit(interactions)}, tmp_path)
    assert list_versions(tmp_path) == [first, second]
    loaded = load_latest(tmp_path)
    assert list(loaded) == ["ease"]
    assert loaded["ease"].recommend(["shoe-1"], n=1)[0][0] == "sock-1"
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["models"]["ease"]["class"] == "EASE"
    prune(tmp_path, keep=1)
    assert list_versions(tmp_path) == [second]


def test_read_interactions_sniffs_formats(tmp_path):
    (tmp_path / "a.csv").write_text("user_id,item_id,rating\nu1,i1,5\nu1,i2,3\n")
    (tmp_path / "b.tsv").write_text("u1\ti1\nu2\ti2\n")
    (tmp_path / "c.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\ti1\t4\t881250949\n"
    )
    a = read_interactions(tmp_path / "a.csv", min_weight=4)
    assert a[["user_id", "product_id", "weight"]].values.tolist() == [["u1", "i1", 5.0]]
    b = read_interactions(tmp_path / "b.tsv")
    assert b["product_id"].tolist() == ["i1", "i2"] and b["weight"].tolist() == [1.0, 1.0]
    c = read_interactions(tmp_path / "c.inter")
    assert c["timestamp"].iloc[0].year == 1997


def test_split_protocols_are_seeded_and_per_user():
    frame = read_like(clustered())
    a = split_interactions(frame, seed=42)
    b = split_interactions(frame, seed=42)
    assert a.test.equals(b.test)
    assert not a.test.equals(split_interactions(frame, seed=1).test)
    per_user = a.test.groupby("user_id").size()
    assert (per_user == 1).all()  # round(0.2 * 6) = 1
    timed = split_interactions(frame, protocol="time")
    latest = frame.sort_values("timestamp").groupby("user_id").tail(1)
    assert set(zip(timed.test.user_id, timed.test.product_id, strict=True)) == set(
        zip(latest.user_id, latest.product_id, strict=True)
    )


def read_like(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.rename(columns={"user": "user_id", "item": "product_id", "rating": "weight"})
    out["timestamp"] = pd.to_datetime(out["timestamp"], unit="s", utc=True)
    return out


def test_metrics_on_a_perfect_and_a_useless_ranking():
    import numpy as np
    import scipy.sparse as sp

    train = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32))
    perfect = ranking_metrics(lambda rows: test[rows].toarray(), train, test, k=2)
    assert perfect["ndcg@2"] == pytest.approx(1.0) and perfect["recall@2"] == pytest.approx(1.0)
    assert perfect["precision@2"] == pytest.approx(0.75)
    useless = ranking_metrics(lambda rows: -test[rows].toarray(), train, test, k=1)
    assert useless["ndcg@1"] == 0.0


def test_models_learn_clusters_better_than_popularity():
    from tailor.recommendations.training import standard_models

    table = evaluate_models(standard_models(with_content=False), read_like(clustered(90)), k=5)
    assert table.loc["ease", "ndcg@5"] > table.loc["popularity", "ndcg@5"]
    assert table.loc["itemitem", "ndcg@5"] > table.loc["popularity", "ndcg@5"]


def test_cli_evaluate_prints_a_table(tmp_path):
    path = tmp_path / "events.csv"
    clustered(90).to_csv(path, index=False)
    result = CliRunner().invoke(recs, ["evaluate", "--events", str(path), "--k", "5"])
    assert result.exit_code == 0, result.output
    for word in ("precision@5", "recall@5", "ndcg@5", "coverage", "popularity", "itemitem", "ease", "hybrid"):
        assert word in result.output
    as_json = CliRunner().invoke(recs, ["evaluate", "--events", str(path), "--format", "json", "--protocol", "time"])
    assert {row["model"] for row in json.loads(as_json.output)} == {"popularity", "itemitem", "ease", "hybrid"}


def test_cli_train_from_files_writes_a_loadable_version(tmp_path):
    events = tmp_path / "events.jsonl"
    with events.open("w") as fh:
        for row in make_interactions().itertuples():
            fh.write(
                json.dumps(
                    {
                        "type": "track",
                        "userId": row.user_id,
                        "event": row.event,
                        "timestamp": row.timestamp.isoformat(),
                        "properties": {"product_id": row.product_id},
                    }
                )
                + "\n"
            )
    catalog = tmp_path / "catalog.csv"
    pd.DataFrame(CATALOG).to_csv(catalog, index=False)
    out = tmp_path / "artifacts"
    result = CliRunner().invoke(recs, ["train", "--events", str(events), "--catalog", str(catalog), "--out", str(out)])
    assert result.exit_code == 0, result.output
    models = load_latest(out)
    assert set(models) == {"popularity", "itemitem", "ease", "content", "hybrid"}
    assert models["hybrid"].recommend(["shoe-1"], n=1)[0][0] == "sock-1"


def test_cli_evaluate_rejects_empty_input(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("user,item,rating\nu1,i1,1\n")
    result = CliRunner().invoke(recs, ["evaluate", "--events", str(path), "--min-weight", "4"])
    assert result.exit_code == 1 and "no interactions" in result.output
