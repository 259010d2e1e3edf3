"""The render context: one typed value for what a recipient's templates and rule conditions see.

A render flows request → profile → features → triggers → segments → recs → decisions →
content. This module is the step where the recipient side of that flow is finished — a
profile document and a send time become ``profile``, ``triggers``, ``segments``, ``recs``,
``now`` and the formatting locale, time zone and currency — and handed, as one
:class:`RenderContext`, to the two consumers that follow: the rules (``book.decide``,
which sees :meth:`RenderContext.condition_names`) and the renderer (which sees
:meth:`RenderContext.as_template_vars`). It sits at the top of the package, beside
``profile.py``, because it joins pieces of several packages (features, triggers, rules'
segments, rendering's locale and time zone) and belongs to none of them; and it needs no
store, no recommender and no ``Tailor``, so the rules tests, the studio (through
``Tailor.render``), ``Tailor.segments_of`` and every send build a recipient's context with
the same code — there is no second path for tests to exercise.

Consent decides here, once: without ``personalization`` consent the events are not read,
so no features, triggers or behavioural segments exist; the profile's own traits always win
over computed features of the same name (``tailor.profile.template_profile``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from tailor.profile import template_profile
from tailor.rendering.formatting import Formatting
from tailor.vocabulary.consent import consent
from tailor.vocabulary.products import DEFAULT_CURRENCY, currency_of

#: features → recommended products (``Tailor`` passes its recommender; tests pass nothing)
Recommend = Callable[[Mapping[str, Any]], list[dict[str, Any]]]


@dataclass
class RenderContext:
    """Everything one recipient's email is rendered and decided with."""

    #: traits, computed features, id, email and consents (traits win over features)
    profile: dict[str, Any]
    #: trigger name → ``TriggerState.as_dict()`` (empty without personalization consent)
    triggers: dict[str, dict[str, Any]]
    #: segment names, cluster labels first
    segments: list[str]
    #: recommended products (empty when the template shows none)
    recs: list[dict[str, Any]]
    #: the ESP's send-time data (``context`` in templates)
    context: dict[str, Any]
    #: the send time in the recipient's time zone
    now: datetime
    #: Babel locale identifier numbers and dates are formatted in
    locale: str
    timezone: tzinfo
    #: the email's one currency: the send context's, else its products', else the settings default
    currency: str
    #: personalization consent: behavioural rules are skipped without it
    personalized: bool
    #: the computed features on their own (the recommender uses them)
    features: dict[str, Any] = field(default_factory=dict)
    #: variables set by the winning rules and the experiment variants (``set:``)
    variables: dict[str, Any] = field(default_factory=dict)

    def condition_names(self) -> dict[str, Any]:
        """The names rule conditions and segments are evaluated with (``rules.CONTEXT_NAMES``)."""
        return {
            "profile": self.profile,
            "triggers": self.triggers,
            "context": self.context,
            "now": self.now,
            "segments": self.segments,
            "recs": self.recs,
        }

    def as_template_vars(self) -> dict[str, Any]:
        """The mapping templates render with: the condition names, then ``set:`` variables."""
        return {**self.condition_names(), **self.variables}

    @property
    def formatting(self) -> Formatting:
        """What the filters format with (``CompiledTemplate.render(..., formatting=)``)."""
        return Formatting(locale=self.locale, timezone=self.timezone, currency=self.currency)


def build_render_context(
    document: Mapping[str, Any],
    at: datetime,
    book: Any = None,
    *,
    catalog: Mapping[str, dict[str, Any]] | None = None,
    esp_context: Mapping[str, Any] | None = None,
    recommend: Recommend | None = None,
    default_currency: str = DEFAULT_CURRENCY,
) -> RenderContext:
    """profile → features → triggers → segments → recs for a validated profile ``document``.

    ``at`` is the send time (aware); ``book`` the rules (their triggers and segments; none
    without it); ``catalog`` the product index features and triggers look products up in;
    ``recommend`` is called with the features once segments are known (segments never see
    recommendations). The time zone and locale are resolved in that order around it, so the
    fallbacks they record (unknown zone or locale) keep their place in the email's list.
    The email's currency is the send context's ``currency``, else the one its products
    (recommendations, trigger items, an order in the send context) share, else
    ``default_currency`` (``Settings.currency``).
    """
    from tailor.features import compute_features
    from tailor.rendering.filters import resolve_locale, resolve_timezone
    from tailor.triggers import evaluate_triggers
    from tailor.vocabulary.timeline import build_timeline

    personalized = consent(document, "personalization")
    events = list(document.get("events") or []) if personalized else []
    traits = document.get("traits") or {}
    # the events read once, in time order, for both features and triggers
    timeline = build_timeline(events, at) if personalized else None
    features = compute_features(events, at, catalog=catalog, traits=traits, timeline=timeline) if personalized else {}
    profile = template_profile(document, features)
    zone = resolve_timezone(profile.get("timezone"))
    specs = book.triggers if book is not None else {}
    triggers = evaluate_triggers(specs, events, at, catalog=catalog, timeline=timeline) if personalized else {}
    esp = dict(esp_context or {})
    ctx = RenderContext(
        profile=profile,
        triggers={name: state.as_dict() for name, state in triggers.items()},
        segments=[],
        recs=[],
        context=esp,
        now=at.astimezone(zone),
        locale="",
        timezone=zone,
        currency=default_currency,
        personalized=personalized,
        features=features,
    )
    if book is not None:
        ctx.segments = list(book.segments_for(ctx.condition_names(), personalized=personalized))
    if recommend is not None:
        ctx.recs = list(recommend(features))
    ctx.locale = resolve_locale(profile.get("locale"))
    items = [item for state in ctx.triggers.values() for item in state.get("items") or ()]
    priced = [*ctx.recs, *items, *(value for value in esp.values() if isinstance(value, Mapping))]  # e.g. an order
    ctx.currency = str(esp.get("currency") or currency_of(priced) or default_currency).upper()
    return ctx
