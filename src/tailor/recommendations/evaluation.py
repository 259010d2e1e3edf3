"""Offline evaluation: reading interaction files, splitting, ranking metrics.

Protocol (documented in docs/recommendations.md):

* users with at least ``min_positives`` interactions are evaluated; every other
  user's interactions stay in training (they still teach co-occurrence);
* ``random``: per user, a seeded shuffle puts ``round(test_fraction * n)`` (at
  least 1) items in test; ``time``: the user's latest items go to test;
* full ranking over every item in the data set, training items masked;
* precision@k = hits/k, recall@k = hits/|test|, NDCG@k with binary gains and the
  ideal DCG over min(k, |test|) items, coverage = distinct recommended items / items.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .base import Recommender
from .interactions import weigh

_USER_NAMES = ("user_id", "user", "userid", "uid", "customer_id")
_ITEM_NAMES = ("product_id", "item_id", "item", "itemid", "iid", "product", "movie_id", "sku")
_WEIGHT_NAMES = ("weight", "rating", "score", "count", "value")
_TIME_NAMES = ("timestamp", "time", "ts", "date", "datetime")


def read_interactions(path: str | os.PathLike[str], min_weight: float | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (delimiter sniffed) or RecBole ``.inter`` file.

    Columns are found by name (``user``/``user_id``, ``item``/``item_id``/``product_id``,
    ``rating``/``weight``, ``timestamp``; RecBole ``name:type`` headers work) or, with
    no recognizable header, by position: user, item, weight, timestamp. Rows with a
    weight below ``min_weight`` are dropped (e.g. ratings < 4 are not positives).
    Returns ``user_id, product_id, weight[, timestamp]``.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        sample = fh.read(64 * 1024)
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",\t;| ")
        sep = dialect.delimiter
    except csv.Error:
        sep = "\t" if "\t" in sample else ","
    raw = pd.read_csv(path, sep=sep, header=None, dtype=str, skipinitialspace=True)
    header = [str(h).split(":")[0].strip().lower() for h in raw.iloc[0]]

    def find(names: tuple[str, ...]) -> int | None:
        return next((header.index(n) for n in names if n in header), None)

    user_col, item_col = find(_USER_NAMES), find(_ITEM_NAMES)
    if user_col is not None and item_col is not None:
        weight_col, time_col = find(_WEIGHT_NAMES), find(_TIME_NAMES)
        raw = raw.iloc[1:]
    else:  # headerless: positional
        user_col, item_col = 0, 1
        weight_col = 2 if raw.shape[1] > 2 else None
        time_col = 3 if raw.shape[1] > 3 else None
    frame = pd.DataFrame({"user_id": raw[user_col].str.strip(), "product_id": raw[item_col].str.strip()})
    frame["weight"] = 1.0 if weight_col is None else pd.to_numeric(raw[weight_col], errors="coerce").fillna(1.0)
    if time_col is not None:
        ts = raw[time_col]
        numeric = pd.to_numeric(ts, errors="coerce")
        frame["timestamp"] = (
            pd.to_datetime(numeric, unit="s", utc=True)
            if numeric.notna().all()
            else pd.to_datetime(ts, utc=True, errors="coerce", format="mixed")
        )
    if min_weight is not None:
        frame = frame[frame["weight"] >= min_weight]
    return frame.dropna(subset=["user_id", "product_id"]).reset_index(drop=True)


@dataclass
class Split:
    """A train/test split over one fixed user and item index."""

    train: pd.DataFrame
    test: pd.DataFrame
    users: np.ndarray
    items: np.ndarray

    def matrices(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Binary train and test matrices (users x items) in ``users``/``items`` order."""
        return self._matrix(self.train, binary=False), self._matrix(self.test, binary=True)

    def _matrix(self, frame: pd.DataFrame, binary: bool) -> sp.csr_matrix:
        rows = pd.Index(self.users).get_indexer(frame["user_id"])
        cols = pd.Index(self.items).get_indexer(frame["product_id"])
        vals = np.ones(len(frame), dtype=np.float32) if binary else frame["weight"].to_numpy(np.float32)
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(self.users), len(self.items)), dtype=np.float32)
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m


