"""Champion and challenger: the offline gate, ramp, promote, rollback, erasure, and a service that follows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tailor.cli.recs import recs
from tailor.recommendations import RecommendationService
from tailor.recommendations.evaluation import compare_on_holdout
from tailor.recommendations.persistence import list_versions, save_models
from tailor.recommendations.popularity import Popularity
from tailor.recommendations.rollout import (
    RolloutError,
    adopt,
    current,
    offline_gate,
    promote,
    ramp,
    read_rollout,
    rollback,
    serving,
)
from tailor.recommendations.training import fit_models, standard_models


def clustered(n_users: int = 90, seed: int = 0) -> pd.DataFrame:
    """Users in 3 taste clusters of 8 items each: a model that learns clusters beats popularity."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        cluster = u % 3
        for item in rng.choice(8, size=6, replace=False):
            stamp = pd.Timestamp(1_700_000_000 + u * 100 + int(item), unit="s", tz="UTC")
            rows.append((f"user{u}", f"item{cluster}-{item}", "Product Viewed", 1.0, stamp))
    return pd.DataFrame(rows, columns=["user_id", "product_id", "event", "weight", "timestamp"])


def events_file(path: Path, frame: pd.DataFrame) -> Path:
    with path.open("w") as fh:
        for row in frame.itertuples():
            message = {
                "type": "track",
                "userId": row.user_id,
                "event": row.event,
                "timestamp": row.timestamp.isoformat(),
                "properties": {"product_id": row.product_id},
            }
            fh.write(json.dumps(message) + "\n")
    return path


