"""Business filters: rules every recommended product list obeys, declared in YAML.

Declared under a top-level ``recs:`` key in one rule file (``rules/recs.yaml`` by
convention); the workspace reads it with the other rule files. Format in docs/recommendations.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..problems import Problem, ProblemError
from ..vocabulary.durations import parse_window
from ..vocabulary.products import in_stock
from ..vocabulary.times import to_utc
from ..yamlmarks import MarkedDict, read_marked
from .interactions import canonical_event, event_product_ids


def parse_duration(value: Any) -> timedelta | None:
    """``exclude_purchased``: a duration (``90d``), ``true``/``forever`` (ever), ``false``/``null`` (keep them)."""
    if value is None or value is False:
        return None
    window = None if value is True else parse_window(value)
    return timedelta.max if window is None else window


@dataclass(frozen=True)
class FilterRules:
    """The filters for one slot. Matching of categories and brands is case-insensitive."""

    in_stock: bool = True
    #: purchases within this window are not recommended again (None = keep them)
    exclude_purchased: timedelta | None = timedelta(days=365)
    exclude_categories: frozenset[str] = frozenset()
    exclude_brands: frozenset[str] = frozenset()
    exclude_products: frozenset[str] = frozenset()
    min_price: float | None = None
    max_price: float | None = None
    max_per_category: int | None = None
    max_per_brand: int | None = None
    #: shown first, in this order, whenever a provider answers (if they pass the filters)
    pinned: tuple[str, ...] = ()
    #: score multipliers
    boost_products: Mapping[str, float] = field(default_factory=dict)
    boost_brands: Mapping[str, float] = field(default_factory=dict)
    boost_categories: Mapping[str, float] = field(default_factory=dict)
    #: 0..1: each already chosen product of the same category multiplies a score by (1 - diversity)
    diversity: float = 0.0
    #: a provider answers only with at least this many products left after filtering
    min_results: int = 1


def _lower_set(value: Any, key: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{key} must be a list")
    return frozenset(str(v).strip().lower() for v in value)


def _factors(value: Any, key: str, lower: bool) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a mapping of name: factor")
    out = {}
    for name, factor in value.items():
        if not isinstance(factor, (int, float)) or factor < 0:
            raise ValueError(f"{key}.{name} must be a non-negative number")
        out[str(name).strip().lower() if lower else str(name)] = float(factor)
    return out


def _count(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{key} must be a positive integer")
    return value


_KEYS = {
    "in_stock",
    "exclude_purchased",
    "exclude_categories",
    "exclude_brands",
    "exclude_products",
    "price",
    "max_per_category",
    "max_per_brand",
    "pinned",
    "boost",
    "diversity",
    "min_results",
}


def rules_from_mapping(data: Mapping[str, Any], base: FilterRules | None = None) -> FilterRules:
    """Build :class:`FilterRules` from the YAML mapping; keys not given keep ``base``'s value."""
    rules = base or FilterRules()
    if not isinstance(data, Mapping):
        raise ValueError("filters must be a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"unknown filter key(s): {', '.join(sorted(map(str, unknown)))}")
    changes: dict[str, Any] = {}
    if "in_stock" in data:
        changes["in_stock"] = _flag(data["in_stock"], "in_stock")
    if "exclude_purchased" in data:
        changes["exclude_purchased"] = parse_duration(data["exclude_purchased"])
    for key in ("exclude_categories", "exclude_brands"):
        if key in data:
            changes[key] = _lower_set(data[key], key)
    if "exclude_products" in data:
        _lower_set(data["exclude_products"], "exclude_products")  # validates it is a list
        changes["exclude_products"] = frozenset(str(v) for v in data["exclude_products"] or ())
    if "price" in data:
        changes["min_price"], changes["max_price"] = _price_range(data["price"])
    for key in ("max_per_category", "max_per_brand"):
        if key in data:
            changes[key] = _count(data[key], key)
    if "min_results" in data:
        changes["min_results"] = _count(data["min_results"], "min_results") or 1
    if "pinned" in data:
        changes["pinned"] = _pinned(data["pinned"])
    if "boost" in data:
        changes.update(_boosts(data["boost"]))
    if "diversity" in data:
        changes["diversity"] = _diversity(data["diversity"])
    return replace(rules, **changes)


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _price_range(value: Any) -> tuple[float | None, float | None]:
    """``price: {min, max}`` as ``(min_price, max_price)``; a missing bound is None."""
    price = value or {}
    if not isinstance(price, Mapping) or set(price) - {"min", "max"}:
        raise ValueError("price must be a mapping with min and/or max")
    for bound in ("min", "max"):
        if price.get(bound) is not None and not isinstance(price[bound], (int, float)):
            raise ValueError(f"price.{bound} must be a number")
    return (
        None if price.get("min") is None else float(price["min"]),
        None if price.get("max") is None else float(price["max"]),
    )


def _pinned(value: Any) -> tuple[str, ...]:
    pinned = value or []
    if isinstance(pinned, str) or not isinstance(pinned, Sequence):
        raise ValueError("pinned must be a list of product ids")
    return tuple(str(p) for p in pinned)


def _boosts(value: Any) -> dict[str, Mapping[str, float]]:
    """``boost: {products, brands, categories}`` as the three ``boost_*`` fields."""
    boost = value or {}
    if not isinstance(boost, Mapping) or set(boost) - {"products", "brands", "categories"}:
        raise ValueError("boost takes products, brands and/or categories")
    return {
        "boost_products": _factors(boost.get("products"), "boost.products", lower=False),
        "boost_brands": _factors(boost.get("brands"), "boost.brands", lower=True),
        "boost_categories": _factors(boost.get("categories"), "boost.categories", lower=True),
    }


def _diversity(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError("diversity must be a number between 0 and 1")
    return float(value)


def _norm(value: Any) -> str:
    if value is None:
        return ""
    return _norm_text(value) if isinstance(value, str) else str(value).strip().lower()


@lru_cache(maxsize=4096)
def _norm_text(value: str) -> str:
    # called for every candidate product on every render: categories and brands repeat
    return value.strip().lower()


def _price(product: Mapping[str, Any]) -> float | None:
    try:
        return float(product["price"])
    except (KeyError, TypeError, ValueError):
        return None


def purchased_products(
    events: Iterable[Mapping[str, Any]] | None,
    window: timedelta | None,
    now: datetime | None = None,
) -> set[str]:
    """Product ids in ``Order Completed`` (purchase) events within ``window`` before ``now``."""
    if window is None:
        return set()
    now = now or datetime.now(UTC)
    out: set[str] = set()
    for event in events or ():
        if (type(event) is not dict and not isinstance(event, Mapping)) or canonical_event(
            event.get("event", "")
        ) != "purchase":
            continue
        if window != timedelta.max:
            ts = to_utc(event.get("timestamp"))
            if ts is not None and now - ts > window:
                continue
        out.update(event_product_ids(event))
    return out


@dataclass(frozen=True)
class Verdict:
    """What one slot's rules say about one catalog product, whoever the recipient is."""

    #: the ``dropped`` key of the rule that drops the product, None when it passes
    rejection: str | None
    #: the product of its boosts (product, brand, category)
    factor: float
    #: category and brand as the caps and boosts compare them
    category: str
    brand: str


class Verdicts(dict[str, Verdict]):
    """:class:`Verdict` of each product of ``catalog`` under ``rules``, made on first ask and kept.

    A service keeps one per slot for its fixed catalog, so a send reads one entry per
    candidate instead of re-judging stock, categories, brands, prices and boosts.
    """

    def __init__(self, rules: FilterRules, catalog: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.rules = rules
        self.catalog = catalog

    def __missing__(self, pid: str) -> Verdict:
        rules, product = self.rules, self.catalog[pid]
        category, brand = _norm(product.get("category")), _norm(product.get("brand"))
        factor = (
            rules.boost_products.get(pid, 1.0)
            * rules.boost_brands.get(brand, 1.0)
            * rules.boost_categories.get(category, 1.0)
        )
        found = self[pid] = Verdict(_rejection(rules, pid, product), factor, category, brand)
        return found


@dataclass
class FilterOutcome:
    """The kept product ids (best first) and how many candidates each filter dropped."""

    products: list[str]
    dropped: dict[str, int] = field(default_factory=dict)


class BusinessFilters:
    """Default :class:`FilterRules` plus per-slot overrides."""

    def __init__(self, default: FilterRules | None = None, slots: Mapping[str, FilterRules] | None = None):
        self.default = default or FilterRules()
        self.slots = dict(slots or {})

    def for_slot(self, slot: str) -> FilterRules:
        return self.slots.get(slot, self.default)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> BusinessFilters:
        """From the mapping under ``recs:`` (keys ``filters`` and ``slots``)."""
        data = data or {}
        if not isinstance(data, Mapping) or set(data) - {"filters", "slots"}:
            raise ValueError("recs takes 'filters' and 'slots'")
        default = rules_from_mapping(data.get("filters") or {})
        slots_data = data.get("slots") or {}
        if not isinstance(slots_data, Mapping):
            raise ValueError("slots must be a mapping of slot name: filters")
        slots = {}
        for name, overrides in slots_data.items():
            try:
                slots[str(name)] = rules_from_mapping(overrides or {}, base=default)
            except ValueError as exc:
                raise ValueError(f"slots.{name}: {exc}") from None
        return cls(default, slots)

    @classmethod
    def load(cls, path: str | Path) -> BusinessFilters:
        """Read a file with a ``recs:`` section; raises :class:`ProblemError` with file:line on bad input."""
        data, problems = read_marked(Path(path))
        problems = problems or check_recs(str(path), data)
        if problems:
            raise ProblemError(problems)
        return cls.from_mapping(data.get("recs"))

    def apply(
        self,
        candidates: Sequence[tuple[str, float]],
        catalog: Mapping[str, Mapping[str, Any]],
        n: int,
        *,
        slot: str = "recs",
        purchased: Iterable[str] = (),
        exclude: Iterable[str] = (),
        verdicts: Verdicts | None = None,
    ) -> FilterOutcome:
        """Filter, boost, pin, diversify and cap ``candidates``; keep at most ``n``.

        ``verdicts``: kept :class:`Verdicts` of this slot's rules for ``catalog`` (else judged anew).
        """
        rules = self.for_slot(slot)
        if verdicts is None or verdicts.rules is not rules or verdicts.catalog is not catalog:
            verdicts = Verdicts(rules, catalog)
        dropped: dict[str, int] = {}
        purchased_set = set(purchased)
        banned = purchased_set | {str(e) for e in exclude}

        def reject(pid: str, seen: set[str]) -> str | None:
            if pid not in catalog:
                return "unknown"
            if pid in seen:
                return "duplicate"
            if pid in banned:
                return "purchased" if pid in purchased_set else "excluded"
            return verdicts[pid].rejection

        seen: set[str] = set()
        pool: list[tuple[str, float]] = []
        for pid, score in candidates:
            pid = str(pid)
            why = reject(pid, seen)
            if why:
                dropped[why] = dropped.get(why, 0) + 1
                continue
            seen.add(pid)
            pool.append((pid, float(score) * verdicts[pid].factor))
        # boosts may reorder; the stable sort keeps the provider's order among equals
        pool.sort(key=lambda item: -item[1])

        chosen: list[str] = []
        per_category: dict[str, int] = {}
        per_brand: dict[str, int] = {}

        def take(pid: str) -> bool:
            verdict = verdicts[pid]
            cat, brand = verdict.category, verdict.brand
            if rules.max_per_category and per_category.get(cat, 0) >= rules.max_per_category:
                dropped["max_per_category"] = dropped.get("max_per_category", 0) + 1
                return False
            if rules.max_per_brand and per_brand.get(brand, 0) >= rules.max_per_brand:
                dropped["max_per_brand"] = dropped.get("max_per_brand", 0) + 1
                return False
            chosen.append(pid)
            per_category[cat] = per_category.get(cat, 0) + 1
            per_brand[brand] = per_brand.get(brand, 0) + 1
            return True

        if pool:
            # pins ride along only when the provider had something to say
            pin_seen: set[str] = set()
            for pid in rules.pinned:
                if len(chosen) < n and reject(pid, pin_seen) is None and pid not in chosen:
                    pin_seen.add(pid)
                    take(pid)
        remaining = [(pid, s) for pid, s in pool if pid not in chosen]
        while remaining and len(chosen) < n:
            pid, _ = remaining.pop(_next_best(remaining, rules.diversity, per_category, catalog))
            take(pid)
        return FilterOutcome(products=chosen, dropped=dropped)


def _rejection(rules: FilterRules, pid: str, product: Mapping[str, Any]) -> str | None:
    """Which of ``rules`` drops the product (its ``dropped`` key), or None when it passes."""
    if pid in rules.exclude_products:
        return "excluded"
    if rules.in_stock and not in_stock(product):
        return "out_of_stock"
    if _norm(product.get("category")) in rules.exclude_categories:
        return "category"
    if _norm(product.get("brand")) in rules.exclude_brands:
        return "brand"
    price = _price(product)
    if rules.min_price is not None and (price is None or price < rules.min_price):
        return "price"
    if rules.max_price is not None and (price is None or price > rules.max_price):
        return "price"
    return None


def _next_best(
    remaining: Sequence[tuple[str, float]],
    diversity: float,
    per_category: Mapping[str, int],
    catalog: Mapping[str, Mapping[str, Any]],
) -> int:
    """Index of the next product to show: the best score, discounted per product of its category already chosen."""
    if diversity <= 0:
        return 0
    keep = 1.0 - diversity
    return max(
        range(len(remaining)),
        key=lambda i: (
            remaining[i][1] * keep ** per_category.get(_norm(catalog[remaining[i][0]].get("category")), 0),
            -i,
        ),
    )


def _key_mark(data: Any, path: Sequence[str]) -> tuple[int, int]:
    """1-based line/col of the deepest key of ``path`` found in a marked document."""
    best = getattr(data, "mark", (0, 0))
    node = data
    for key in path:
        found = next((k for k in node if str(k) == key), None) if isinstance(node, MarkedDict) else None
        if found is None:
            break
        best, node = node.key_mark(found), node[found]
    return best


def check_file(path: str | Path) -> list[Problem]:
    """Problems in a file with a ``recs:`` section; empty when it is valid."""
    data, problems = read_marked(Path(path))
    return problems or check_recs(str(path), data)


def check_recs(path: str, data: Any) -> list[Problem]:
    """Problems in the ``recs:`` section of a marked document (for ``tailor check``)."""
    if not isinstance(data, Mapping) or "recs" not in data:
        return [Problem(path, 1, 1, "expected a top-level 'recs:' mapping")]
    recs = data["recs"] or {}
    if not isinstance(recs, Mapping):
        return [Problem(path, *_key_mark(data, ["recs"]), "recs must be a mapping")]
    problems: list[Problem] = []
    for key in set(recs) - {"filters", "slots"}:
        problems.append(Problem(path, *_key_mark(data, ["recs", str(key)]), f"unknown key recs.{key}"))
    sections: list[tuple[list[str], Any]] = [(["recs", "filters"], recs.get("filters") or {})]
    slots = recs.get("slots") or {}
    if isinstance(slots, Mapping):
        sections += [(["recs", "slots", str(name)], body or {}) for name, body in slots.items()]
    else:
        problems.append(Problem(path, *_key_mark(data, ["recs", "slots"]), "slots must be a mapping"))
    for where, body in sections:
        if not isinstance(body, Mapping):
            problems.append(Problem(path, *_key_mark(data, where), f"{'.'.join(where)} must be a mapping"))
            continue
        for key, value in body.items():
            try:
                rules_from_mapping({key: value})
            except ValueError as exc:
                problems.append(Problem(path, *_key_mark(data, [*where, str(key)]), str(exc)))
    return problems


def filters_from(files: Iterable[Any]) -> tuple[BusinessFilters | None, list[Problem]]:
    """The business filters of rule files already read (``.path`` and marked ``.data`` of each).

    The ``recs:`` section may be in any rule file (``rules/recs.yaml`` by convention), and
    in one only. None (with the problems) when it is invalid; the defaults when there is none.
    """
    declared = [f for f in files if isinstance(f.data, Mapping) and "recs" in f.data]
    problems: list[Problem] = []
    for file in declared:
        problems += check_recs(file.path, file.data)
    for file in declared[1:]:
        problems.append(
            Problem(file.path, *_key_mark(file.data, ["recs"]), f"recs: already declared in {declared[0].path}")
        )
    if problems:
        return None, problems
    return (BusinessFilters.from_mapping(declared[0].data["recs"]) if declared else BusinessFilters()), []


__all__ = [
    "BusinessFilters",
    "FilterOutcome",
    "FilterRules",
    "Verdict",
    "Verdicts",
    "check_file",
    "check_recs",
    "filters_from",
    "in_stock",
    "parse_duration",
    "purchased_products",
    "rules_from_mapping",
]