def split_interactions(
    interactions: pd.DataFrame,
    protocol: str = "random",
    test_fraction: float = 0.2,
    seed: int = 42,
    min_positives: int = 5,
) -> Split:
    """Per-user holdout; see the module docstring for the protocol.

    Interactions without a ``weight`` (Segment events, the store's) are weighed by event first.
    """
    if "weight" not in interactions.columns:
        interactions = weigh(interactions)
    frame = interactions.drop_duplicates(["user_id", "product_id"], keep="last").reset_index(drop=True)
    users = np.asarray(pd.unique(frame["user_id"]), dtype=object)
    items = np.asarray(pd.unique(frame["product_id"]), dtype=object)
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(frame), dtype=bool)
    if protocol == "time" and "timestamp" not in frame.columns:
        raise ValueError("the time protocol needs a timestamp column")
    # iterate users in first-seen order so the seeded shuffle is reproducible
    groups = frame.groupby("user_id", sort=False).indices
    for user in users:
        idx = np.asarray(groups[user])
        if idx.size < min_positives:
            continue
        n_test = max(1, int(round(test_fraction * idx.size)))
        if protocol == "random":
            chosen = rng.permutation(idx)[:n_test]
        elif protocol == "time":
            order = np.argsort(frame["timestamp"].to_numpy()[idx], kind="stable")
            chosen = idx[order][-n_test:]
        else:
            raise ValueError(f"protocol must be random or time, got {protocol!r}")
        test_mask[chosen] = True
    return Split(train=frame[~test_mask], test=frame[test_mask], users=users, items=items)


def ranking_metrics(
    scores_fn: Callable[[np.ndarray], np.ndarray],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    k: int = 10,
    batch_size: int = 1024,
) -> dict[str, float]:
    """precision/recall/NDCG@k and coverage for users with test items.

    ``scores_fn(user_rows)`` returns dense scores (len(rows) x n_items) in the same
    item order as ``train``/``test``.
    """
    eval_users = np.flatnonzero(np.diff(test.indptr) > 0)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg = [], [], []
    recommended: set[int] = set()
    for start in range(0, eval_users.size, batch_size):
        rows = eval_users[start : start + batch_size]
        scores = np.array(scores_fn(rows), dtype=np.float64, copy=True)
        seen = train[rows]
        scores[seen.nonzero()] = -np.inf  # mask training items
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), axis=1), 1)
        truth = test[rows]
        for r in range(len(rows)):
            relevant = set(truth.indices[truth.indptr[r] : truth.indptr[r + 1]])
            hits = np.fromiter((i in relevant for i in top[r]), dtype=bool, count=k)
            recommended.update(top[r].tolist())
            precision.append(hits.sum() / k)
            recall.append(hits.sum() / len(relevant))
            ideal = discounts[: min(k, len(relevant))].sum()
            ndcg.append(float((hits * discounts).sum() / ideal))
    return {
        f"precision@{k}": float(np.mean(precision)) if precision else 0.0,
        f"recall@{k}": float(np.mean(recall)) if recall else 0.0,
        f"ndcg@{k}": float(np.mean(ndcg)) if ndcg else 0.0,
        "coverage": len(recommended) / train.shape[1] if train.shape[1] else 0.0,
        "users": int(eval_users.size),
    }


def model_scores_fn(model: Recommender, split: Split, train: sp.csr_matrix) -> Callable[[np.ndarray], np.ndarray]:
    """Adapt a fitted tailor model to the split's item order for :func:`ranking_metrics`."""
    # model column j <-> split column cols[j]; items the model does not know score -inf
    cols = pd.Index(split.items).get_indexer(model.items_)
    known = np.flatnonzero(cols >= 0)
    to_model = sp.csr_matrix(
        (np.ones(known.size, dtype=np.float32), (cols[known], known)),
        shape=(len(split.items), len(model.items_)),
    )

    def scores(rows: np.ndarray) -> np.ndarray:
        model_scores = model.score_batch(train[rows] @ to_model)
        out = np.full((len(rows), len(split.items)), -np.inf, dtype=np.float32)
        out[:, cols[known]] = model_scores[:, known]
        return out

    return scores


