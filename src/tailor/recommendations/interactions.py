"""Turn interaction tables and profile events into weighted, indexed data.

Everything a model learns from passes through here, so event weighting and the
``product_id -> column`` mapping are defined exactly once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    # imported inside the table-building functions: the render path reads events with
    # plain Python, and numpy + pandas + SciPy would be most of a cold CLI start
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

from ..vocabulary.products import event_product_ids as product_ids_of

#: Default strength of each event type: a view is a weak signal, a purchase a strong one.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 1.0,
    "wishlist": 2.0,
    "add_to_cart": 3.0,
    "checkout": 3.0,
    "purchase": 5.0,
}

#: Segment e-commerce event names (and common spellings) -> canonical event type.
EVENT_ALIASES: dict[str, str] = {
    "product viewed": "view",
    "viewed": "view",
    "page": "view",
    "product clicked": "click",
    "clicked": "click",
    "product added to wishlist": "wishlist",
    "product added": "add_to_cart",
    "add to cart": "add_to_cart",
    "added_to_cart": "add_to_cart",
    "cart": "add_to_cart",
    "checkout started": "checkout",
    "order completed": "purchase",
    "purchased": "purchase",
    "order": "purchase",
}

#: A user history: product ids, or ``(product_id, weight)`` pairs.
History: TypeAlias = Sequence[Any] | Iterable[tuple[Any, float]]


def canonical_event(name: Any) -> str:
    """Map an event name (``"Product Added"``, ``"add_to_cart"``) to its canonical type."""
    return _canonical(str(name))


@functools.lru_cache(maxsize=1024)
def _canonical(name: str) -> str:
    # read for every event of a history on every send: the few names a shop uses repeat
    key = name.strip().lower()
    key = EVENT_ALIASES.get(key, key)
    return key.replace(" ", "_").replace("-", "_")


def event_weight(name: Any, weights: Mapping[str, float] | None = None) -> float:
    """Weight of one event; unknown events count as a view (weakest signal)."""
    table = DEFAULT_EVENT_WEIGHTS if weights is None else {**DEFAULT_EVENT_WEIGHTS, **weights}
    canonical = canonical_event(name)
    if canonical in table:
        return float(table[canonical])
    # user-supplied weights may use raw Segment names
    if weights and name in weights:
        return float(weights[name])
    return float(table.get("view", 1.0))


def weigh(interactions: pd.DataFrame, event_weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Return ``user_id, product_id, weight[, timestamp]`` with product ids as strings.

    Takes the ``weight`` column when present, else maps ``event`` through the event
    weights, else counts each row as 1.
    """
    missing = {"user_id", "product_id"} - set(interactions.columns)
    if missing:
        raise ValueError(f"interactions need columns {sorted(missing)}")
    import pandas as pd

    out = pd.DataFrame(
        {"user_id": interactions["user_id"].astype(str), "product_id": interactions["product_id"].astype(str)}
    )
    if "weight" in interactions.columns:
        out["weight"] = pd.to_numeric(interactions["weight"], errors="coerce").fillna(0.0).astype(float)
    elif "event" in interactions.columns:
        cache: dict[Any, float] = {}
        out["weight"] = [cache.setdefault(e, event_weight(e, event_weights)) for e in interactions["event"].tolist()]
    else:
        out["weight"] = 1.0
    if "timestamp" in interactions.columns:
        ts = interactions["timestamp"]
        if pd.api.types.is_numeric_dtype(ts):
            ts = pd.to_datetime(ts, unit="s", utc=True)
        out["timestamp"] = pd.to_datetime(ts, utc=True, errors="coerce", format="mixed")
    return out[out["weight"] > 0]


@dataclass
class InteractionMatrix:
    """A users x items sparse matrix with its id <-> index mappings."""

    matrix: sp.csr_matrix
    users: np.ndarray
    items: np.ndarray


