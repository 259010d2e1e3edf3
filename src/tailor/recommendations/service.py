"""The provider chain used at render time.

external service → built-in model → popular in the favourite category → global
popular → hidden. Business filters apply to every provider's answer; the first
provider with at least ``min_results`` products left answers. Every step is
recorded in ``RecResult.attempts`` so the trace says why earlier providers did not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..vocabulary.consent import PERSONALIZATION, consent
from ..vocabulary.products import card
from .external import ExternalError, ExternalRecsClient
from .filters import BusinessFilters, FilterOutcome, Verdicts, filters_from, purchased_products
from .interactions import canonical_event, event_product_ids, event_weight, profile_history

if TYPE_CHECKING:
    from .base import Recommender  # scikit-learn: a heavy import a render without models never needs

#: built-in models tried for the "model" step, first one present wins
MODEL_PREFERENCE = ("hybrid", "ease", "itemitem", "content")
#: events sent to the external service (newest first), to keep requests small
MAX_HISTORY_EVENTS = 50


@dataclass
class RecResult:
    """Template-ready products, the provider that answered (None = hide the block) and the trace."""

    products: list[dict[str, Any]]
    provider: str | None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    #: the trained version (artifact folder) of the built-in model that answered, if one did
    version: str | None = None

    @property
    def hidden(self) -> bool:
        return self.provider is None

    def to_dict(self) -> dict[str, Any]:
        found = {"products": self.products, "provider": self.provider, "attempts": self.attempts}
        return {**found, "version": self.version} if self.version else found


#: a provider's answer before filtering: (provider, scored candidates, reason for the trace)
Candidates = tuple[str, list[tuple[str, float]], str]


@dataclass
class _Request:
    """One ``recommend`` call: what every provider of the chain reads, and the trace it writes."""

    profile: Mapping[str, Any]
    slot: str
    n: int
    deadline: float
    personalized: bool
    features: Mapping[str, Any]
    events: list[Any]
    purchased: set[str]
    exclude: set[str]
    attempt: Callable[..., None]


#: within :meth:`RecommendationService.prescored`: profile id -> (the events, their history)
_histories: ContextVar[dict[str, tuple[list[Any], list[tuple[str, float]]]] | None] = ContextVar(
    "tailor_histories", default=None
)

#: a recommended product as the product-card partial shows it (the one card shape of tailor.vocabulary)
product_card = card


def in_challenger_share(profile_id: Any, share: float) -> bool:
    """Whether this recipient gets the challenger model during a ramp (sticky per recipient)."""
    from tailor.experiments.assign import in_share

    from .rollout import ROLLOUT_BUCKET

    return in_share(ROLLOUT_BUCKET, profile_id, share)


def favorite_category(
    events: Iterable[Mapping[str, Any]] | None, catalog: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """The category with the most event weight in the history (catalog first, event properties second)."""
    totals: dict[str, float] = {}
    for event in events or ():
        if not isinstance(event, Mapping) or event.get("type", "track") != "track":
            continue
        weight = event_weight(event.get("event", "view"))
        props = event.get("properties") or {}
        categories = [(catalog.get(pid) or {}).get("category") for pid in event_product_ids(event)]
        categories = [c for c in categories if c]
        if not categories and isinstance(props, Mapping) and props.get("category"):
            # product unknown to the catalog: trust the event's own category
            categories.append(props["category"])
        for category in categories:
            if category:
                totals[str(category)] = totals.get(str(category), 0.0) + weight
    if not totals:
        return None
    # ties break alphabetically so the choice is deterministic
    return min(totals, key=lambda c: (-totals[c], c))


class RecommendationService:
    """Products for one recipient and slot, always inside the time budget.

    ``models``: fitted recommenders by name (``popularity`` for the popular steps,
    ``hybrid``/``ease``/``itemitem``/``content`` for the model step). ``budget_ms`` is
    the default time budget when the caller gives no ``deadline``; the external
    call gets the budget minus ``reserve_ms`` kept for the built-in fallbacks.
    """

    def __init__(
        self,
        catalog: Sequence[Mapping[str, Any]],
        models: Mapping[str, Recommender] | None = None,
        *,
        recs_url: str | None = None,
        budget_ms: int = 250,
        filters: BusinessFilters | None = None,
        client: ExternalRecsClient | None = None,
        reserve_ms: float | None = None,
        backfill: bool = True,
        model_name: str | None = None,
    ) -> None:
        self.catalog = {str(p["id"]): dict(p, id=str(p["id"])) for p in catalog}
        self._catalog_order = list(self.catalog)
        self.budget_ms = budget_ms
        self.filters = filters or BusinessFilters()
        self.client = client or (ExternalRecsClient(recs_url) if recs_url else None)
        # keep a slice of the budget for the built-in fallbacks after a slow external call
        self.reserve_ms = reserve_ms if reserve_ms is not None else max(20.0, 0.2 * budget_ms)
        self.backfill = backfill
        self.model_name = model_name
        self._lock = threading.Lock()
        self._artifacts: Any = None
        self._rollout_every = 1.0
        self._rollout_checked = 0.0
        self._rollout_stamp: tuple[int, int] | None = None
        #: during a ramp: (model name, model, share of recipients, version)
        self._challenger: tuple[str, Any, float, str | None] | None = None
        self._version: str | None = None
        #: per slot, the filters' verdicts on this (fixed) catalog, judged once per product
        self._verdicts: dict[str, Verdicts] = {}
        #: product cards of this (fixed) catalog, made once per product
        self._cards: dict[str, dict[str, Any]] = {}
        self.set_models(models or {})

    @classmethod
    def from_store(
        cls,
        store: Any,
        catalog: Sequence[Mapping[str, Any]] | None = None,
        *,
        settings: Any,
        filters: BusinessFilters | None = None,
    ) -> RecommendationService:
        """The service as a running tailor uses it: newest artifacts, the rules' ``recs:`` filters, settings.

        ``filters`` are the workspace's (:attr:`tailor.workspace.Workspace.recs_filters`);
        without them, the ``recs:`` section of the rule files in ``settings.rules``.

        With no trained artifacts yet, models are fitted in memory from the store's
        interactions (small shops; ``tailor recs train`` is the way for real ones).
        """
        from .rollout import serving

        if catalog is None:
            catalog = list(store.catalog()) if store is not None else []
        served = serving(settings.artifacts)
        models = served.champion if served is not None else None
        if models is None and store is not None and hasattr(store, "interactions"):
            from .training import fit_models  # pandas, SciPy, scikit-learn: only when there is data to fit

            try:
                interactions = store.interactions()
                models = fit_models(interactions, catalog or None) if len(interactions) else None
            except Exception:  # an empty or unreachable store must not stop rendering
                models = None
        client = (
            ExternalRecsClient(settings.recs_url, max_bytes=settings.outbound_max_bytes) if settings.recs_url else None
        )
        service = cls(
            catalog,
            models or {},
            budget_ms=settings.budget_ms,
            filters=filters if filters is not None else _rules_filters(settings.rules),
            client=client,
        )
        service.watch_artifacts(settings.artifacts)
        if served is not None:
            service.use(served)
        return service

    @property
    def catalog_index(self) -> dict[str, dict[str, Any]]:
        """Catalog rows by product id."""
        return self.catalog

    def reload(self, directory: Any) -> bool:
        """Load the versions ``rollout.json`` names (or the newest) from ``directory``, e.g. on SIGHUP.

        False when nothing was trained yet.
        """
        from .rollout import serving, stamp

        served = serving(directory)
        self._rollout_stamp = stamp(directory)
        if served is None:
            return False
        self.use(served)
        return True

    def watch_artifacts(self, directory: Any, every_seconds: float = 1.0) -> None:
        """Re-read ``rollout.json`` in ``directory`` when it changes (looked at most once per ``every_seconds``)."""
        from .rollout import stamp

        self._artifacts = directory
        self._rollout_every = every_seconds
        self._rollout_checked = time.monotonic()
        self._rollout_stamp = stamp(directory)

    def _follow_rollout(self) -> None:
        """A promotion, ramp or rollback (``tailor recs …``) takes effect without a restart."""
        if self._artifacts is None or time.monotonic() - self._rollout_checked < self._rollout_every:
            return
        from .rollout import stamp

        self._rollout_checked = time.monotonic()
        if stamp(self._artifacts) != self._rollout_stamp:
            self.reload(self._artifacts)

    def use(self, served: Any) -> None:
        """Serve a :class:`~.rollout.Serving`: the champion's models, and the challenger's for its share."""
        self.set_models(served.champion or {}, version=served.champion_version)
        challenger = None
        if served.challenger is not None and served.share > 0:
            name = self.model_name or next((m for m in MODEL_PREFERENCE if m in served.challenger), None)
            if name is not None:
                challenger = (name, served.challenger[name], served.share, served.challenger_version)
        with self._lock:
            self._challenger = challenger

    # -- models ---------------------------------------------------------------------

    def set_models(self, models: Mapping[str, Recommender], *, version: str | None = None) -> None:
        """Swap in newly trained models (e.g. after ``tailor recs train``), atomically."""
        models = dict(models)
        name = self.model_name or next((m for m in MODEL_PREFERENCE if m in models), None)
        popular, popular_reason = self._popular_ranking(models.get("popularity"))
        by_category: dict[str, list[tuple[str, float]]] = {}
        for pid, score in popular:  # the favourite-category step's lists, in popularity order
            category = str(self.catalog[pid].get("category") or "").strip().lower()
            by_category.setdefault(category, []).append((pid, score))
        with self._lock:
            self._models = models
            self._model = (name, models.get(name)) if name else (None, None)
            self._version = version
            self._popular = popular
            self._popular_by_category = by_category
            self._popular_reason = popular_reason

    def _popular_ranking(self, popularity: Recommender | None) -> tuple[list[tuple[str, float]], str]:
        count = len(self._catalog_order)
        ranked: list[tuple[str, float]] = []
        if popularity is not None and hasattr(popularity, "top"):
            ranked = [(p, s) for p, s in popularity.top(len(popularity.items_)) if p in self.catalog]
        if not ranked:
            # no trained model yet (new shop): catalog order stands in for popularity
            return [
                (p, float(count - i)) for i, p in enumerate(self._catalog_order)
            ], "catalog order (no popularity model)"
        # products nobody interacted with yet still come last, in catalog order,
        # with scores below every real one
        floor = min(s for _, s in ranked)
        known = {p for p, _ in ranked}
        tail = [p for p in self._catalog_order if p not in known]
        ranked += [(p, floor * (count - i) / (count + 1) / (count + 1)) for i, p in enumerate(tail)]
        return ranked, "popularity model"

    @contextmanager
    def prescored(self, profiles: Iterable[Mapping[str, Any]]) -> Iterator[None]:
        """Within this block, the built-in model's scores for these profiles come from one product.

        For a campaign partition (:meth:`.base.Recommender.prescored`): each recipient's
        ranking, filters and fallbacks stay those of :meth:`recommend`, only the scoring of
        the histories is done for all of them at once. Nothing is scored ahead when an
        external service answers first (the model is then only its fallback).
        """
        with self._lock:
            model = self._model[1]
        prescored = getattr(model, "prescored", None)  # a model of the Recommender contract
        if prescored is None or self.client is not None:
            yield
            return
        # the history the model step reads (:meth:`_model_candidates`), of those it may read it of;
        # kept with the events it was made of, for that step to take instead of making it again
        histories: dict[str, tuple[list[Any], list[tuple[str, float]]]] = {}
        for profile in profiles:
            try:
                if consent(profile, PERSONALIZATION):
                    events = list(profile.get("events") or ())
                    histories[str(profile.get("id"))] = (events, profile_history(events))
            except Exception:  # a document given inline, not validated yet: its render says what is wrong
                continue
        token = _histories.set(histories)
        try:
            with ExitStack() as scoring:
                # a broken model must not stop the partition: each render tries it, and the trace says why
                with suppress(Exception):
                    scoring.enter_context(prescored(history for _, history in histories.values() if history))
                yield
        finally:
            _histories.reset(token)

    # -- the chain ------------------------------------------------------------------

    def recommend(
        self,
        profile: Mapping[str, Any] | None,
        n: int = 6,
        *,
        slot: str = "recs",
        deadline: float | None = None,
        personalized: bool = True,
        features: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        exclude: Iterable[str] = (),
    ) -> RecResult:
        """Run the provider chain for ``profile`` (the SPEC profile document)."""
        start = time.monotonic()
        deadline = deadline if deadline is not None else start + self.budget_ms / 1000.0
        profile = profile or {}
        features = features or {}
        # an explicit "no" in the profile wins over the caller's flag
        personalized = personalized and consent(profile, PERSONALIZATION)
        events = list(profile.get("events") or ()) if personalized else []
        now = now or datetime.now(UTC)
        rules = self.filters.for_slot(slot)
        purchased = purchased_products(events, rules.exclude_purchased, now) if personalized else set()
        exclude = {str(e) for e in exclude}
        attempts: list[dict[str, Any]] = []

        def attempt(provider: str, outcome: str, reason: str, **extra: Any) -> None:
            attempts.append({"provider": provider, "outcome": outcome, "reason": reason, **extra})

        def answer(provider: str, outcome: FilterOutcome) -> RecResult:
            ids = outcome.products
            if self.backfill and len(ids) < n:
                ids = self._backfill(ids, n, slot, purchased, exclude, attempts)
            built_in = provider is not None and provider == model_name
            cards = [self._card(p) for p in ids]
            return RecResult(cards, provider, attempts, version if built_in else None)

        def try_candidates(provider: str, candidates: list[tuple[str, float]], reason: str) -> FilterOutcome | None:
            outcome = self.filters.apply(
                candidates,
                self.catalog,
                n,
                slot=slot,
                purchased=purchased,
                exclude=exclude,
                verdicts=self._slot_verdicts(slot),
            )
            detail = _describe_drops(outcome.dropped)
            if len(outcome.products) >= rules.min_results:
                attempt(provider, "ok", "; ".join(x for x in (reason, detail) if x), count=len(outcome.products))
                return outcome
            if not candidates:
                why = "no candidates"
            elif not outcome.products:
                why = "nothing left after filters"
            else:
                why = f"only {len(outcome.products)} left after filters (min_results {rules.min_results})"
            attempt(provider, "empty", "; ".join(x for x in (why, reason, detail) if x))
            return None

        self._follow_rollout()
        with self._lock:
            model_name, model = self._model
            version, challenger = self._version, self._challenger
            popular, popular_reason = self._popular, self._popular_reason
            by_category = self._popular_by_category
        if challenger is not None and in_challenger_share(profile.get("id"), challenger[2]):
            model_name, model, _, version = challenger

        request = _Request(profile, slot, n, deadline, personalized, features, events, purchased, exclude, attempt)
        # each provider runs only when the ones before it gave nothing that passed the filters
        chain: tuple[Callable[[], Candidates | None], ...] = (
            lambda: self._external_candidates(request),  # 1. external model service
            lambda: self._model_candidates(request, model_name, model),  # 2. built-in model on the history
            lambda: self._category_candidates(request, by_category),  # 3. popular in the favourite category
            lambda: ("popular", popular, popular_reason),  # 4. global popular
        )
        for provider_step in chain:
            found = provider_step()
            if found is None:
                continue
            provider, candidates, reason = found
            outcome = try_candidates(provider, candidates, reason)
            if outcome is not None:
                return answer(provider, outcome)

        # 5. hide the block
        return RecResult([], None, attempts)

    def _external_candidates(self, request: _Request) -> Candidates | None:
        """The external model service's answer (None, traced: skipped or failed; untraced: not configured)."""
        if self.client is None:
            return None  # not configured: not worth a trace line
        if not request.personalized:
            request.attempt("external", "skipped", "no personalization consent")
            return None
        ext_deadline = request.deadline - self.reserve_ms / 1000.0
        payload = self._payload(
            request.profile,
            request.slot,
            request.n,
            request.events,
            request.features,
            request.purchased | request.exclude,
        )
        try:
            got = self.client.fetch(payload, (str(request.profile.get("id")), request.slot, request.n), ext_deadline)
        except ExternalError as exc:
            request.attempt("external", exc.outcome, exc.reason)
            return None
        reason = "cache" if got.cached else ("retried once" if got.tries > 1 else "")
        if got.model:
            reason = "; ".join(x for x in (f"model {got.model}", reason) if x)
        return "external", got.items, reason

    def _model_candidates(
        self, request: _Request, model_name: str | None, model: Recommender | None
    ) -> Candidates | None:
        """The built-in model's ranking of the recipient's history (None when skipped or broken, traced)."""
        history = _history(request.profile, request.events) if request.personalized else []
        model_label = model_name or "model"  # set_models stores a model only with its name
        if not request.personalized:
            request.attempt(model_label, "skipped", "no personalization consent")
        elif model is None:
            request.attempt("model", "skipped", "no trained model")
        elif not history:
            request.attempt(model_label, "skipped", "no history")
        elif time.monotonic() >= request.deadline:
            request.attempt(model_label, "skipped", "deadline passed")
        else:
            pool = max(4 * request.n, request.n + 20)
            try:
                candidates = model.recommend(history, n=pool, exclude=request.purchased | request.exclude)
            except Exception as exc:  # a broken model must not break the send
                request.attempt(model_label, "error", f"{type(exc).__name__}: {exc}")
            else:
                return model_label, candidates, ""
        return None

    def _category_candidates(
        self, request: _Request, by_category: Mapping[str, list[tuple[str, float]]]
    ) -> Candidates | None:
        """The popular products of the recipient's favourite category (None when there is none, traced)."""
        if not request.personalized:
            request.attempt("category_popular", "skipped", "no personalization consent")
            return None
        category = request.features.get("favorite_category") or favorite_category(request.events, self.catalog)
        if not category:
            request.attempt("category_popular", "skipped", "no favourite category")
            return None
        in_category = by_category.get(str(category).strip().lower(), [])
        return "category_popular", in_category, f"category {category}"

    def _card(self, pid: str) -> dict[str, Any]:
        """The product card of a catalog product (a copy: each email gets its own)."""
        made = self._cards.get(pid)
        if made is None:
            made = self._cards[pid] = product_card(self.catalog[pid])
        return dict(made)

    def _slot_verdicts(self, slot: str) -> Verdicts:
        """The kept verdicts of ``slot``'s filters (judged anew when the filters were replaced)."""
        rules = self.filters.for_slot(slot)
        kept = self._verdicts.get(slot)
        if kept is None or kept.rules is not rules:
            kept = self._verdicts[slot] = Verdicts(rules, self.catalog)
        return kept

    def _backfill(
        self,
        ids: list[str],
        n: int,
        slot: str,
        purchased: set[str],
        exclude: set[str],
        attempts: list[dict[str, Any]],
    ) -> list[str]:
        """Top up a short answer with popular products that pass the same filters."""
        with self._lock:
            popular = self._popular
        # the filters run on the combined list so caps (max per category) still hold
        combined = [(p, float(len(ids) - i) + 1e9) for i, p in enumerate(ids)] + popular
        verdicts = self._slot_verdicts(slot)
        outcome = self.filters.apply(
            combined, self.catalog, n, slot=slot, purchased=purchased, exclude=exclude, verdicts=verdicts
        )
        added = [p for p in outcome.products if p not in ids]
        if not added:
            return ids
        attempts.append({"provider": "popular", "outcome": "ok", "reason": "backfill", "count": len(added)})
        return [p for p in outcome.products if p in ids] + added

    def _payload(
        self,
        profile: Mapping[str, Any],
        slot: str,
        n: int,
        events: list[Mapping[str, Any]],
        features: Mapping[str, Any],
        exclude: set[str],
    ) -> dict[str, Any]:
        history = []
        for event in events[-MAX_HISTORY_EVENTS:][::-1]:
            if event.get("type", "track") != "track":
                continue
            for pid in event_product_ids(event):
                history.append(
                    {
                        "product_id": pid,
                        "event": event.get("event"),
                        "type": canonical_event(event.get("event", "")),
                        "timestamp": event.get("timestamp"),
                    }
                )
        return {
            "user_id": profile.get("id"),
            "slot": slot,
            "n": n,
            "history": history,
            "features": dict(features),
            "exclude": sorted(exclude),
        }

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _history(profile: Mapping[str, Any], events: list[Any]) -> list[tuple[str, float]]:
    """:func:`profile_history` of ``events``, or the one :meth:`RecommendationService.prescored` made of them."""
    kept = _histories.get()
    found = kept.get(str(profile.get("id"))) if kept is not None else None
    # the same event objects, as a campaign hands them on: a comparison of references
    if found is not None and found[0] == events:
        return found[1]
    return profile_history(events)


def _describe_drops(dropped: Mapping[str, int]) -> str:
    if not dropped:
        return ""
    parts = []
    for key, count in sorted(dropped.items()):
        label = "unknown product ids" if key == "unknown" else key.replace("_", " ")
        parts.append(f"dropped {count} {label}")
    return ", ".join(parts)


def _rules_filters(rules_dir: Any) -> BusinessFilters:
    """The ``recs:`` section of the rule files in ``rules_dir`` (defaults without one); raises on invalid ones."""
    from pathlib import Path

    from tailor.problems import ProblemError
    from tailor.rules.loader import read_rule_files, rule_files

    if not Path(rules_dir).is_dir():
        return BusinessFilters()
    filters, problems = filters_from(read_rule_files(rule_files(rules_dir)))
    if filters is None:
        raise ProblemError(problems)
    return filters