def evaluate_models(
    models: Mapping[str, Recommender],
    interactions: pd.DataFrame,
    k: int = 10,
    protocol: str = "random",
    seed: int = 42,
    min_positives: int = 5,
    catalog=None,
    extra: Mapping[str, Callable[[sp.csr_matrix], Callable[[np.ndarray], np.ndarray]]] | None = None,
) -> pd.DataFrame:
    """Fit each model on the training split and return one metrics row per model.

    ``extra`` maps a name to ``fit(train_matrix) -> scores_fn`` for outside models
    (the benchmark plugs the ``implicit`` library in here, on the same split).
    """
    split = split_interactions(interactions, protocol=protocol, seed=seed, min_positives=min_positives)
    train, test = split.matrices()
    rows = []
    for name, model in models.items():
        model.fit(split.train, catalog)
        rows.append({"model": name, **ranking_metrics(model_scores_fn(model, split, train), train, test, k)})
    for name, fit in (extra or {}).items():
        rows.append({"model": name, **ranking_metrics(fit(train), train, test, k)})
    return pd.DataFrame(rows).set_index("model")


def compare_on_holdout(
    candidate: Mapping[str, Recommender],
    champion: Mapping[str, Recommender] | None,
    interactions: pd.DataFrame,
    *,
    champion_trained_until: str | None = None,
    catalog=None,
    model: str | None = None,
    k: int = 10,
    min_positives: int = 5,
) -> dict[str, Any]:
    """The serving model of ``candidate`` (unfitted) against the ``champion``'s, on the same held-out data.

    The newest 20% of each user's interactions are held out (the ``time`` protocol) and
    the candidate is fitted on the rest. The champion is scored as trained when it was
    trained before every held-out interaction (``champion_trained_until``, from its
    manifest): then the comparison also catches new data that trains a worse model.
    A champion that has seen held-out interactions would be flattered by them, so its
    configuration is refitted on the same training part instead ("refit" in the result):
    then the comparison catches a worse model or configuration, on equal data.
    ``model`` is the serving model's name (default: the first of the service's preference
    order that is present).
    """
    from sklearn.base import clone

    from .service import MODEL_PREFERENCE

    name = model or next((m for m in MODEL_PREFERENCE if m in candidate), None)
    if name is None:
        raise ValueError("no servable model among the candidates")
    split = split_interactions(interactions, protocol="time", min_positives=min_positives)
    train, test = split.matrices()
    fitted = candidate[name].fit(split.train, catalog)
    result: dict[str, Any] = {
        "model": name,
        "protocol": "time, newest 20% of each user's interactions held out",
        "challenger": ranking_metrics(model_scores_fn(fitted, split, train), train, test, k),
        "champion": None,
        "champion_refit": False,
    }
    champion_model = (champion or {}).get(name)
    if champion_model is None or getattr(champion_model, "items_", None) is None:
        return result
    first_held_out = pd.to_datetime(split.test["timestamp"], utc=True).min() if len(split.test) else None
    trained_until = pd.Timestamp(champion_trained_until) if champion_trained_until else None
    if trained_until is not None and trained_until.tzinfo is None:
        trained_until = trained_until.tz_localize("UTC")
    if trained_until is None or first_held_out is None or trained_until >= first_held_out:
        champion_model = clone(champion_model).fit(split.train, catalog)
        result["champion_refit"] = True
    result["champion"] = ranking_metrics(model_scores_fn(champion_model, split, train), train, test, k)
    return result


def evaluate_since(model: Recommender, interactions: pd.DataFrame, cutoff: Any, k: int = 10) -> dict[str, float]:
    """How a trained model predicts what happened after it was trained (``cutoff``: its ``trained_until``).

    Each user with history up to ``cutoff`` and interactions after it is evaluated: the
    history is the input, the later items the truth. Run on a schedule, the results for
    one version show it decaying as the shop moves on (``tailor recs evaluate --serving``).
    """
    if "weight" not in interactions.columns:
        interactions = weigh(interactions)
    frame = interactions.drop_duplicates(["user_id", "product_id"], keep="last").reset_index(drop=True)
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    cut = pd.Timestamp(cutoff)
    cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut
    before, after = frame[stamps <= cut], frame[stamps > cut]
    users = np.asarray(sorted(set(before["user_id"]) & set(after["user_id"])), dtype=object)
    items = np.asarray(pd.unique(frame["product_id"]), dtype=object)
    split = Split(
        train=before[before["user_id"].isin(users)],
        test=after[
            after["user_id"].isin(users)
            & ~after.set_index(["user_id", "product_id"]).index.isin(before.set_index(["user_id", "product_id"]).index)
        ],
        users=users,
        items=items,
    )
    train, test = split.matrices()
    return ranking_metrics(model_scores_fn(model, split, train), train, test, k)
