"""Coverage personas: the fewest profile documents that reach every rule, abort, block and fallback.

``tailor personas generate`` builds a list of *targets* from the rule book — every slot rule
winning its slot, every abort rule firing, every slot's default and every experiment
variant's block being chosen — and from the templates and the fallback catalogue: every
declared fallback some data at a place a template uses it (:mod:`tailor.preview.fallback_sites`),
send context or declared service fault (:mod:`tailor.preview.faults`) makes a render take.
For each, the requirements that reach it (:mod:`tailor.rules.solver`, from the conditions'
ASTs: a rule wins when its condition is true, every higher-priority rule of its slot is not,
and no abort rule fires).

Requirements become profile documents: profile paths become traits (traits win over
computed features, SPEC "The profile document"), active triggers become the events their
declaration asks for, ``context.*`` paths the persona's send-time ``context``, and an
experiment variant a recipient id that hashes into it. Every candidate is then *measured*:
rendered with :meth:`Tailor.render` for every template (the production context builder
and decision code; nothing is decided here), and only what the render shows counts.

The set is built greedily (first fit): each target not yet reached is merged into the
first persona that still reaches everything it did with it, else it starts a new persona.
That is not guaranteed minimal, but small; targets nothing reaches are reported as dead,
with the reason the solver found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from tailor.core import Tailor, parse_at
from tailor.email import RenderAborted, TailorError
from tailor.preview.fallback_sites import Site, fallback_sites
from tailor.preview.faults import FAULTS, persona_faults, with_faults
from tailor.preview.personas import persona_sets, read_personas, send_context
from tailor.problems import Problem
from tailor.rendering.fallbacks import REASONS
from tailor.rendering.source import block_file
from tailor.rules.solver import UNSET, Predicate, Requirement, Solver, Want, choose_value, conjoin

#: the id prefix of generated personas (files with another id in the folder are left alone)
ID_PREFIX = "coverage-"
#: tried for each experiment variant, to find a recipient id the variant is assigned to
MAX_ID_TRIES = 2000
#: what a generated trigger event is about (a product of no catalog: the personas must not depend on a store)
PLACEHOLDER_PRODUCT = {
    "product_id": "sku-coverage",
    "sku": "sku-coverage",
    "name": "Coverage test product",
    "price": 10.0,
    "currency": "USD",
    "url": "https://example.com/p/sku-coverage",
    "image_url": "https://example.com/img/sku-coverage.jpg",
}

#: profile data the render itself reads (not a template) that sends it down a fallback path
FALLBACK_PROBES: dict[str, dict[str, Any]] = {
    "no personalization consent": {"profile.consents.personalization": False},
    "unknown locale": {"profile.locale": "zz_ZZ"},
    "unknown time zone": {"profile.timezone": "Nowhere/Atlantis"},
    "no traits at all": {},
}

#: why a fallback no site, probe or fault reaches is out of a persona's reach
NOT_A_PERSONA = {
    "anonymous": "a persona is a recipient: only a render without one (POST /v1/render with no recipient) takes it",
    "unknown-recipient": "a persona is a profile document, never looked up in the store: only a render "
    "by recipient id that the store does not have takes it",
}
#: what a template would have to do for a fallback to be reachable (when none does)
NO_SITE = {
    "null-value": "no template prints profile, context or trigger data without default(…, true)",
    "missing-number": "no template passes profile, context or trigger data to money, number or percent",
    "bad-number": "no template passes profile, context or trigger data to money, number or percent",
    "bad-date": "no template passes profile, context or trigger data to a date or datetime filter",
    "bad-currency": "no template passes a currency from profile, context or trigger data to money",
    "other-currency": "no template passes a currency from profile, context or trigger data to money",
    "block-failed": "no slot block computes with profile, context or trigger data",
    "undefined-variable": "every name the templates print is defined, defaulted or guarded "
    "(`tailor check` names one that is not)",
    "bad-argument": "no template gives number() a digits argument out of range",
    "bad-currency-format": "no template gives money() a format it does not know",
    "unknown-block": "every block a rule or experiment chooses is compiled into the templates with its slot",
    "slot-hidden": "every slot's default block renders whatever the data",
}

Key = tuple[str, str]


@dataclass
class Target:
    """Something a persona must reach.

    Keys: ``("rule", id)``, ``("abort", id)``, ``("block", name)``, ``("fallback", reason)``.
    """

    key: Key
    label: str
    requirements: list[Requirement]
    #: (experiment, variant) the recipient id must be assigned to
    variant: tuple[str, str] | None = None
    where: str = ""
    #: for a slot rule: what makes its condition true, whatever else wins (explains a shadowed rule)
    matching: list[Requirement] = field(default_factory=list)
    #: the declared service fault (:mod:`tailor.preview.faults`) the persona is rendered under
    fault: str | None = None


@dataclass
class Persona:
    name: str
    requirement: Requirement
    variant: tuple[str, str] | None
    document: dict[str, Any]
    reached: set[Key]
    #: the targets this persona was built for, in order
    targets: list[Target] = field(default_factory=list)
    fault: str | None = None


@dataclass
class DeadTarget:
    target: Target
    reasons: list[str]

    def __str__(self) -> str:
        where = f"{self.target.where}: " if self.target.where else ""
        return f"{where}{self.target.label} can never be reached: {'; '.join(self.reasons)}"


@dataclass(frozen=True)
class Unreached:
    """A declared fallback reason no persona can make a render of this project take, and why."""

    reason: str
    why: str

    def __str__(self) -> str:
        return f"fallback {self.reason!r} ({REASONS[self.reason].cause}) cannot be reached: {self.why}"


@dataclass
class Generated:
    at: datetime
    personas: list[Persona]
    dead: list[DeadTarget]
    #: block files no rule, default or experiment can choose
    unused_blocks: list[str]
    #: fallback reasons no persona can reach, with why
    unreached: list[Unreached] = field(default_factory=list)


# -- targets -------------------------------------------------------------------------------


def build_targets(tailor: Tailor) -> list[Target]:
    """Every rule, abort, default block and experiment block of the shop, with its requirements."""
    book = tailor.rulebook
    solver = solver_for(book)
    no_abort = conjoin(*(solver.solve(r.condition, Want.NOT_TRUE) for r in book.abort_rules))
    targets: list[Target] = []
    for index, abort in enumerate(book.abort_rules):
        earlier = [solver.solve(r.condition, Want.NOT_TRUE) for r in book.abort_rules[:index]]
        requirements = conjoin(solver.solve(abort.condition, Want.TRUE), *earlier)
        targets.append(Target(("abort", abort.id), f"abort rule {abort.id!r}", requirements, where=str(abort.origin)))
    defaults: dict[str, list[Requirement]] = {}
    for slot, slot_rules in book.slots.items():
        losers: list[list[Requirement]] = []
        for rule in slot_rules.rules:
            matching = conjoin(solver.solve(rule.condition, Want.TRUE), no_abort)
            requirements = conjoin(solver.solve(rule.condition, Want.TRUE), *losers, no_abort)
            label = f"rule {rule.id!r} ({slot})"
            targets.append(Target(("rule", rule.id), label, requirements, where=str(rule.origin), matching=matching))
            losers.append(solver.solve(rule.condition, Want.NOT_TRUE))
        defaults[slot] = conjoin(*losers, no_abort)
        if slot_rules.default:
            targets.append(
                Target(
                    ("block", slot_rules.default),
                    f"default block {slot_rules.default!r}",
                    defaults[slot],
                    where=str(slot_rules.origin),
                )
            )
    for experiment in tailor.experiments.values():
        for variant in experiment.variants:
            for slot, block in variant.blocks.items():
                base = no_abort if experiment.override_rules else defaults.get(slot, no_abort)
                targets.append(
                    Target(
                        ("block", block),
                        f"block {block!r} of experiment {experiment.name!r} variant {variant.name!r}",
                        base,
                        variant=(experiment.name, variant.name),
                        where=_experiment_origin(tailor.rules_dir, experiment.name),
                    )
                )
    return _first_per_key(targets)


def solver_for(book: Any) -> Solver:
    """A solver that knows the book's segments, triggers and clustering labels."""
    learned = [label for cluster in book.clusters.values() for label in getattr(cluster, "labels", [])]
    return Solver({n: s.condition for n, s in book.segments.items()}, book.triggers, learned)


