"""Rendering speed: tailor vs the naive per-recipient pipeline vs a bare Jinja render.

Renders one template (default: the newsletter) for N fixture profiles (default 2,000)
three ways in the same run and prints per-email medians and their ratios:

  (a) tailor       — the compiled template's per-recipient render (subject, preheader,
                     every slot block, HTML and text), in the sandbox; also the full
                     Tailor.render (features, triggers, recommendations, rules) as (a+):
                     from a profile document, with and without the decision explanation,
                     and as a send from the store (the shop ingested into SQLite, and into
                     PostgreSQL with --postgres URL): recipient looked up by id,
                     suppressions checked, exposures recorded — once writing them in
                     the render, once as `tailor serve` does (journaled, written by a
                     thread; suppressions from memory), recipient by recipient side by side
  (b) naive        — what a user writes by hand: Jinja → mjml2html → premailer, per recipient
  (c) floor        — a bare jinja2 render of the finished HTML (autoescape, no sandbox)

    python benchmarks/render.py [--template newsletter] [--profiles 2000] [--naive 300]
                                [--postgres postgresql+psycopg://postgres@127.0.0.1/test] [--clock cpu]

The naive pipeline takes tens of ms per email, so it is measured on --naive recipients.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tailor import Tailor  # noqa: E402
from tailor.recommendations import RecommendationService  # noqa: E402
from tailor.recommendations.training import fit_models, read_catalog_file, read_events_file  # noqa: E402
from tailor.rendering.compiler import PAGE, PageParts, slot_placeholder  # noqa: E402
from tailor.rendering.environment import shown  # noqa: E402
from tailor.rendering.fallbacks import collecting_fallbacks  # noqa: E402
from tailor.rendering.filters import FILTERS  # noqa: E402
from tailor.rendering.formatting import formatting_as  # noqa: E402
from tailor.rendering.mjml import compile_mjml  # noqa: E402
from tailor.rendering.naive import render_naive  # noqa: E402

AT = "2026-11-23T12:00:00Z"

#: the clock every row is timed with: wall (``perf_counter``) or this thread's CPU time
#: (``--clock cpu``: on a machine shared with other work, time spent waiting for a core is
#: not counted; the database server's own time on another core is not counted either)
clock = time.perf_counter


def profile_documents(limit: int) -> list[dict]:
    """Fixture profiles as profile documents with their events, repeated up to ``limit``."""
    events = defaultdict(list)
    with open(ROOT / "fixtures" / "events.jsonl", encoding="utf-8") as fh:
        for line in fh:
            event = json.loads(line)
            if event.get("userId") and event.get("type") == "track":
                events[event["userId"]].append(event)
    docs = []
    with open(ROOT / "fixtures" / "profiles.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            docs.append(
                {
                    "id": row["user_id"],
                    "email": row["email"],
                    "traits": {
                        k: row[k]
                        for k in ("first_name", "last_name", "city", "country", "locale", "timezone", "created_at")
                        if row.get(k)
                    },
                    "consents": {
                        k: row[f"consent_{k}"] == "true" for k in ("personalization", "tracking", "email_marketing")
                    },
                    "events": events.get(row["user_id"], []),
                }
            )
    out = []
    while len(out) < limit:
        for doc in docs:
            if len(out) == limit:
                break
            out.append({**doc, "id": f"{doc['id']}-{len(out)}"})
    return out


def _send(**kwargs: object) -> dict[str, object]:
    """The keywords of a send: no decision explanation (older code, measured side by side, has no such switch)."""
    return {**kwargs, "explain": False} if "explain" in inspect.signature(Tailor.render).parameters else kwargs


#: the goals of issue #15, as ratios to the floor measured in the same run
GOALS = {"HTML part": 1.2, "every part": 1.5, "SQLite": 3.0, "PostgreSQL": 4.0}

#: where a send's time goes: (label, source file, function) whose cumulative time is the stage's
#: (``a|b``: whichever of those functions the code has)
STAGES = [
    # a send's read (``load_send_profile``; older code: ``load_profile``)
    ("store lookup: the profile and its events", "tailor/store/store.py", "load_send_profile|load_profile"),
    ("profile validation", "tailor/profile.py", "validate_profile"),
    ("sendable: suppressions and consent", "tailor/core.py", "_check_sendable"),
    ("features", "tailor/features/single.py", "compute_features"),
    ("triggers", "tailor/triggers/evaluate.py", "evaluate_triggers"),
    ("recommendations", "tailor/core.py", "_recommend"),
    ("rule decisions", "tailor/rules/book.py", "decide"),
    ("content: every part of the email", "tailor/rendering/compiler.py", "render"),
    ("send records (journaled)", "tailor/core.py", "_log_send"),
]


def send_stages(tailor: Tailor, template: str, ids: list[str]) -> list[tuple[str, float]]:
    """Each stage's share of a send's time, from one profiled pass over ``ids`` (the gap's cause).

    cProfile's cumulative time per stage function over the time of ``Tailor.render``; the
    rest (context building, segments, experiments, the email object) is "everything else".
    The profiler's own cost per call inflates call-heavy stages (content, rules) somewhat:
    read these as shares, and the timed rows above as the cost.
    """
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    for i, user in enumerate(ids):
        profiler.enable()
        try:
            with collecting_fallbacks():
                tailor.render(template, **_send(recipient={"id": user}, at=AT, send_id=f"stages-{i}"))
        except Exception:  # not sendable: not a send
            pass
        profiler.disable()
    entries = pstats.Stats(profiler).stats

    def cumulative(path: str, functions: str) -> float:
        names = functions.split("|")
        return max(
            (ct for (file, _, name), (_, _, _, ct, _) in entries.items() if name in names and file.endswith(path)),
            default=0.0,
        )

    total = cumulative("tailor/core.py", "render")
    shares = [(label, cumulative(path, function) / total) for label, path, function in STAGES]
    return [*shares, ("everything else", 1.0 - sum(share for _, share in shares))]


def store_send_times(
    url: str | None,
    template: str,
    recommender: RecommendationService,
    floor_render: Any = None,
    stages: list[tuple[str, float]] | None = None,
) -> dict[str, list[float]]:
    """Per-send times of ``Tailor.render`` by recipient id from a store holding the example shop.

    Two tailors over the store, timed recipient by recipient side by side: ``"render"``
    writes each send's records in the render (the CLI, campaigns, the Python API) and
    ``"served"`` as ``tailor serve`` does (``Tailor.serve_sends``: records journaled and
    inserted by a background thread, whose CPU time this thread's clock does not count;
    suppressions from memory). Code without ``serve_sends`` times ``"render"`` only.
    ``url`` None: a fresh SQLite file. A PostgreSQL URL: in a schema of its own, dropped after.
    ``floor_render``: also timed once per recipient, between the sends (``"floor"``), so the
    sends are read against a floor measured in the same minutes (a shared VM's speed drifts).
    ``stages``: filled with each stage's share of a served send (``send_stages``), after the timing.
    """
    import uuid

    from sqlalchemy import create_engine, text

    from tailor.config import Settings
    from tailor.store import Store

    schema, admin = None, None
    with tempfile.TemporaryDirectory() as tmp:
        if url is None:
            url = f"sqlite:///{tmp}/bench.db"
        else:
            schema = f"tailor_bench_{uuid.uuid4().hex[:12]}"
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{url}?options=-csearch_path%3D{schema}"
        store = Store(url)
        store.migrate()
        for name in ("catalog.csv", "profiles.csv", "events.jsonl"):
            store.ingest_file(ROOT / "fixtures" / name)
        with open(ROOT / "fixtures" / "profiles.csv", encoding="utf-8") as fh:
            ids = [row["user_id"] for row in csv.DictReader(fh)]
        tailors = {"render": Tailor(ROOT / "templates", ROOT / "rules", url, recommender=recommender)}
        if hasattr(Tailor, "serve_sends"):
            settings = Settings().with_values(send_journal=f"{tmp}/send-journal")
            served = Tailor(ROOT / "templates", ROOT / "rules", url, recommender=recommender, settings=settings)
            served.serve_sends()
            tailors["served"] = served
        times: dict[str, list[float]] = {name: [] for name in tailors}
        if floor_render is not None:
            times["floor"] = []
        for tailor in tailors.values():
            tailor.warm()
        for i, user in enumerate(ids):
            for name, tailor in tailors.items():
                started = clock()
                try:
                    with collecting_fallbacks():
                        tailor.render(template, **_send(recipient={"id": user}, at=AT, send_id=f"{name}-{i}"))
                except Exception:  # not sendable (consent, suppression): not a send
                    continue
                times[name].append(clock() - started)
            if floor_render is not None:
                started = clock()
                floor_render(i)
                times["floor"].append(clock() - started)
        if stages is not None:
            stages.extend(send_stages(tailors.get("served", tailors["render"]), template, ids))
        for tailor in tailors.values():
            if hasattr(tailor, "close_sends"):
                tailor.close_sends()
            tailor.store.close()
        store.close()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    return times


def floor_template(compiled: Any) -> jinja2.Template:
    """(c) the floor: the finished HTML (default blocks in place) as a plain Jinja template."""
    finished = compiled.html_source
    for slot, blocks in compiled.slots.items():
        finished = finished.replace(slot_placeholder(slot), blocks.sources[blocks.default])
    floor_env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT / "templates")), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    floor_env.filters.update(FILTERS)
    # the compiled source prints every value through `shown` (a null prints nothing, and says where)
    floor_env.filters["shown"] = shown
    return floor_env.from_string(finished)


def shop_recommender() -> RecommendationService:
    """The example shop's recommendation models, fitted on its events (what a send from its store uses)."""
    catalog = read_catalog_file(ROOT / "fixtures" / "catalog.csv")
    return RecommendationService(catalog, fit_models(read_events_file(ROOT / "fixtures" / "events.jsonl"), catalog))


def floor_us(template: str = "newsletter", profiles: int = 300) -> float:
    """The median floor render of ``template`` (µs, this process's clock), for other benchmarks' ratios.

    With the shop's recommendations, as ``main`` renders it: without them the newsletter
    hides its product grid and the floor would be a quarter of the email that is served.
    """
    tailor = Tailor(ROOT / "templates", ROOT / "rules", recommender=shop_recommender())
    prepared = []
    for doc in profile_documents(profiles):
        try:
            with collecting_fallbacks():
                prepared.append(tailor.prepare(template, profile=doc, at=AT))
        except Exception:
            continue
    compiled = tailor.compile(template)
    floor = floor_template(compiled)
    samples = []
    for p in prepared:
        page = PageParts("", "", p.formatting.lang, p.formatting.direction, {}, {})
        with collecting_fallbacks(), formatting_as(replace(p.formatting, utm=compiled.utm)):
            started = clock()
            floor.render({**p.context, PAGE: page})
            samples.append(clock() - started)
    return median_us(samples)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="newsletter")
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--naive", type=int, default=300)
    parser.add_argument("--postgres", help="also time sends from a PostgreSQL store (URL; in a schema of its own)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall time, or this thread's CPU time")
    args = parser.parse_args()
    global clock
    clock = time.perf_counter if args.clock == "wall" else time.thread_time

    recommender = shop_recommender()
    tailor = Tailor(ROOT / "templates", ROOT / "rules", recommender=recommender)
    docs = profile_documents(args.profiles)

    # everything before the content, once per recipient (shared by a, b and c); this pass also warms every cache
    prepared, sendable = [], []
    for doc in docs:
        try:
            with collecting_fallbacks():
                tailor.render(args.template, **_send(profile=doc, at=AT))
        except Exception:
            continue
        sendable.append(doc)
        with collecting_fallbacks():
            prepared.append(tailor.prepare(args.template, profile=doc, at=AT))
    compiled = prepared[0].compiled

    floor = floor_template(compiled)
    utm = compiled.utm

    def floor_render(i: int) -> None:
        p = prepared[i % len(prepared)]
        # the floor's page reads the subject and <html lang> like ours; its slots are already filled
        page = PageParts("", "", p.formatting.lang, p.formatting.direction, {}, {})
        with collecting_fallbacks(), formatting_as(replace(p.formatting, utm=utm)):
            floor.render({**p.context, PAGE: page})

    # every row timed recipient by recipient in one loop, so a drift of the machine's speed
    # (a shared VM's floor moved 230 -> 760 µs within an hour) moves every row alike
    full_times, explained_times, ours, ours_html, bare = [], [], [], [], []
    for i, (doc, p) in enumerate(zip(sendable, prepared, strict=True)):
        ctx, formatting = p.context, p.formatting
        with collecting_fallbacks():
            started = clock()
            tailor.render(args.template, **_send(profile=doc, at=AT))
            full_times.append(clock() - started)
            started = clock()
            tailor.render(args.template, profile=doc, at=AT)
            explained_times.append(clock() - started)
            # the two content rows take turns going first: the one right after the full renders
            # above finds the CPU caches cold, the other warm (on a loaded VM that alone moved
            # "every part" 0.2-0.4× of the floor against "HTML part")
            rows = [(ours, True), (ours_html, False)]
            for times, text in rows if i % 2 == 0 else rows[::-1]:
                started = clock()
                compiled.render(ctx, p.blocks, text=text, formatting=formatting)
                times.append(clock() - started)
        started = clock()
        floor_render(i)
        bare.append(clock() - started)

    naive = []
    for p in prepared[: args.naive]:
        with collecting_fallbacks():
            started = clock()
            render_naive(
                tailor.compiler,
                args.template,
                p.context,
                p.blocks,
                mjml=compile_mjml,
                inliner="premailer",
                utm=utm,
                formatting=p.formatting,
            )
            naive.append(clock() - started)

    stores = {"SQLite": None} if args.postgres is None else {"SQLite": None, "PostgreSQL": args.postgres}
    stages: dict[str, list[tuple[str, float]]] = {name: [] for name in stores}
    sends = {
        name: store_send_times(url, args.template, recommender, floor_render, stages[name])
        for name, url in stores.items()
    }

    a, b, c, full = median_us(ours), median_us(naive), median_us(bare), median_us(full_times)
    explained = median_us(explained_times)
    a_html = median_us(ours_html)
    size = len(compiled.render(prepared[0].context, prepared[0].blocks).html) / 1024
    print(
        f"template {args.template!r} ({size:.1f} KB of HTML), "
        f"{len(prepared)} recipients ({len(naive)} for the naive pipeline), {args.clock} clock"
    )
    print()
    print("| pipeline | median per email | vs floor | naive ÷ this | goal (#15) |")
    print("|---|---:|---:|---:|---|")

    def row(what: str, us: float, floor_us: float, goal: float | None = None) -> None:
        ratio = us / floor_us
        verdict = "" if goal is None else f"≤ {goal:g}×: {'met' if ratio <= goal else 'not met'}"
        print(f"| {what} | {us:,.0f} µs | {ratio:.2f}× | {b / us:,.0f}× | {verdict} |")

    row("(c) bare Jinja render of the finished HTML (floor)", c, c)
    row("(a) tailor, HTML part: subject, preheader, slot blocks, page", a_html, c, GOALS["HTML part"])
    row("(a) tailor, every part: the above + the plain-text part", a, c, GOALS["every part"])
    row("(a+) tailor: full render (profile, features, triggers, recs, rules, content)", full, c)
    row("(a+) the same with the decision explanation (`explain`)", explained, c)
    served: dict[str, float] = {}
    for name, by_path in sends.items():
        # against the floor timed between these sends (same minutes), not the floor above
        store_floor = median_us(by_path.pop("floor"))
        for path, times in by_path.items():
            send = median_us(times)
            what = (
                "lookup, suppressions, the above, exposures"
                if path == "render"
                else "as served: records journaled, suppressions in memory"
            )
            served[name] = send / store_floor
            row(f"(a+) a send from the {name} store: {what}", send, store_floor, GOALS[name])
    row("(b) naive: Jinja → mjml2html → premailer per recipient", b, c)
    for name, shares in stages.items():
        # the gap's cause: each stage's share of a served send, in floors
        print()
        print(f"Where a send from the {name} store goes (one profiled pass; share of a send; × floor as served):")
        print()
        print("| stage | share | ≈ × floor |")
        print("|---|---:|---:|")
        for label, share in shares:
            print(f"| {label} | {share:.0%} | {share * served[name]:.2f}× |")


if __name__ == "__main__":
    main()
