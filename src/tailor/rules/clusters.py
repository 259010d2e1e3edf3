"""Clustering segments: KMeans over RFM (or other numeric) features, labels learned offline.

``tailor segments train`` fits each ``model: kmeans`` segment on the store's computed
features and saves ``<artifacts>/segments/<name>.joblib``; at send time
:meth:`ClusterSegment.assign` puts a profile into the cluster whose centre is nearest
to its own features (plain numpy: no scikit-learn call on the render path).

Clusters are named deterministically: ordered by the mean of ``rank_by`` (default
``monetary``) highest first, the first cluster gets ``labels[0]`` and so on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tailor.features.names import FEATURE_NAMES, NUMERIC_FEATURES

#: RFM shorthands -> computed features
ALIASES = {"recency": "days_since_purchase", "frequency": "orders_total", "monetary": "lifetime_value"}
#: computed features that are numbers (clustering needs numbers)
NUMERIC = NUMERIC_FEATURES
DEFAULT_LABELS = {4: ["champions", "loyal", "at_risk", "hibernating"], 3: ["champions", "regulars", "hibernating"]}
ARTIFACT_FOLDER = "segments"


def feature_name(name: str) -> str:
    return ALIASES.get(name, name)


@dataclass
class ClusterSegment:
    """``segments: {<name>: {model: kmeans, features: [...], k: 4, labels: [...]}}``."""

    name: str
    features: list[str]
    k: int = 4
    labels: list[str] = field(default_factory=list)
    rank_by: str = "monetary"
    personal: bool = True
    description: str = ""
    origin: Any = None
    _model: dict[str, Any] | None = field(default=None, repr=False)
    _stamp: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.labels:
            self.labels = list(DEFAULT_LABELS.get(self.k) or [f"{self.name}_{i + 1}" for i in range(self.k)])

    @property
    def columns(self) -> list[str]:
        return [feature_name(f) for f in self.features]

    @property
    def rank_column(self) -> str:
        return feature_name(self.rank_by)

    def problems(self) -> list[str]:
        """What is wrong with the declaration (for ``tailor check``)."""
        found = []
        for name in self.features:
            if feature_name(name) not in NUMERIC:
                known = ", ".join([*ALIASES, *NUMERIC])
                found.append(f"segment {self.name!r}: {name!r} is not a numeric feature (use {known})")
        if len(self.labels) != self.k:
            found.append(f"segment {self.name!r}: {len(self.labels)} labels for k={self.k} clusters")
        if len(set(self.labels)) != len(self.labels):
            found.append(f"segment {self.name!r}: labels repeat")
        if self.rank_column not in self.columns:
            found.append(f"segment {self.name!r}: rank_by {self.rank_by!r} is not one of its features")
        return found

    def signature(self) -> dict[str, Any]:
        """What a trained model must have been trained for to be used."""
        return {"features": self.columns, "k": self.k, "labels": list(self.labels), "rank_by": self.rank_column}

    # -- send time ---------------------------------------------------------------------

    def artifact(self, directory: str | os.PathLike[str]) -> Path:
        return Path(directory) / ARTIFACT_FOLDER / f"{self.name}.joblib"

    def load(self, directory: str | os.PathLike[str]) -> dict[str, Any] | None:
        """The trained model (cached; reloaded when the file changes), or None."""
        path = self.artifact(directory)
        try:
            stat = path.stat()
        except OSError:
            self._model, self._stamp = None, None
            return None
        stamp = (str(path), stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            import joblib

            model = joblib.load(path)
            self._model = model if model.get("signature") == self.signature() else None
            self._stamp = stamp
        return self._model

    def assign(self, profile: Mapping[str, Any], directory: str | os.PathLike[str]) -> str | None:
        """The label of the profile's cluster, or None (no trained model for this declaration)."""
        model = self.load(directory)
        if model is None:
            return None
        point = _transform([_value(profile.get(c)) for c in self.columns], model)
        best = min(
            range(len(model["centers"])),
            key=lambda i: sum((a - b) ** 2 for a, b in zip(point, model["centers"][i], strict=True)),
        )
        return model["labels"][best]


def _value(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _transform(values: list[float | None], model: Mapping[str, Any]) -> list[float]:
    """Missing -> the training fill value; log1p (long tails); standardize."""
    out = []
    for value, fill, mean, scale in zip(values, model["fill"], model["mean"], model["scale"], strict=True):
        value = fill if value is None else value
        out.append((math.log1p(max(value, 0.0)) - mean) / scale)
    return out


# -- training (tailor segments train) ------------------------------------------------------


def train(segment: ClusterSegment, features, *, seed: int = 0) -> dict[str, Any]:
    """Fit KMeans on a ``compute_features_frame`` result; the model dict to save."""
    import numpy as np
    from sklearn.cluster import KMeans

    frame = features[segment.columns].apply(lambda col: col.astype("float64"))
    if len(frame) < segment.k:
        raise ValueError(f"segment {segment.name!r}: {len(frame)} profiles for k={segment.k} clusters")
    fill = []
    for column in segment.columns:
        values = frame[column].dropna()
        # never bought / never seen: further away than anyone who did
        missing = (values.max() + 1.0 if column.startswith("days_since") else 0.0) if len(values) else 0.0
        fill.append(float(missing))
    raw = frame.fillna(dict(zip(segment.columns, fill, strict=True))).to_numpy()
    logged = np.log1p(np.clip(raw, 0.0, None))
    mean = logged.mean(axis=0)
    scale = logged.std(axis=0)
    scale[scale == 0] = 1.0
    kmeans = KMeans(n_clusters=segment.k, n_init=10, random_state=seed).fit((logged - mean) / scale)
    rank = segment.columns.index(segment.rank_column)
    means = [
        raw[kmeans.labels_ == i, rank].mean() if (kmeans.labels_ == i).any() else -math.inf for i in range(segment.k)
    ]
    order = sorted(range(segment.k), key=lambda i: (-means[i], i))  # best first
    labels = [""] * segment.k
    for position, cluster in enumerate(order):
        labels[cluster] = segment.labels[position]
    counts = {labels[i]: int((kmeans.labels_ == i).sum()) for i in range(segment.k)}
    return {
        "name": segment.name,
        "signature": segment.signature(),
        "kmeans": kmeans,
        "centers": kmeans.cluster_centers_.tolist(),
        "labels": labels,
        "fill": fill,
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "counts": counts,
        "rank_means": {labels[i]: float(means[i]) for i in range(segment.k)},
        "profiles": int(len(frame)),
        "trained_at": datetime.now(UTC).isoformat(),
    }


def save(segment: ClusterSegment, model: Mapping[str, Any], directory: str | os.PathLike[str]) -> Path:
    """Write the model atomically (a reader never sees half a file)."""
    import joblib

    path = segment.artifact(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    joblib.dump(dict(model), tmp)
    os.replace(tmp, path)
    return path


def train_store(book: Any, store: Any, at: datetime, directory: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Train every clustering segment of ``book`` on ``store``; ``{name: model}``."""
    from tailor.features import compute_features_frame

    clusters = getattr(book, "clusters", {})
    if not clusters:
        return {}
    events = store.events_frame()
    refused = store.personalization_refused() if hasattr(store, "personalization_refused") else set()
    events = events[~events["profile_id"].isin(refused)]
    catalog = {row["id"]: row for row in store.catalog()}
    features = compute_features_frame(events, at, catalog=catalog)
    trained = {}
    for name, segment in clusters.items():
        model = train(segment, features)
        save(segment, model, directory)
        trained[name] = model
    return trained


assert set(NUMERIC) <= set(FEATURE_NAMES)