def fallback_targets(tailor: Tailor, at: datetime) -> tuple[list[Target], list[Unreached]]:
    """A target per declared fallback reason some data, send context or fault makes a render take,
    and the reasons none does.

    Candidates, in order: the profile data the render itself reads (:data:`FALLBACK_PROBES`),
    the places the templates use data (:func:`~tailor.preview.fallback_sites.fallback_sites`;
    a site in a slot block with what makes a rule choose that block) and the declared faults
    (:data:`~tailor.preview.faults.FAULTS`). Each data candidate is rendered; a reason counts
    as reachable when a render took it.
    """
    book = tailor.rulebook
    solver = solver_for(book)
    no_abort = conjoin(*(solver.solve(r.condition, Want.NOT_TRUE) for r in book.abort_rules))
    candidates: list[tuple[str, Requirement, str, str | None]] = [
        (label, Requirement(tuple(_equals(path, value) for path, value in values.items())), "", None)
        for label, values in FALLBACK_PROBES.items()
    ]
    sites = fallback_sites(tailor, tailor.settings.currency)
    choosing = _choosing(tailor)
    for site in sites:
        probe = Requirement(
            (_equals(site.path, site.value), *(_equals(path, value) for path, value in site.guards)),
            _trigger_of(site.path),
        )
        for chosen in choosing.get(site.block, [Requirement()]) if site.block else [Requirement()]:
            candidates.append(
                (f"{site.path} = {site.value!r} in {site.label}", probe & chosen, site.where, site.reason)
            )
    targets: list[Target] = []
    found: set[str] = set()
    for label, probe, where, reason in candidates:
        if reason in found:
            continue
        for requirement in conjoin([probe], no_abort):
            document = realize(requirement, f"{ID_PREFIX}probe", at, triggers=book.triggers)
            if document is None:
                continue
            for kind, taken in sorted(measure(tailor, document, at)):
                if kind == "fallback" and taken not in found:
                    found.add(taken)
                    targets.append(
                        Target(("fallback", taken), f"fallback {taken!r} ({label})", [requirement], where=where)
                    )
            break
    for fault in FAULTS.values():
        for reason in fault.reasons:
            if reason not in found:
                found.add(reason)
                label = f"fallback {reason!r} (fault {fault.name}: {fault.meaning})"
                targets.append(Target(("fallback", reason), label, no_abort, fault=fault.name))
    unreached = [
        Unreached(name, _why_unreached(name, [s for s in sites if s.reason == name], tailor.templates_dir))
        for name in REASONS
        if name not in found
    ]
    return targets, unreached


