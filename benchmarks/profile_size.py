"""Render time as the profile grows: p50/p99 with 10, 1,000 and 10,000 events per profile, side by side.

A send should do bounded work whatever the recipient's history (#15: the p99s within 1.5× of
each other). Each size renders the newsletter (features, triggers, recommendations, rules,
content) for ``--recipients`` fixture recipients whose events are their own plus the example
shop's track events (real shapes: views, cart adds, orders), spread back over two years
before the send, up to the size, two ways:

- from a profile document holding every event (``Tailor.render(profile=...)``);
- as a send does: the same events ingested into a SQLite store (one per size, with the
  example shop), rendered by recipient id (``Tailor.render(recipient=...)``), which loads
  the stored profile (the store hands over its latest 500 events: ``event_limit``).

The models are the ones the render benchmark serves (fitted on the example shop).

    python benchmarks/profile_size.py [--sizes 10,1000,10000] [--recipients 60] [--clock cpu] [--no-store]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from render import AT, _send, profile_documents  # noqa: E402
from tailor import Tailor  # noqa: E402
from tailor.recommendations import RecommendationService  # noqa: E402
from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file  # noqa: E402
from tailor.rendering.fallbacks import collecting_fallbacks  # noqa: E402
from tailor.vocabulary.times import parse_iso  # noqa: E402

#: how far back the generated history reaches
SPAN = timedelta(days=730)


def shop_track_events() -> list[dict[str, Any]]:
    """The example shop's track events (the shapes a real history is made of)."""
    with open(ROOT / "fixtures" / "events.jsonl", encoding="utf-8") as fh:
        return [e for e in map(json.loads, fh) if e.get("type") == "track"]


def grown(doc: dict[str, Any], size: int, pool: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """``doc`` with ``size`` events: its own latest ones, older ones drawn from ``pool`` before them."""
    own = doc["events"][-size:]
    at = parse_iso(AT)
    extra = []
    for i in range(size - len(own)):
        event = dict(rng.choice(pool))
        moment = at - SPAN * (i + 1) / (size + 1) - timedelta(days=60)
        event["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        event["messageId"] = f"grown-{doc['id']}-{i}"
        extra.append(event)
    extra.reverse()  # oldest first, as the store hands them over
    return {**doc, "events": extra + own}


def store_times(
    template: str, recommender: RecommendationService, grown_docs: list[dict[str, Any]], clock: Any
) -> list[float]:
    """Send times by recipient id from a fresh SQLite store holding the shop and ``grown_docs``' events."""
    from tailor.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        store = Store(url)
        store.migrate()
        for name in ("catalog.csv", "profiles.csv"):
            store.ingest_file(ROOT / "fixtures" / name)
        ids = {doc["id"] for doc in grown_docs}
        with (
            open(ROOT / "fixtures" / "events.jsonl", encoding="utf-8") as fh,
            open(f"{tmp}/events.jsonl", "w", encoding="utf-8") as out,
        ):
            # the shop's other messages (identifies, pages, other people's tracks), then the grown histories
            for line in fh:
                message = json.loads(line)
                if not (message.get("type") == "track" and message.get("userId") in ids):
                    out.write(line)
            for doc in grown_docs:
                for event in doc["events"]:
                    message = {k: v for k, v in event.items() if k != "anonymousId"}
                    out.write(json.dumps({**message, "userId": doc["id"]}) + "\n")
        store.ingest_file(f"{tmp}/events.jsonl")
        tailor = Tailor(ROOT / "templates", ROOT / "rules", url, recommender=recommender)
        tailor.warm()
        with collecting_fallbacks():  # the first send pays one-time costs (the store's first queries)
            tailor.render(template, **_send(recipient={"id": grown_docs[0]["id"]}, at=AT, record_exposure=False))
        times = []
        for i, doc in enumerate(grown_docs):
            started = clock()
            try:
                with collecting_fallbacks():
                    tailor.render(template, **_send(recipient={"id": doc["id"]}, at=AT, send_id=f"size-{i}"))
            except Exception:  # not sendable: not a send
                continue
            times.append(clock() - started)
        tailor.store.close()
        store.close()
    return times


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="newsletter")
    parser.add_argument("--sizes", default="10,1000,10000", help="events per profile, comma-separated")
    parser.add_argument("--recipients", type=int, default=60)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall time, or this thread's CPU time")
    parser.add_argument("--no-store", action="store_true", help="time the profile documents only")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.thread_time
    sizes = [int(s) for s in args.sizes.split(",")]

    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    recommender = RecommendationService(
        catalog, fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog)
    )
    tailor = Tailor(ROOT / "templates", ROOT / "rules", recommender=recommender)
    tailor.warm()
    pool = shop_track_events()
    docs = [d for d in profile_documents(args.recipients * 3) if d["consents"]["personalization"] and d["events"]]
    docs = docs[: args.recipients]
    # the store path renders the fixture's own people (profile_documents numbers its repeats)
    people = {doc["id"].rsplit("-", 1)[0]: doc for doc in docs}

    with collecting_fallbacks():  # the first render pays one-time costs (locale data, dense model rows)
        tailor.render(args.template, profile=docs[0], at=AT, explain=False)
    rows: dict[str, dict[int, list[float]]] = {"document": {}, "store": {}}
    for size in sizes:
        rng = random.Random(size)
        times = []
        for doc in docs:
            profile = grown(doc, size, pool, rng)
            started = clock()
            try:
                with collecting_fallbacks():
                    tailor.render(args.template, profile=profile, at=AT, explain=False)
            except Exception:  # not sendable: not a send
                continue
            times.append(clock() - started)
        rows["document"][size] = times
        if not args.no_store:
            rng = random.Random(size)
            stored = [grown({**doc, "id": person}, size, pool, rng) for person, doc in people.items()]
            rows["store"][size] = store_times(args.template, recommender, stored, clock)
    print(f"template {args.template!r}, {len(docs)} recipients per size, {args.clock} clock")
    print()
    print("| path | events per profile | p50 | p99 | p99 ÷ p99 at the smallest size |")
    print("|---|---:|---:|---:|---:|")
    for path, by_size in rows.items():
        if not by_size:
            continue
        base = percentile(by_size[sizes[0]], 0.99)
        for size, times in by_size.items():
            p50, p99 = percentile(times, 0.5) * 1e3, percentile(times, 0.99) * 1e3
            print(f"| {path} | {size:,} | {p50:,.2f} ms | {p99:,.2f} ms | {p99 / (base * 1e3):.2f}× |")


if __name__ == "__main__":
    main()
