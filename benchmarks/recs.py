"""Benchmark tailor's recommenders against the `implicit` library on MovieLens-100K.

    .venv/bin/pip install implicit        # benchmark-only dependency
    .venv/bin/python benchmarks/recs.py [--k 10] [--seed 42] [--markdown]

The data ships inside the PyPI wheel of recbole==1.2.1; the wheel is downloaded
with ``pip download --no-deps`` into a temporary folder on every run and never
committed. Positives are ratings >= 4. Protocol (same split for every model, one
run): per-user random 80/20 split, seed 42, users with >= 5 positives evaluated,
full ranking over all items with training items masked.

The grid below is small and identical in spirit for both sides: a few
regularization strengths for EASE, a few factor counts/regularizations for ALS and
neighbourhood sizes for BM25. Every configuration is printed, not only the best.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

# implicit warns (and slows down) when BLAS is multi-threaded under its own threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.cli.recs import format_table
from tailor.recommendations import EASE, Hybrid, ItemItem, Popularity
from tailor.recommendations.evaluation import model_scores_fn, ranking_metrics, read_interactions, split_interactions

WHEEL = "recbole==1.2.1"
MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"


def download_ml100k(workdir: Path) -> Path:
    """Fetch the recbole wheel with pip and extract the ML-100K interactions file."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", str(workdir)],
        check=True,
    )
    wheel = next(workdir.glob("recbole-1.2.1-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(MEMBER, workdir)
    return workdir / MEMBER


def tailor_models() -> dict[str, object]:
    models: dict[str, object] = {"popularity": Popularity(half_life_days=None)}
    for k in (50, 100, 200):
        models[f"itemitem(k={k})"] = ItemItem(neighbors=k)
    for l2 in (25.0, 50.0, 100.0, 200.0, 500.0):
        models[f"ease(l2={l2:g})"] = EASE(l2=l2)
    models["hybrid(ease+itemitem)"] = Hybrid(
        {"ease": EASE(l2=100.0), "itemitem": ItemItem(neighbors=100), "popularity": Popularity(half_life_days=None)},
        weights={"ease": 1.0, "itemitem": 0.3, "popularity": 0.0},
    )
    return models


def implicit_models() -> dict[str, object]:
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender

    models: dict[str, object] = {}
    # ALS needs strong regularization on a data set this small: the grid covers it
    for factors in (32, 64, 128):
        for reg in (0.05, 5.0, 20.0):
            for alpha in (1.0, 5.0):
                models[f"implicit ALS(f={factors},reg={reg:g},a={alpha:g})"] = AlternatingLeastSquares(
                    factors=factors, regularization=reg, alpha=alpha, iterations=15, random_state=42
                )
    for k in (20, 50, 100, 200):
        models[f"implicit BM25(K={k})"] = BM25Recommender(K=k)
    return models


def implicit_scores_fn(model, train: sp.csr_matrix):
    """Fit an implicit model on the same training matrix and expose full-ranking scores."""
    model.fit(train, show_progress=False)
    if hasattr(model, "user_factors"):
        users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
        return lambda rows: users[rows] @ items.T
    similarity = model.similarity.tocsr()
    return lambda rows: (train[rows] @ similarity).toarray()


def main(argv: list[str] | None = None) -> int:
    # implicit converts our CSR internally and warns about it; not our concern here
    warnings.filterwarnings("ignore", message="Method expects CSR input")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tailor-bench-") as tmp:
        path = download_ml100k(Path(tmp))
        interactions = read_interactions(path, min_weight=4)
    # positives are binary: a 5 is not "more positive" than a 4 here, for every model alike
    interactions["weight"] = 1.0
    split = split_interactions(interactions, protocol="random", seed=args.seed, min_positives=5)
    train, test = split.matrices()
    print(
        f"ML-100K positives: {len(interactions)} interactions, {len(split.users)} users, {len(split.items)} items; "
        f"train {train.nnz}, test {test.nnz}",
        file=sys.stderr,
    )

    rows = []
    for name, model in tailor_models().items():
        start = time.perf_counter()
        model.fit(split.train)
        metrics = ranking_metrics(model_scores_fn(model, split, train), train, test, args.k)
        rows.append({"model": f"tailor {name}", **metrics, "seconds": time.perf_counter() - start})
    for name, model in implicit_models().items():
        start = time.perf_counter()
        metrics = ranking_metrics(implicit_scores_fn(model, train), train, test, args.k)
        rows.append({"model": name, **metrics, "seconds": time.perf_counter() - start})

    table = pd.DataFrame(rows).set_index("model")
    seconds = table.pop("seconds")
    table["fit+eval s"] = seconds.round(2)
    print(format_table(table.drop(columns=["fit+eval s"]), "markdown" if args.markdown else "table"))
    print("\nfit+eval seconds: " + ", ".join(f"{m}: {s:.2f}" for m, s in seconds.items()), file=sys.stderr)

    ndcg = f"ndcg@{args.k}"
    ours = table[table.index.str.startswith("tailor")][ndcg]
    theirs = table[table.index.str.startswith("implicit")][ndcg]
    best, best_implicit = ours.idxmax(), theirs.idxmax()
    print(f"\nbest tailor: {best} {ours.max():.4f}; best implicit: {best_implicit} {theirs.max():.4f}")
    ok = ours.max() > theirs.max() and ours.max() >= 0.30
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