def _why_unreached(reason: str, tried: list[Site], templates_dir: Path) -> str:
    if reason in NOT_A_PERSONA:
        return NOT_A_PERSONA[reason]
    if tried:
        places = [_relative(s.where, templates_dir) for s in tried]
        shown = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
        return f"no value the data can have at the places the templates use it ({shown}) made a render take it"
    return NO_SITE.get(reason, "no data, send context or declared fault makes a render take it")


def _relative(where: str, templates_dir: Path) -> str:
    """``blocks/hero/cart-reminder.mjml:20:46``: a site's place without the machine's folders."""
    path, line, col = _where(where)
    try:
        return f"{Path(path).resolve().relative_to(templates_dir.resolve())}:{line}:{col}"
    except ValueError:
        return where


def _choosing(tailor: Tailor) -> dict[str, list[Requirement]]:
    """block → what makes a rule (or the slot default) choose it: a block's data is used only then."""
    rule_block = {r.id: r.block for s in tailor.rulebook.slots.values() for r in s.rules}
    found: dict[str, list[Requirement]] = {}
    for target in build_targets(tailor):
        kind, name = target.key
        block = rule_block.get(name) if kind == "rule" else name if kind == "block" and not target.variant else None
        if block:
            found.setdefault(block, []).extend(target.requirements)
    return found


