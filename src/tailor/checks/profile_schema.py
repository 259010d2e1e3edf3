"""``rules/profile.yaml``: the traits a profile can have, bootstrapped from the store and the personas.

With it, ``tailor check`` reports ``profile.frist_name`` in a template or a condition as
the typo it is. Nobody has to write it by hand: ``tailor check --bootstrap-profile``
reads the traits of the stored profiles (a sample) and of the persona files, infers each
trait's type and whether it is ever null, adds the catalog's columns, and writes the file
(keeping what an existing file already declares). It is then the shop's to edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

#: profiles read from the store to infer the traits (a sample is enough to see every trait)
SAMPLE = 5000
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
HEADER = """\
# The traits a profile can have: templates and rule conditions may read profile.<trait>
# for these and for the computed features (docs/rules.md); anything else is reported by
# `tailor check` as a typo. Written by `tailor check --bootstrap-profile` from the store and
# the personas; edit freely (types: string, number, boolean, date, list, object, any;
# `nullable: true` when a value can be null, so printing it needs a default).
"""


def value_type(value: Any) -> str | None:
    """The schema type of one trait value (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "date" if _ISO_DATE.match(value) else "string"
    if isinstance(value, list):
        return "list"
    return "object" if isinstance(value, Mapping) else "any"


def infer_fields(trait_maps: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Trait name → ``{type, nullable}`` over every profile's traits (mixed types: ``any``)."""
    seen: dict[str, set[str | None]] = {}
    for traits in trait_maps:
        for name, value in traits.items():
            seen.setdefault(str(name), set()).add(value_type(value))
    fields: dict[str, dict[str, Any]] = {}
    for name in sorted(seen):
        kinds = seen[name] - {None}
        spec: dict[str, Any] = {"type": kinds.pop() if len(kinds) == 1 else "any"}
        if None in seen[name]:
            spec["nullable"] = True
        fields[name] = spec
    return fields


def stored_traits(store: Any, limit: int = SAMPLE) -> list[dict[str, Any]]:
    """The traits of up to ``limit`` stored profiles."""
    from sqlalchemy import select

    from tailor.store.models import Profile

    with store.engine.connect() as conn:
        return [dict(t or {}) for t in conn.execute(select(Profile.traits).limit(limit)).scalars()]


def persona_traits(folder: Path) -> list[dict[str, Any]]:
    """The traits of each persona file (a malformed one is skipped: the studio reports it)."""
    found: list[dict[str, Any]] = []
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(document, Mapping) and isinstance(document.get("traits"), Mapping):
            found.append(dict(document["traits"]))
    return found


def catalog_columns(store: Any) -> list[str]:
    """The columns of the stored catalog (what a product can hold)."""
    from sqlalchemy import select

    from tailor.store.catalog import product_dict, products_t

    with store.engine.connect() as conn:
        row = conn.execute(select(products_t).limit(1)).mappings().first()
    return list(product_dict(row)) if row is not None else []


def bootstrap(path: Path, trait_maps: Iterable[Mapping[str, Any]], products: list[str]) -> dict[str, Any]:
    """Write ``path`` with the inferred traits and catalog columns; an existing file's entries are kept."""
    existing: dict[str, Any] = {}
    if path.is_file():
        existing = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    profile = {**infer_fields(trait_maps), **(existing.get("profile") or {})}
    columns = list(dict.fromkeys([*(existing.get("products") or []), *products]))
    document: dict[str, Any] = {"profile": {name: _compact(spec) for name, spec in sorted(profile.items())}}
    body = yaml.safe_dump({"profile": document["profile"]}, sort_keys=False, allow_unicode=True, width=100)
    if columns:
        document["products"] = columns
        body += "# the catalog's columns: what a product (a recommendation, a trigger's item) can hold\n"
        body += yaml.safe_dump({"products": columns}, default_flow_style=None, allow_unicode=True, width=100)
    path.write_text(HEADER + body, encoding="utf-8")
    return document


def _compact(spec: Any) -> Any:
    """``{type: string}`` is written ``string``; a spec with more stays a mapping."""
    if isinstance(spec, Mapping) and set(spec) == {"type"}:
        return spec["type"]
    return spec


def bootstrap_from(rules_dir: Path, store: Any, personas_dir: Path) -> tuple[Path, dict[str, Any]]:
    """``tailor check --bootstrap-profile``: ``rules/profile.yaml`` from the store (if any) and the personas."""
    traits = persona_traits(personas_dir)
    products: list[str] = []
    if store is not None:
        traits += stored_traits(store)
        products = catalog_columns(store)
    path = Path(rules_dir) / "profile.yaml"
    return path, bootstrap(path, traits, products)
