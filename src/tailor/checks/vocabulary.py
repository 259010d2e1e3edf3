"""Every name a template can read, and the shape of what it holds.

The render context (``tailor.context``) is the one source of truth for what exists at
send time; this module describes it for ``tailor check`` without rendering anything:
``profile`` (the declared traits of ``rules/profile.yaml``, the computed features, id,
email and consents), ``triggers`` (the declared ones, each a ``TriggerState``),
``segments``, ``recs`` (product cards), ``context`` (the send-time fields a template
declares under ``context:``), ``now``, and the ``set:`` variables of the rules and
experiment variants that can apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tailor.rules.checks import declared_segments
from tailor.rules.conditions import CONTEXT_NAMES
from tailor.rules.loader import Loaded


@dataclass(frozen=True)
class Shape:
    """What a value holds: named fields (a record), items (a list), or anything (open)."""

    #: field name → shape; None means any field may exist (nothing to check)
    fields: Mapping[str, Shape] | None = None
    #: the shape of each item, for lists
    item: Shape | None = None
    #: fields that are null for some recipients (printing them needs a default)
    nullable: frozenset[str] = frozenset()
    #: how a message names it: "profile", "a product", "trigger 'cart_abandonment'"
    what: str = ""
    #: why a field is missing, for the message ("declare it in rules/profile.yaml")
    hint: str = ""
    #: the message for a missing field, ``{name}`` replaced
    absent: str = "{what} has no field {name!r}"
    #: a missing field is an error even where guarded: it can never exist (an undeclared trigger)
    strict: bool = False

    def missing(self, name: str) -> str:
        return self.absent.format(what=self.what, name=name)


OPEN = Shape()


def list_of(item: Shape) -> Shape:
    return Shape(item=item, what=f"a list of {item.what or 'values'}")


@dataclass
class Vocabulary:
    """The names of one shop: built once per ``tailor check`` from the rules and the code."""

    profile: Shape
    triggers: Shape
    product: Shape
    segments: set[str]
    #: False when the declared segments are unknown (nothing to check ``'x' in segments`` against)
    check_segments: bool = True
    #: slot → the ``set:`` variable names its rules can set
    slot_variables: dict[str, set[str]] = field(default_factory=dict)
    #: (experiment templates, experiment slots, variable names) of each experiment
    experiments: list[tuple[Any, set[str]]] = field(default_factory=list)

    @property
    def profile_fields(self) -> list[str] | None:
        """The names a profile can have, or None when the shop declares no profile schema."""
        return list(self.profile.fields) if self.profile.fields is not None else None

    @classmethod
    def open(cls) -> Vocabulary:
        """A vocabulary that knows nothing, so reports nothing (while a rule file is unreadable)."""
        return cls(profile=OPEN, triggers=OPEN, product=OPEN, segments=set(), check_segments=False)

    @classmethod
    def build(cls, loaded: Loaded, experiments: Iterable[Any] = ()) -> Vocabulary:
        product = _product_shape(loaded)
        return cls(
            profile=_profile_shape(loaded),
            triggers=_triggers_shape(loaded, product),
            product=product,
            segments=declared_segments(loaded),
            slot_variables={
                slot: {name for rule in slot_rules.rules for name in rule.set}
                for slot, slot_rules in loaded.slots.items()
            },
            experiments=[(e, {name for v in e.variants for name in v.set}) for e in experiments],
        )

    def top_level(self, template: str, slot_names: list[str], context: Shape, slot: str | None) -> dict[str, Shape]:
        """The names a piece of ``template`` sees: the page (``slot`` None) or a block of ``slot``."""
        names: dict[str, Shape] = {
            "profile": self.profile,
            "triggers": self.triggers,
            "segments": list_of(Shape(what="segment name")),
            "recs": list_of(self.product),
            "context": context,
            "now": OPEN,
        }
        assert set(names) == set(CONTEXT_NAMES)  # the render context and this description agree
        slots = slot_names if slot is None else [slot]
        for name in slots:
            names.update(dict.fromkeys(self.slot_variables.get(name, ()), OPEN))
        for experiment, variables in self.experiments:
            if experiment.applies_to(template, slot_names):
                names.update(dict.fromkeys(variables, OPEN))
        return names


def context_shape(settings: Mapping[str, Any]) -> Shape:
    """``context``: the send-time fields the template declares (``context: [order, cart_url]``)."""
    declared = settings.get("context") or {}
    names = list(declared) if isinstance(declared, (list, Mapping)) else []
    return Shape(
        fields=dict.fromkeys((str(n) for n in names), OPEN),
        what="the send-time context",
        # the same words for every template including a block: one problem per cause
        absent="no send-time field {name!r} is declared",
        hint="declare it under `context:` in the template's settings (templates/<name>.yaml), or give it a default",
    )


def _profile_shape(loaded: Loaded) -> Shape:
    from tailor.features import FEATURE_NAMES, compute_features
    from tailor.profile import template_profile

    if loaded.profile is None:
        return Shape(what="profile")  # no schema declared: any trait may exist
    fields = dict.fromkeys([*loaded.profile, *FEATURE_NAMES, *template_profile({"email": ""}, {})], OPEN)
    # the features someone without any event has as null (days since a purchase that never happened)
    empty = compute_features([], datetime.now(UTC))
    nullable = {name for name, value in empty.items() if value is None}
    nullable |= {name for name, spec in loaded.profile.items() if spec.nullable}
    return Shape(
        fields=fields,
        nullable=frozenset(nullable),
        what="profile",
        absent="no profile has {name!r}",
        hint="profile fields are the traits in rules/profile.yaml and the computed features",
    )


def _triggers_shape(loaded: Loaded, product: Shape) -> Shape:
    from tailor.triggers.state import TriggerState

    state = {name: OPEN for name in TriggerState(name="x").as_dict()}
    state["items"] = list_of(product)
    return Shape(
        fields={name: Shape(fields=state, what=f"trigger {name!r}") for name in loaded.declared_names("trigger")},
        what="triggers",
        absent="no trigger {name!r} is declared",
        strict=True,
        hint="triggers are declared under `triggers:` in rules/",
    )


def _product_shape(loaded: Loaded) -> Shape:
    """A product as templates see it (a recommendation or a trigger's item), plus the declared catalog columns."""
    from tailor.triggers.items import make_item

    fields = dict.fromkeys([*make_item({}), *loaded.product_fields], OPEN)
    return Shape(fields=fields, what="a product", hint="products have the item fields and the catalog's columns")