def _trigger_of(path: str) -> tuple[tuple[str, bool], ...]:
    """``triggers.cart_abandonment.items[].price`` needs the trigger active (its events carry the value)."""
    if path.startswith("triggers."):
        return ((path.split(".")[1], True),)
    return ()


def _equals(path: str, value: Any) -> Predicate:
    return Predicate(path, f"{path} == {value!r}", lambda v: v == value and type(v) is type(value), (value,))


def _experiment_origin(rules_dir: Path, name: str) -> str:
    """``rules/experiments.yaml:4:3``: where an experiment is declared (experiments keep no origin)."""
    pattern = re.compile(rf"^(\s+){re.escape(name)}\s*:", re.M)
    for path in sorted(rules_dir.glob("*.y*ml")) if rules_dir.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = pattern.search(text)
        if found and re.search(r"^experiments\s*:", text, re.M):
            return f"{path}:{text.count(chr(10), 0, found.start()) + 1}:{len(found.group(1)) + 1}"
    return str(rules_dir)


def _first_per_key(targets: Iterable[Target]) -> list[Target]:
    found: dict[Key, Target] = {}
    for target in targets:
        found.setdefault(target.key, target)
    return list(found.values())


def unused_blocks(tailor: Tailor) -> list[str]:
    """Block files under ``templates/blocks/`` that no default, rule or experiment variant names."""
    book = tailor.rulebook
    named = {b for slot in book.slots for b in book.blocks_for(slot)}
    named |= {b for e in tailor.experiments.values() for v in e.variants for b in v.blocks.values()}
    root = tailor.templates_dir / "blocks"
    files = sorted(root.glob("*/*.mjml")) + sorted(root.glob("*/*.html")) if root.is_dir() else []
    present = {f"{p.parent.name}/{p.stem}" for p in files}
    return sorted(present - named)


# -- data from requirements ----------------------------------------------------------------


def realize(
    requirement: Requirement,
    person_id: str,
    at: datetime,
    *,
    triggers: Mapping[str, Any],
    explicit: bool = False,
    variant: tuple[str, str] | None = None,
    experiments: Mapping[str, Any] | None = None,
    fault: str | None = None,
) -> dict[str, Any] | None:
    """A profile document (with its send ``context``) meeting ``requirement``, or None if none can.

    ``explicit``: give every constrained path a value, even where leaving it unset would do
    (computed features then cannot contradict the requirement).
    """
    if requirement.impossible:
        return None
    states = requirement.trigger_states()
    if states is None:
        return None
    by_path: dict[str, list[Predicate]] = {}
    for predicate in requirement.predicates:
        by_path.setdefault(predicate.path, []).append(predicate)
    if variant is not None:
        assigned = _id_in_variant(person_id, variant, experiments or {})
        if assigned is None:
            return None
        person_id = assigned
    document: dict[str, Any] = {
        "id": person_id,
        "email": f"{person_id}@example.com",
        "traits": {},
        "consents": {"personalization": True, "tracking": True, "email_marketing": True},
        "events": [],
    }
    context: dict[str, Any] = {}
    #: trigger → what its events' items carry (``triggers.NAME.items[].FIELD`` paths)
    items: dict[str, dict[str, Any]] = {}
    for path, predicates in by_path.items():
        typical = _typical(path, person_id)
        found, value = choose_value([_present(p) for p in predicates], typical) if explicit else (False, None)
        if not found:
            found, value = choose_value(predicates, typical)
        if not found:
            return None
        if path.startswith("triggers."):
            name, _, rest = path.removeprefix("triggers.").partition(".items[].")
            if value is not UNSET:
                _set(items.setdefault(name, {}), rest.split("."), value)
            continue
        _place(document, context, path, value)
    for name, active in sorted(states.items()):
        if active:
            start = len(document["events"])
            document["events"] += _trigger_events(name, triggers, person_id, at, start, items.get(name, {}))
    if context:
        document["context"] = context
    if fault:
        document["faults"] = [fault]
    return document


def _present(predicate: Predicate) -> Predicate:
    return Predicate(predicate.path, predicate.text, predicate.check, predicate.hints, unset_ok=False)