def train(tmp_path: Path, *args: str) -> str:
    events = events_file(tmp_path / "events.jsonl", clustered())
    result = CliRunner().invoke(recs, ["train", "--events", str(events), "--out", str(tmp_path / "art"), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_worse_candidate_fails_the_gate_on_the_same_held_out_data() -> None:
    interactions = clustered()
    champion = fit_models(interactions, None)
    worse = compare_on_holdout({"hybrid": Popularity()}, champion, interactions)
    passed, detail = offline_gate(worse)
    assert not passed
    assert worse["challenger"]["ndcg@10"] < worse["champion"]["ndcg@10"]
    assert detail.startswith("hybrid ndcg@10 ") and "worse than the champion's" in detail
    # the champion saw the held-out data: its configuration is refitted, so the same models tie and pass
    same = compare_on_holdout(standard_models(with_content=False), champion, interactions)
    assert same["champion_refit"] and offline_gate(same)[0]
    assert same["challenger"]["ndcg@10"] == same["champion"]["ndcg@10"]
    # a champion trained before every held-out interaction is scored as it is (and beats popularity)
    early = interactions[interactions["timestamp"] < interactions["timestamp"].quantile(0.5)]
    untouched = compare_on_holdout(
        {"hybrid": Popularity()}, fit_models(early, None), interactions, champion_trained_until="2000-01-01T00:00:00Z"
    )
    assert not untouched["champion_refit"]
    gap = worse["champion"]["ndcg@10"] - worse["challenger"]["ndcg@10"]
    assert offline_gate(worse, tolerance=gap + 1e-9)[0]


def test_train_promote_ramp_rollback_from_the_cli(tmp_path: Path) -> None:
    art = tmp_path / "art"
    first = train(tmp_path)
    assert "(no champion to compare with)" in first and "is the champion" in first
    v1 = current(art).champion
    second = train(tmp_path, "--ramp", "10%")
    v2 = list_versions(art)[-1].name
    assert "not worse than the champion's" in second
    assert f"{v2} is the challenger for 10% of recipients" in second
    state = current(art)
    assert (state.champion, state.challenger, state.share) == (v1, v2, 0.1)
    status = CliRunner().invoke(recs, ["status", "--out", str(art)])
    assert f"challenger: {v2} (10% of recipients)" in status.output
    assert CliRunner().invoke(recs, ["ramp", "50%", "--out", str(art)]).exit_code == 0
    assert current(art).share == 0.5
    assert CliRunner().invoke(recs, ["promote", "--out", str(art)]).exit_code == 0
    assert (current(art).champion, current(art).challenger) == (v2, None)
    back = CliRunner().invoke(recs, ["rollback", "--out", str(art)])
    assert back.exit_code == 0 and f"champion: {v1}" in back.output
    again = CliRunner().invoke(recs, ["rollback", "--out", str(art)])
    assert again.exit_code == 1 and "nothing to roll back to" in again.output
    actions = [entry["action"] for entry in read_rollout(art).history]
    assert actions == ["promote", "ramp", "ramp", "promote", "rollback"]


def test_a_rejected_version_is_kept_but_never_served(tmp_path: Path) -> None:
    art = tmp_path / "art"
    interactions = clustered()
    v1 = save_models(fit_models(interactions, None), art).name
    adopt(art, v1, passed=True, detail="first")
    v2 = save_models({"hybrid": Popularity().fit(interactions)}, art).name
    adopt(art, v2, passed=False, detail="hybrid ndcg@10 0.1 worse than the champion's 0.5")
    assert current(art).champion == v1
    assert serving(art).champion_version == v1
    assert read_rollout(art).history[-1]["action"] == "reject"
    with pytest.raises(RolloutError, match="no challenger"):
        ramp(art, 0.5)
    promote(art, v2, reason="the operator overrides the gate")  # by hand, still possible
    assert current(art).champion == v2


def test_after_an_erasure_the_retrain_serves_and_older_versions_are_gone_for_good(tmp_path: Path) -> None:
    from tailor.privacy.retrain import flag_retrain

    art = tmp_path / "art"
    train(tmp_path)
    old = current(art).champion
    flag_retrain(art, "2026-11-30T09:00:00+00:00")
    output = train(tmp_path)
    new = current(art).champion
    assert new != old and "cleared the retrain flag" in output
    assert old in read_rollout(art).erased
    assert old not in {p.name for p in list_versions(art)}, "a version holding erased data is deleted"
    with pytest.raises(RolloutError):
        rollback(art)


def test_the_service_serves_the_challenger_to_its_share_and_follows_rollout_json(tmp_path: Path) -> None:
    from tailor.config import Settings

    art = tmp_path / "art"
    interactions = clustered()
    v1 = save_models(fit_models(interactions, None), art).name
    adopt(art, v1, passed=True, detail="first")
    v2 = save_models(fit_models(interactions, None), art).name
    adopt(art, v2, passed=True, detail="same", ramp_share=0.3)
    catalog = [{"id": item, "title": item} for item in sorted(set(interactions["product_id"]))]
    settings = Settings(artifacts=art, rules=tmp_path / "no-rules")
    service = RecommendationService.from_store(None, catalog, settings=settings)
    service.watch_artifacts(art, every_seconds=0)

    viewed = {"type": "track", "event": "Product Viewed", "properties": {"product_id": "item0-1"}}

    def version_of(user: str) -> str | None:
        return service.recommend({"id": user, "events": [viewed]}, n=3).version

    users = [f"person-{i}" for i in range(400)]
    versions = [version_of(u) for u in users]
    share = versions.count(v2) / len(users)
    assert set(versions) == {v1, v2} and 0.22 < share < 0.38
    assert [version_of(u) for u in users[:40]] == versions[:40], "a recipient keeps their model during a ramp"
    promote(art)
    assert {version_of(u) for u in users[:40]} == {v2}, "the promotion took effect without a restart"
    rollback(art)
    assert {version_of(u) for u in users[:40]} == {v1}


def test_a_scheduled_evaluation_scores_the_serving_versions_on_what_came_after_and_keeps_a_history(
    tmp_path: Path,
) -> None:
    from tailor.recommendations.evaluation import evaluate_since
    from tailor.recommendations.rollout import evaluations

    art = tmp_path / "art"
    frame = clustered()
    # each user's interactions spread over time (clustered() orders them user by user)
    nth = frame.groupby("user_id").cumcount()
    frame["timestamp"] = pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta(nth * 86400 + frame.index, unit="s")
    early = frame[frame["timestamp"] < frame["timestamp"].quantile(0.6)]
    events = events_file(tmp_path / "later.jsonl", frame)
    first = CliRunner().invoke(recs, ["train", "--events", str(events), "--out", str(art)])
    assert first.exit_code == 0, first.output  # trained on everything: nothing happened after it
    empty = CliRunner().invoke(recs, ["evaluate", "--events", str(events), "--serving", "--out", str(art)])
    assert empty.exit_code == 0 and "over 0 users" in empty.output
    # a version trained on the early part, scored on the rest: only users seen on both sides count
    v = save_models(fit_models(early, None), art)
    manifest_path = v / "manifest.json"
    info = json.loads(manifest_path.read_text())
    cutoff = early["timestamp"].max()
    manifest_path.write_text(json.dumps({**info, "trained_until": cutoff.isoformat()}))
    promote(art, v.name)
    done = CliRunner().invoke(recs, ["evaluate", "--events", str(events), "--serving", "--out", str(art)])
    assert done.exit_code == 0, done.output
    history = evaluations(art)
    assert [e["version"] for e in history][-1] == v.name and len(history) == 2
    direct = evaluate_since(fit_models(early, None)["hybrid"], frame, cutoff)
    assert history[-1]["ndcg@10"] == pytest.approx(direct["ndcg@10"]) and history[-1]["users"] == direct["users"] > 0
    status = CliRunner().invoke(recs, ["status", "--out", str(art)])
    assert "since training, as of" in status.output


def test_train_if_older_than_skips_a_young_champion_and_retrains_an_old_one(tmp_path: Path) -> None:
    art = tmp_path / "art"
    train(tmp_path)
    champion = current(art).champion
    young = train(tmp_path, "--if-older-than", "7d")
    assert "younger than 7d: not retrained" in young
    assert [p.name for p in list_versions(art)] == [champion]
    manifest_path = art / champion / "manifest.json"
    info = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**info, "created_at": "2026-01-01T00:00:00+00:00"}))
    old = train(tmp_path, "--if-older-than", "7d")
    assert "not retrained" not in old and len(list_versions(art)) == 2
