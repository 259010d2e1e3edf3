"""The product catalog: validation of rows, upsert, and products as dicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from .errors import ValidationError
from .ingest import IngestResult, _chunks
from .messages import MAX_ID_LENGTH
from .models import Product
from .times import iso, parse_time
from .upsert import upsert

products_t = Product.__table__
COLUMNS = (
    "id",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "stock",
    "image_url",
    "url",
    "tags",
    "created_at",
)
_COMPARED = COLUMNS


def product_row(raw: Mapping[str, Any], pointer: str = "") -> dict[str, Any]:
    """A catalog row (CSV strings or JSON values) as a ``products`` row; ValidationError names the field."""
    pid = raw.get("id")
    if pid is None or str(pid).strip() == "":
        raise ValidationError(f"{pointer}/id", "a product needs an id")
    row: dict[str, Any] = {"id": str(pid).strip()}
    for key in ("title", "description"):
        row[key] = "" if raw.get(key) is None else str(raw[key])
    for key in ("category", "brand", "image_url", "url"):
        value = raw.get(key)
        row[key] = None if value in (None, "") else str(value)
    for key in ("id", "category", "brand"):  # the columns' length: PostgreSQL refused the write (a traceback)
        if row[key] is not None and len(row[key]) > MAX_ID_LENGTH:
            raise ValidationError(f"{pointer}/{key}", f"longer than {MAX_ID_LENGTH} characters")
    currency = raw.get("currency")
    row["currency"] = None if currency in (None, "") else str(currency).strip().upper()
    if row["currency"] is not None and len(row["currency"]) != 3:
        raise ValidationError(f"{pointer}/currency", f"must be an ISO 4217 code, got {currency!r}")
    row["price"] = _number(raw.get("price"), float, f"{pointer}/price")
    stock = _number(raw.get("stock"), int, f"{pointer}/stock")
    row["stock"] = 0 if stock is None else stock
    tags = raw.get("tags")
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split("|") if t.strip()]
    elif tags is None:
        tags = []
    elif not isinstance(tags, list):
        raise ValidationError(f"{pointer}/tags", "must be a list or a '|'-separated string")
    row["tags"] = [str(t) for t in tags]
    created = raw.get("created_at")
    try:
        row["created_at"] = parse_time(created) if created not in (None, "") else None
    except (TypeError, ValueError):
        raise ValidationError(f"{pointer}/created_at", f"must be an ISO 8601 time, got {created!r}") from None
    return row


def _number(value: Any, kind: type, pointer: str) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(pointer, f"must be a number, got {value!r}")
    try:
        number = float(value) if kind is float else int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(
            pointer, f"must be {'a number' if kind is float else 'an integer'}, got {value!r}"
        ) from None
    if kind is float and not math.isfinite(number):  # "nan", "inf", "1e400": no price, and not JSON either
        raise ValidationError(pointer, f"must be a finite number, got {value!r}")
    if kind is float and number < 0:
        raise ValidationError(pointer, "must not be negative")
    return number


def upsert_products(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> IngestResult:
    """Insert new products, update changed ones, leave identical ones alone."""
    latest = {row["id"]: row for row in rows}  # the last row of an id wins within a file
    existing: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(latest)):
        for row in conn.execute(select(products_t).where(products_t.c.id.in_(chunk))).mappings():
            existing[row["id"]] = dict(row)
    changed = [
        {**row, "updated_at": now}
        for pid, row in latest.items()
        if pid not in existing or any(existing[pid].get(c) != row.get(c) for c in _COMPARED)
    ]
    upsert(conn, products_t, changed, ["id"])
    return IngestResult(len(changed), len(rows) - len(changed))


def product_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A product as the rest of tailor sees it."""
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "category": row["category"],
        "brand": row["brand"],
        "price": None if row["price"] is None else float(row["price"]),
        "currency": row["currency"],
        "stock": int(row["stock"] or 0),
        "image_url": row["image_url"],
        "url": row["url"],
        "tags": list(row["tags"] or []),
        "created_at": iso(row["created_at"]),
    }