def _typical(path: str, person_id: str) -> Any:
    """A plausible value for a path that only has to be truthy."""
    leaf = path.rsplit(".", 1)[-1]
    if "email" in leaf:
        return f"{person_id}@example.com"
    return True


def _place(document: dict[str, Any], context: dict[str, Any], path: str, value: Any) -> None:
    root, *rest = path.split(".")
    if root == "context":
        _set(context, rest, value)
        return
    if rest == ["email"] or rest == ["id"]:
        if value is UNSET:
            document.pop(rest[0], None)
        else:
            document[rest[0]] = value
        return
    if rest[:1] == ["consents"] and len(rest) == 2:
        if value is not UNSET:
            document["consents"][rest[1]] = bool(value)
        return
    _set(document["traits"], rest, value)


def _set(target: dict[str, Any], keys: list[str], value: Any) -> None:
    """Put ``value`` at ``keys``; a key ``items[]`` is the first item of a list (``context.order.items[].price``)."""
    if value is UNSET:
        return
    for key in keys[:-1]:
        target = target.setdefault(key[:-2], [{}])[0] if key.endswith("[]") else target.setdefault(key, {})
    target[keys[-1]] = value


def _trigger_events(
    name: str,
    specs: Mapping[str, Any],
    person_id: str,
    at: datetime,
    start: int,
    item: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Just enough qualifying events, just past the trigger's quiet time, inside its windows.

    ``item``: what the events' product carries besides the placeholder's fields (a site's value).
    """
    from tailor.triggers import TriggerSpec

    spec: TriggerSpec | None = specs.get(name)
    if spec is None:
        return []
    event_name = sorted(spec.on)[0]
    latest = at - spec.after - timedelta(minutes=5)
    events = []
    for i in range(max(spec.min_count, 1)):
        stamp = latest - timedelta(minutes=i)
        events.append(
            {
                "type": "track",
                "event": event_name,
                "messageId": f"{person_id}-{start + i + 1:03d}",
                "timestamp": stamp.astimezone(at.tzinfo).isoformat().replace("+00:00", "Z"),
                "userId": person_id,
                "properties": {**PLACEHOLDER_PRODUCT, **(item or {})},
            }
        )
    return events


def _id_in_variant(base: str, variant: tuple[str, str], experiments: Mapping[str, Any]) -> str | None:
    from tailor.experiments import assign

    experiment = experiments.get(variant[0])
    if experiment is None:
        return None
    for n in range(MAX_ID_TRIES):
        candidate = base if n == 0 else f"{base}-{n}"
        if assign(experiment, candidate) == variant[1]:
            return candidate
    return None


# -- what a persona reaches ----------------------------------------------------------------


def measure(tailor: Tailor, document: Mapping[str, Any], at: datetime) -> set[Key]:
    """What rendering ``document`` with every template reaches: rules that won, the abort rule
    that fired, blocks rendered and fallbacks taken."""
    reached: set[Key] = set()
    context = send_context(document) or None
    faults = persona_faults(document)
    renderer = with_faults(tailor, faults)
    for template in tailor.template_names():
        try:
            email = renderer.render(template, profile=document, at=at, context=context, record_exposure=False)
        except RenderAborted as exc:
            rule = aborting_rule(exc)
            if rule:
                reached.add(("abort", rule))
            continue
        except TailorError:
            continue
        reached |= {("rule", r) for r in email.winning_rules().values()}
        reached |= {("block", b) for b in email.blocks.values() if b}
        reached |= {("fallback", reason) for reason in _taken(email.fallbacks, faults)}
    return reached


def _taken(fallbacks: Iterable[Mapping[str, Any]], faults: list[str]) -> set[str]:
    """The fallback reasons a render took; a service's only under a declared fault (else they
    follow whatever store the machine has, not the persona)."""
    reasons = {str(f.get("reason")) for f in fallbacks}
    return {r for r in reasons if faults or r not in REASONS or REASONS[r].cause != "service"}


def aborting_rule(exc: RenderAborted) -> str | None:
    """The id of the abort rule behind a refusal (None for consent or suppression)."""
    if exc.rule:
        return None
    for entry in exc.decisions:
        for rule in entry.get("rules", []) if "abort" in entry else []:
            if rule.get("matched"):
                return str(rule.get("id"))
    return None


# -- the greedy cover ------------------------------------------------------------------------


def generate(tailor: Tailor, at: str | datetime | None = None) -> Generated:
    """The coverage personas of ``tailor``'s shop at send time ``at``."""
    moment = parse_at(at)
    fallbacks, unreached = fallback_targets(tailor, moment)
    personas: list[Persona] = []
    dead: list[DeadTarget] = []
    for target in build_targets(tailor) + fallbacks:
        if any(target.key in p.reached for p in personas):
            continue
        placed = _merge(tailor, personas, target, moment) or _alone(tailor, personas, target, moment)
        if placed:
            continue
        if target.key[0] == "fallback":
            unreached.append(Unreached(target.key[1], f"no persona rendered under fault {target.fault} takes it"))
        else:
            dead.append(DeadTarget(target, _why_dead(tailor, target, moment)))
    order = list(REASONS)
    unreached.sort(key=lambda u: order.index(u.reason))
    return Generated(moment, personas, dead, unused_blocks(tailor), unreached)


def _merge(tailor: Tailor, personas: list[Persona], target: Target, at: datetime) -> bool:
    for persona in personas:
        if target.variant and persona.variant and target.variant != persona.variant:
            continue
        if target.fault and persona.fault and target.fault != persona.fault:
            continue  # one fault per persona: each replaces the recommendation service
        variant = target.variant or persona.variant
        fault = target.fault or persona.fault
        for requirement in target.requirements:
            combined = persona.requirement & requirement
            found = _try(tailor, combined, persona.name, variant, at, persona.reached | {target.key}, fault)
            if found is not None:
                persona.requirement, persona.variant, persona.fault = combined, variant, fault
                persona.document, persona.reached = found
                persona.targets.append(target)
                return True
    return False


def _alone(tailor: Tailor, personas: list[Persona], target: Target, at: datetime) -> bool:
    kind, what = target.key
    stem = _slug(what if kind in ("rule", "block") else f"{kind}-{what}")
    taken = {p.name for p in personas}
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    for requirement in target.requirements:
        found = _try(tailor, requirement, name, target.variant, at, {target.key}, target.fault)
        if found is not None:
            personas.append(Persona(name, requirement, target.variant, found[0], found[1], [target], target.fault))
            return True
    return False


def _try(
    tailor: Tailor,
    requirement: Requirement,
    name: str,
    variant: tuple[str, str] | None,
    at: datetime,
    must_reach: set[Key],
    fault: str | None = None,
) -> tuple[dict[str, Any], set[Key]] | None:
    for explicit in (False, True):
        document = realize(
            requirement,
            f"{ID_PREFIX}{name}",
            at,
            triggers=tailor.rulebook.triggers,
            explicit=explicit,
            variant=variant,
            experiments=tailor.experiments,
            fault=fault,
        )
        if document is None:
            return None
        reached = measure(tailor, document, at)
        if must_reach <= reached:
            return document, reached
    return None


def _why_dead(tailor: Tailor, target: Target, at: datetime) -> list[str]:
    winner = _shadowed_by(tailor, target, at)
    if winner:
        return [f"whenever it matches, rule {winner!r} (higher priority) matches too and wins"]
    impossible = sorted({r for req in target.requirements for r in req.impossible})
    if impossible and all(req.impossible for req in target.requirements):
        return impossible
    unsolved = sorted({u for req in target.requirements for u in req.unsolved})
    if unsolved:
        return [f"no data found for {', '.join(unsolved)}"]
    if target.variant:
        return [f"no recipient reaches it in variant {target.variant[1]!r} (a targeted rule may always win)"]
    return ["every candidate profile was decided otherwise (a higher-priority rule or an abort always wins)"]


def _shadowed_by(tailor: Tailor, target: Target, at: datetime) -> str | None:
    """The higher-priority rule that wins when ``target``'s condition alone is made true."""
    book = tailor.rulebook
    slot = next((s for s, rules in book.slots.items() if any(r.id == target.key[1] for r in rules.rules)), None)
    if slot is None:
        return None
    for requirement in target.matching:
        document = realize(requirement, f"{ID_PREFIX}probe", at, triggers=book.triggers)
        if document is None:
            continue
        context = send_context(document) or None
        for template in tailor.template_names():
            try:
                email = tailor.render(template, profile=document, at=at, context=context, record_exposure=False)
            except TailorError:
                continue
            winner = email.winning_rules().get(slot)
            outranked = any(
                c.get("id") == target.key[1] and c.get("matched") is None
                for d in email.slot_decisions
                if d.slot == slot
                for c in d.considered
            )
            if winner and winner != target.key[1] and outranked:
                return winner
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "persona"


# -- writing -----------------------------------------------------------------------------------


def write(generated: Generated, out: Path) -> list[Path]:
    """Write one JSON file per persona and a README table; replaces earlier generated personas."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        try:
            if str(json.loads(old.read_text(encoding="utf-8")).get("id", "")).startswith(ID_PREFIX):
                old.unlink()
        except (OSError, ValueError, AttributeError):
            continue  # not ours to remove
    written = []
    for persona in generated.personas:
        path = out / f"{persona.name}.json"
        path.write_text(json.dumps(persona.document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    (out / "README.md").write_text(readme(generated), encoding="utf-8")
    return written


def readme(generated: Generated) -> str:
    at = generated.at.isoformat().replace("+00:00", "Z")
    lines = [
        "# Coverage personas",
        "",
        "Generated by `tailor personas generate` (do not edit by hand: run it again after changing",
        f"`rules/`). Trigger events are timed for **{at}**: preview with `--at {at}`.",
        "Together these profiles make every rule win its slot, every abort rule fire, every block",
        "render and every fallback below happen; each was verified by rendering every template.",
        "A persona with a fault is rendered with a recommendation service failing that way.",
        "",
        "| persona | built for | rules that win | blocks | fallbacks | fault |",
        "|---|---|---|---|---|---|",
    ]
    for persona in generated.personas:
        built = ", ".join(t.label for t in persona.targets)
        lines.append(
            f"| `{persona.name}` | {built} | {_listed(persona.reached, 'rule', 'abort')} "
            f"| {_listed(persona.reached, 'block')} | {_listed(persona.reached, 'fallback')} "
            f"| {f'`{persona.fault}`' if persona.fault else '—'} |"
        )
    if generated.dead:
        lines += ["", "## Dead rules (no profile can reach them)", ""]
        lines += [f"- {d}" for d in generated.dead]
    if generated.unused_blocks:
        lines += ["", "## Blocks no rule, default or experiment chooses", ""]
        lines += [f"- `{b}`" for b in generated.unused_blocks]
    if generated.unreached:
        lines += ["", "## Fallbacks no persona can reach", ""]
        lines += [f"- `{u.reason}` ({REASONS[u.reason].cause}): {u.why}" for u in generated.unreached]
    return "\n".join(lines) + "\n"


def _listed(reached: set[Key], *kinds: str) -> str:
    found = sorted(f"abort {name}" if kind == "abort" else name for kind, name in reached if kind in kinds)
    return ", ".join(f"`{name}`" for name in found) or "—"


def summary_lines(generated: Generated, written: list[Path]) -> list[str]:
    reached = set().union(*(p.reached for p in generated.personas)) if generated.personas else set()
    rules = sum(1 for kind, _ in reached if kind in ("rule", "abort"))
    blocks = sum(1 for kind, _ in reached if kind == "block")
    fallbacks = sum(1 for kind, _ in reached if kind == "fallback")
    lines = [f"wrote {len(written)} personas: {rules} rules, {blocks} blocks and {fallbacks} fallback reasons reached"]
    for persona in generated.personas:
        lines.append(f"  {persona.name}: built for {', '.join(t.label for t in persona.targets)}")
    for block in generated.unused_blocks:
        lines.append(f"  unused block {block!r}: no rule, default or experiment chooses it")
    for unreached in generated.unreached:
        lines.append(f"  {unreached}")
    return lines


# -- `tailor check --coverage` ---------------------------------------------------------------


def reachable(tailor: Tailor, target: Target, at: datetime) -> bool:
    """Whether some profile reaches ``target`` (the generator's search for it alone)."""
    return _alone(tailor, [], target, at)


def coverage_problems(
    tailor: Tailor,
    personas: Mapping[str, Mapping[str, Any]],
    at: str | datetime | None = None,
    *,
    allow_dead: bool = False,
) -> list[Problem]:
    """Rules no persona makes win, abort rules none fires, blocks none renders, fallbacks none takes.

    A rule no profile at all can reach is a dead rule: an error (a warning with
    ``allow_dead``); one the personas just miss is a warning that names the fix.
    """
    return coverage_report(tailor, personas, at, allow_dead=allow_dead)[0]


def coverage_report(
    tailor: Tailor,
    personas: Mapping[str, Mapping[str, Any]],
    at: str | datetime | None = None,
    *,
    allow_dead: bool = False,
) -> tuple[list[Problem], list[Unreached]]:
    """:func:`coverage_problems`, and the fallback reasons no persona of this project can reach."""
    moment = parse_at(at)
    reached: set[Key] = set()
    for document in personas.values():
        reached |= measure(tailor, document, moment)
    fallbacks, unreached = fallback_targets(tailor, moment)
    problems: list[Problem] = []
    for target in fallbacks:
        if target.key not in reached:
            path, line, col = _where(target.where) if target.where else (str(tailor.templates_dir), 0, 0)
            message = f"{target.label} is never taken by any persona (`tailor personas generate` writes one that is)"
            problems.append(Problem(path, line, col, message, "warning"))
    for target in build_targets(tailor):
        if target.key in reached:
            continue
        path, line, col = _where(target.where)
        if target.key[0] == "block" and target.variant is None and target.key[1] not in _rule_blocks(tailor):
            what = f"{target.label} is never chosen for any persona"
        else:
            what = f"{target.label} is never reached by any persona"
        if reachable(tailor, target, moment):
            problems.append(
                Problem(path, line, col, f"{what} (`tailor personas generate` writes one that is)", "warning")
            )
        else:
            dead = DeadTarget(target, _why_dead(tailor, target, moment))
            severity: Literal["error", "warning"] = "warning" if allow_dead else "error"
            problems.append(Problem(path, line, col, f"dead: {str(dead).removeprefix(target.where + ': ')}", severity))
    book = tailor.rulebook
    for slot_rules in book.slots.values():
        for rule in slot_rules.rules:
            if ("rule", rule.id) in reached and ("block", rule.block) not in reached:
                path, line, col = _where(str(rule.origin))
                message = f"block {rule.block!r} of rule {rule.id!r} never rendered (it failed; the default was used)"
                problems.append(Problem(path, line, col, message, "warning"))
    for block in unused_blocks(tailor):
        where = str(block_file(tailor.templates_dir, block))
        problems.append(Problem(where, 1, 1, f"block {block!r}: no rule, default or experiment chooses it", "warning"))
    return sorted(set(problems)), unreached


def _rule_blocks(tailor: Tailor) -> set[str]:
    return {r.block for s in tailor.rulebook.slots.values() for r in s.rules}


def _where(origin: str) -> tuple[str, int, int]:
    path, _, rest = origin.rpartition(":")
    path, _, line = path.rpartition(":")
    try:
        return path, int(line), int(rest)
    except ValueError:
        return origin, 0, 0


def load_persona_sets(folder: Path) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The personas of ``folder`` and of its sets (``coverage/vip``), and the files skipped."""
    personas, problems = read_personas(folder)
    for name in persona_sets(folder):
        found, skipped = read_personas(folder / name)
        personas.update({f"{name}/{stem}": doc for stem, doc in found.items()})
        problems += skipped
    return personas, problems


__all__ = [
    "Generated",
    "Unreached",
    "build_targets",
    "coverage_problems",
    "coverage_report",
    "generate",
    "measure",
    "realize",
    "write",
]
