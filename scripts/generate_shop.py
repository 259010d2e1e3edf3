#!/usr/bin/env python3
"""Generate a shop of any size for benchmarks (seeded, streamed, deterministic).

    python scripts/generate_shop.py --profiles 1000000 --events 10000000 --out /tmp/shop
    python scripts/generate_shop.py --profiles 4000 --events 200000 --format parquet --out /tmp/shop

Writes ``events.<jsonl|csv|parquet>`` (Segment messages; the CSV and Parquet columns are
those of docs/store.md's "Bulk ingestion") and ``profiles.csv`` (the columns of
``fixtures/profiles.csv``). What the stream holds, per profile: one ``identify`` (email,
names, locale, consents; ~3% without tracking consent), and about 1 in 5 profiles were an
anonymous visitor first: their first events carry only an ``anonymousId`` and their
identify links it to the user id (an identity merge). The other messages are ``page``
and e-commerce ``track`` calls of a random profile (a Pareto-skewed share goes to a few
heavy shoppers), timestamps spread over the 60 days before 2026-11-23.

Memory stays flat: messages are generated one at a time and written as they come
(Parquet in row groups). Every draw comes from ``random.Random(seed).random()`` (the one
sequence Python guarantees across versions), so a seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REF = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
SPAN_S = 60 * 86400
EVENTS = ["Product Viewed"] * 6 + ["Product Added"] * 2 + ["Checkout Started", "Order Completed"]
CATEGORIES = ["Outerwear", "Knitwear", "Shoes", "Bags", "Accessories", "Home", "Beauty", "Sport"]
LOCALES = [
    ("en_US", "America/New_York", "US"),
    ("en_GB", "Europe/London", "GB"),
    ("fr_FR", "Europe/Paris", "FR"),
    ("de_DE", "Europe/Berlin", "DE"),
    ("es_ES", "Europe/Madrid", "ES"),
]
FIRST = ["Ada", "Bruno", "Chloé", "Dmitri", "Elif", "Farah", "Günter", "Hana", "Iris", "Jonas", "Kai", "Lucía"]
LAST = ["Martin", "Schmidt", "García", "Smith", "Dubois", "Rossi", "Novak", "Kim", "Okafor", "Silva"]
#: the flat columns of events in CSV and Parquet; properties, traits and context are JSON text
COLUMNS = ["type", "messageId", "timestamp", "userId", "anonymousId", "event", "name"]
COLUMNS += ["properties", "traits", "context"]
PROFILE_FIELDS = ["user_id", "email", "first_name", "last_name", "city", "country", "locale", "timezone"]
PROFILE_FIELDS += ["consent_personalization", "consent_tracking", "consent_email_marketing", "created_at"]
ROW_GROUP = 50_000


class Shop:
    """The message stream of one seed: ``profiles`` people, ``events`` messages in all."""

    def __init__(self, profiles: int, events: int, seed: int):
        if profiles < 1 or events < profiles:
            raise ValueError("need at least one profile and at least one message per profile")
        self.profiles, self.events, self.seed = profiles, events, seed
        self._rng = random.Random(seed)

    def _r(self) -> float:
        return self._rng.random()

    def _pick(self, n: int) -> int:
        return min(int(self._r() * n), n - 1)

    def _when(self) -> str:
        moment = REF - timedelta(seconds=self._pick(SPAN_S))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def user(self, i: int) -> str:
        return f"u-{i:07d}"

    def visitor(self, i: int) -> str:
        """The anonymous id a profile had before signing up (1 in 5 profiles have one)."""
        return f"a-{i:07d}-{self.seed}"

    def has_visitor(self, i: int) -> bool:
        return i % 5 == 2

    def person(self, i: int) -> dict[str, Any]:
        """Profile ``i``'s traits (derived from ``i`` alone, so profiles.csv needs no state)."""
        locale, timezone, country = LOCALES[i % len(LOCALES)]
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        return {
            "email": f"{first.lower()}.{last.lower()}.{i}@example.com".replace("é", "e").replace("ü", "u"),
            "first_name": first,
            "last_name": last,
            "country": country,
            "locale": locale,
            "timezone": timezone,
            "consent_personalization": i % 10 != 3,
            "consent_tracking": i % 31 != 7,
            "consent_email_marketing": i % 17 != 5,
        }

    def messages(self) -> Iterator[dict[str, Any]]:
        """Every message, in file order: identifies interleaved with the behaviour."""
        every = self.events / self.profiles
        next_identify = 0
        for n in range(self.events):
            if next_identify < self.profiles and n >= int(next_identify * every):
                yield self._identify(next_identify, n)
                next_identify += 1
                continue
            yield self._behaviour(n, next_identify)

    def _identify(self, i: int, n: int) -> dict[str, Any]:
        traits = self.person(i)
        message: dict[str, Any] = {
            "type": "identify",
            "messageId": f"m-{self.seed}-{n}",
            "timestamp": self._when(),
            "userId": self.user(i),
            "traits": traits,
        }
        if self.has_visitor(i):
            message["anonymousId"] = self.visitor(i)
        return message

    def _behaviour(self, n: int, known: int) -> dict[str, Any]:
        # a profile already identified (skewed towards a few heavy shoppers), or a visitor
        # not yet identified: its events carry only the anonymous id
        upcoming = known + self._pick(max(1, min(50, self.profiles - known)))
        if upcoming < self.profiles and self.has_visitor(upcoming) and self._r() < 0.1:
            ids = {"anonymousId": self.visitor(upcoming)}
        else:
            heavy = self._r() < 0.3
            i = self._pick(max(1, known // 100 or 1)) if heavy else self._pick(max(1, known))
            ids = {"userId": self.user(i)}
        product = self._pick(500)
        category = CATEGORIES[product % len(CATEGORIES)]
        when = self._when()
        if self._r() < 0.2:
            return {
                "type": "page",
                "messageId": f"m-{self.seed}-{n}",
                "timestamp": when,
                **ids,
                "name": category,
                "properties": {"path": f"/c/{category.lower()}"},
            }
        event = EVENTS[self._pick(len(EVENTS))]
        price = round(5 + self._r() * 295, 2)
        properties: dict[str, Any] = {
            "product_id": f"sku-{product:04d}",
            "category": category,
            "price": price,
            "currency": "USD",
        }
        if event == "Order Completed":
            properties = {
                "order_id": f"o-{self.seed}-{n}",
                "total": price,
                "currency": "USD",
                "products": [{"product_id": f"sku-{product:04d}", "category": category, "price": price, "quantity": 1}],
            }
        return {
            "type": "track",
            "messageId": f"m-{self.seed}-{n}",
            "timestamp": when,
            **ids,
            "event": event,
            "properties": properties,
        }


def flat_row(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the flat CSV/Parquet row (objects as JSON text, absent values empty)."""
    row: dict[str, Any] = {}
    for column in COLUMNS:
        value = message.get(column)
        if column in ("properties", "traits", "context"):
            row[column] = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else None
        else:
            row[column] = value
    return row


def write_events(shop: Shop, out: Path, fmt: str) -> Path:
    path = out / f"events.{fmt}"
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for message in shop.messages():
                fh.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n")
    elif fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
            writer.writeheader()
            for message in shop.messages():
                writer.writerow(flat_row(message))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(c, pa.string()) for c in COLUMNS])
        with pq.ParquetWriter(path, schema) as writer:
            block: list[dict[str, Any]] = []
            for message in shop.messages():
                block.append(flat_row(message))
                if len(block) >= ROW_GROUP:
                    writer.write_table(pa.Table.from_pylist(block, schema))
                    block = []
            if block:
                writer.write_table(pa.Table.from_pylist(block, schema))
    return path


def write_profiles(shop: Shop, out: Path) -> Path:
    path = out / "profiles.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, PROFILE_FIELDS, lineterminator="\n")
        writer.writeheader()
        for i in range(shop.profiles):
            person = shop.person(i)
            row = {key: str(value).lower() if isinstance(value, bool) else value for key, value in person.items()}
            writer.writerow({"user_id": shop.user(i), **row, "city": "", "created_at": "2026-01-01T00:00:00Z"})
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=4000)
    parser.add_argument("--events", type=int, default=200_000, help="messages in all, identifies included")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--no-profiles-csv", action="store_true", help="write only the events file")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        shop = Shop(args.profiles, args.events, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    written = [write_events(shop, args.out, args.format)]
    if not args.no_profiles_csv:
        written.append(write_profiles(shop, args.out))
    for path in written:
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