def build_matrix(
    weighted: pd.DataFrame,
    items: Sequence[str] | np.ndarray | None = None,
    value: str = "weight",
) -> InteractionMatrix:
    """Sum ``value`` per (user, item) into a CSR matrix.

    ``items`` fixes the column order (e.g. catalog order); rows for other items are dropped.
    """
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    users = np.asarray(pd.unique(weighted["user_id"]), dtype=object)
    if items is None:
        item_arr = np.asarray(pd.unique(weighted["product_id"]), dtype=object)
    else:
        item_arr = np.asarray(list(items), dtype=object)
    uidx = pd.Index(users).get_indexer(weighted["user_id"])
    iidx = pd.Index(item_arr).get_indexer(weighted["product_id"])
    keep = (uidx >= 0) & (iidx >= 0)
    data = weighted[value].to_numpy(dtype=np.float32)[keep]
    matrix = sp.csr_matrix((data, (uidx[keep], iidx[keep])), shape=(len(users), len(item_arr)), dtype=np.float32)
    matrix.sum_duplicates()
    return InteractionMatrix(matrix=matrix, users=users, items=item_arr)


def normalize_history(history: Any) -> list[tuple[str, float]]:
    """Accept ``["sku-1", ...]``, ``[("sku-1", 3.0), ...]`` or ``{"sku-1": 3.0}``."""
    if history is None:
        return []
    if isinstance(history, Mapping):
        return [(str(k), float(v)) for k, v in history.items()]
    out: list[tuple[str, float]] = []
    for entry in history:
        if isinstance(entry, (tuple, list)) and len(entry) == 2:
            out.append((str(entry[0]), float(entry[1])))
        else:
            out.append((str(entry), 1.0))
    return out


def profile_history(
    events: Iterable[Mapping[str, Any]] | None,
    event_weights: Mapping[str, float] | None = None,
) -> list[tuple[str, float]]:
    """Weighted ``(product_id, weight)`` pairs from a profile's Segment events.

    Reads ``properties.product_id`` and every ``properties.products[].product_id``;
    weights of repeated products add up.
    """
    totals: dict[str, float] = {}
    weights: dict[str, float] = {}  # by event name: a history repeats a handful of names
    for event in events or ():
        # (the exact type first: an ABC check per event is a visible share of a long history)
        if (type(event) is not dict and not isinstance(event, Mapping)) or event.get("type", "track") != "track":
            continue
        name = event.get("event", "view")
        weight = weights.get(name) if type(name) is str else None
        if weight is None:
            weight = event_weight(name, event_weights)
            if type(name) is str:
                weights[name] = weight
        for pid in event_product_ids(event):
            totals[pid] = totals.get(pid, 0.0) + weight
    return list(totals.items())


def event_product_ids(event: Mapping[str, Any]) -> list[str]:
    """Product ids an event is about (``product_id`` or ``products[]``)."""
    props = event.get("properties") or {}
    return product_ids_of(props) if type(props) is dict or isinstance(props, Mapping) else []


def catalog_frame(catalog: pd.DataFrame | Sequence[Mapping[str, Any]] | None) -> pd.DataFrame:
    """The catalog as a DataFrame with a string ``id`` column (empty when ``None``)."""
    import pandas as pd

    if catalog is None:
        return pd.DataFrame({"id": pd.Series([], dtype=object)})
    frame = catalog.copy() if isinstance(catalog, pd.DataFrame) else pd.DataFrame(list(catalog))
    if "id" not in frame.columns:
        if "product_id" in frame.columns:
            frame = frame.rename(columns={"product_id": "id"})
        else:
            raise ValueError("catalog needs an 'id' column")
    frame["id"] = frame["id"].astype(str)
    return frame.drop_duplicates("id").reset_index(drop=True)


def events_to_interactions(events: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Segment track events -> ``user_id, product_id, event, timestamp`` rows (one per product)."""
    import pandas as pd

    rows = []
    for event in events:
        if not isinstance(event, Mapping) or event.get("type", "track") != "track":
            continue
        user = event.get("userId") or event.get("user_id") or event.get("anonymousId")
        if not user:
            continue
        for pid in event_product_ids(event):
            rows.append((str(user), pid, event.get("event", "view"), event.get("timestamp")))
    frame = pd.DataFrame(rows, columns=["user_id", "product_id", "event", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="mixed")
    return frame
