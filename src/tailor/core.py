"""``Tailor``: the public API. One render flows request → profile → decisions → content → HTML."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailor.config import Settings
from tailor.context import build_render_context
from tailor.email import (
    Email,
    InvalidInput,
    RenderAborted,
    RenderFailed,
    RenderLimit,
    TemplateBroken,
    TemplateNotFound,
)
from tailor.problems import Problem, ProblemError
from tailor.profile import consent, validate_profile
from tailor.rendering.compiler import CompiledTemplate, Compiler, UnknownTemplate
from tailor.rendering.fallbacks import collecting_fallbacks, record_fallback
from tailor.sandbox import ResourceLimitError, render_limits
from tailor.watch import folder_stamp

if TYPE_CHECKING:
    from tailor.rules.model import SlotDecision


def parse_at(value: str | datetime | None) -> datetime:
    """Send time as an aware UTC datetime (now when not given)."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"not an ISO 8601 time: {value!r}", "/at") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00
        moment = datetime.min.replace(tzinfo=UTC)
    if not _EARLIEST_AT <= moment <= _LATEST_AT:
        # windows (7d, 60d) and time zones are computed around the send time: keep far from datetime's edges
        raise InvalidInput(
            f"send time out of range: must be between {_EARLIEST_AT.year} and {_LATEST_AT.year - 1}", "/at"
        )
    return moment


_EARLIEST_AT = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_AT = datetime(3000, 1, 1, tzinfo=UTC)


class Tailor:
    """Send-time personalization over a templates folder, a rules folder and a store.

    >>> t = Tailor(templates="templates", rules="rules")          # doctest: +SKIP
    >>> email = t.render("welcome", profile={"id": "u1", "traits": {"first_name": "Ann"}})  # doctest: +SKIP
    >>> email.subject                                            # doctest: +SKIP
    """

    def __init__(
        self,
        templates: str | Path = "templates",
        rules: str | Path = "rules",
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
        recommender: Any = None,
        create_store: bool = False,
    ):
        base = settings or Settings()
        self.settings = base.with_values(
            templates=templates, rules=rules, database_url=database_url or base.database_url
        )
        self.database_url = database_url
        self.templates_dir = Path(templates)
        self.rules_dir = Path(rules)
        self._rulebook: Any = None
        self._rulebook_stamp: tuple | None = None
        self._rulebook_checked = float("-inf")
        #: problems of a broken rules edit while the last good rules keep serving
        self.rules_errors: list[Problem] = []
        self.compiler = Compiler(
            self.templates_dir, inliner=self.settings.inliner, slot_resolver=self._slot_blocks, watch=(self.rules_dir,)
        )
        self._store: Any = None
        self._unmigrated = False
        self._recommender = recommender
        #: a render-only Tailor does not create an empty SQLite file just to find it empty
        self.create_store = create_store

    @classmethod
    def from_config(
        cls, toml_path: str | Path | None = "tailor.toml", environ: Mapping[str, str] | None = None
    ) -> Tailor:
        """Build from ``tailor.toml`` and ``TAILOR_*`` environment variables."""
        settings = Settings.load(toml_path, environ)
        return cls(settings.templates, settings.rules, settings.database_url, settings=settings)

    # -- collaborators, loaded lazily so a render-only use needs no database --------

    @property
    def rulebook(self) -> Any:
        """The rules, reloaded when a file in the rules folder changes."""
        from tailor.rules import RuleBook

        now = time.monotonic()
        if self._rulebook is not None and now - self._rulebook_checked < self.compiler.recheck_seconds:
            return self._rulebook  # the folder was looked at moments ago (a render asks several times)
        self._rulebook_checked = now
        stamp = folder_stamp(self.rules_dir)
        if self._rulebook is None or stamp != self._rulebook_stamp:
            try:
                self._rulebook = RuleBook.load(self.rules_dir, self.templates_dir)
                self.rules_errors = []
            except ProblemError as exc:
                if self._rulebook is None:
                    raise
                # keep serving the last good rules; `tailor check` and /healthz report the error
                self.rules_errors = list(exc.problems)
            self._rulebook_stamp = stamp
        return self._rulebook

    @property
    def monitor(self) -> Any:
        """``monitor:`` settings from ``rules/*.yaml`` (reloaded when the rules folder changes)."""
        from tailor.monitor.config import load_monitor

        _ = self.rulebook  # looks at the rules folder (throttled) and records its stamp
        if getattr(self, "_monitor_stamp", None) != self._rulebook_stamp:
            self._monitor, _ = load_monitor(self.rules_dir)  # problems: `tailor check`
            self._monitor_stamp = self._rulebook_stamp
        return self._monitor

    @property
    def experiments(self) -> dict[str, Any]:
        """A/B experiments from ``rules/*.yaml`` (reloaded when the rules folder changes)."""
        from tailor.experiments import load_experiments

        _ = self.rulebook  # looks at the rules folder (throttled) and records its stamp
        if getattr(self, "_experiments_stamp", None) != self._rulebook_stamp:
            self._experiments, _ = load_experiments(self.rules_dir)  # problems: `tailor check`
            self._experiments_stamp = self._rulebook_stamp
        return self._experiments

    @property
    def store(self) -> Any:
        if self._store is None and self.database_url:
            from tailor.store import Store

            if not self.create_store and _missing_sqlite_file(self.database_url):
                return None
            self._store = Store(self.database_url)
            self._unmigrated = True  # at head this is one cheap query; an older store gets upgraded
        if self._unmigrated:
            try:
                self._store.migrate()
                self._unmigrated = False
            except Exception as exc:
                if not _is_unreachable(exc):
                    raise
                # the database is down right now: keep the store so every call that needs it
                # fails as "unavailable" (HTTP 503, /healthz), and migrate once it is back
        return self._store

    @property
    def recommender(self) -> Any:
        if self._recommender is None:
            from tailor.recommendations import RecommendationService

            self._recommender = RecommendationService.from_store(self.store, settings=self.settings)
        return self._recommender

    def _slot_blocks(self, slot: str) -> tuple[list[str], str | None]:
        book = self.rulebook
        trial = [b for e in self.experiments.values() for v in e.variants for s, b in v.blocks.items() if s == slot]
        if slot not in getattr(book, "slots", {}):
            return trial, None
        return list(dict.fromkeys([*book.blocks_for(slot), *trial])), book.default_for(slot)

    # -- the public operations ----------------------------------------------------

    def template_names(self) -> list[str]:
        return self.compiler.names()

    def compile(self, template: str) -> CompiledTemplate:
        """The compiled current version of a template (raises on unknown or broken)."""
        try:
            return self.compiler.get(template)
        except UnknownTemplate as exc:
            raise TemplateNotFound(str(exc)) from None
        except ProblemError as exc:
            raise TemplateBroken(template, exc.problems) from None

    def check(self) -> list[Problem]:
        """Every problem in the templates and rules folders."""
        from tailor.experiments import load_experiments
        from tailor.monitor.config import load_monitor
        from tailor.recommendations.filters import check_file as check_recs_file
        from tailor.rules import RuleBook

        problems = list(RuleBook.check(self.rules_dir, self.templates_dir))
        problems += load_experiments(self.rules_dir)[1]
        problems += load_monitor(self.rules_dir)[1]
        for path in sorted(self.rules_dir.glob("*.y*ml")) if self.rules_dir.is_dir() else []:
            if _has_top_level_key(path, "recs"):
                problems += check_recs_file(path)
        compiler = self.compiler
        if any(p.severity == "error" for p in problems):
            # Without valid rules the slot candidates are unknown: check the templates with
            # their declared defaults only, and leave the serving rules untouched.
            compiler = Compiler(
                self.templates_dir, inliner=self.settings.inliner, slot_resolver=lambda slot: ([], None)
            )
        for name in compiler.names():
            problems += compiler.check(name)
        return sorted(set(problems))

    def warm(self) -> dict[str, str]:
        """Pay now what the first render would: rules, every template, the recommender.

        A server calls this at (worker) start so the first recipient is as fast as the
        others. Returns ``{what: error}`` for anything that failed to load; the failures
        are not fatal (the render reports them, ``/healthz`` shows them).
        """
        errors: dict[str, str] = {}
        try:
            _ = self.rulebook
        except Exception as exc:
            errors["rules"] = str(exc)
        for name in self.template_names():
            try:
                self.compile(name)
            except Exception as exc:
                errors[name] = str(exc)
        try:
            _ = self.recommender
            self._catalog_index()
        except Exception as exc:  # e.g. the store is down: the first render retries
            errors["recommendations"] = f"{type(exc).__name__}: {exc}"
        return errors

    def load_profile(self, recipient: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored profile for a recipient reference (id, email, user_id or anonymous_id)."""
        if self.store is None:
            return None
        keys = {k: recipient.get(k) for k in ("id", "email", "user_id", "anonymous_id") if recipient.get(k)}
        if not keys:
            return None
        return self.store.load_profile(**keys)

    def render(
        self,
        template: str,
        *,
        profile: Mapping[str, Any] | None = None,
        recipient: Mapping[str, Any] | None = None,
        at: str | datetime | None = None,
        context: Mapping[str, Any] | None = None,
        send_id: str | None = None,
        record_exposure: bool = True,
    ) -> Email:
        """Render ``template`` for one recipient.

        Give either ``profile`` (a profile document) or ``recipient`` (``{"id"|"email"|
        "user_id": ..., "traits": {...}}``, looked up in the store; traits override the
        stored ones for this render only). ``record_exposure=False`` for renders nobody
        is sent (previews): an exposure counts a person who saw a variant.
        """
        # One deadline and allocation budget for the rule conditions and every part of the email.
        with collecting_fallbacks() as fallbacks, render_limits(self.settings.render_timeout_ms, start=False):
            try:
                prepared = self.prepare(template, profile=profile, recipient=recipient, at=at, context=context)
            except ResourceLimitError as exc:  # a rule condition ran past the deadline
                raise RenderLimit(f"template {template!r}: rule conditions stopped: {exc}") from None
            compiled = prepared.compiled
            try:
                parts = compiled.render(prepared.context, prepared.blocks)
            except ResourceLimitError as exc:
                raise RenderLimit(f"template {compiled.name!r} stopped: {exc}") from None
            except Exception as exc:  # data the page itself (outside slots) could not handle
                raise RenderFailed(
                    f"template {compiled.name!r} failed outside any slot: {type(exc).__name__}: {exc}"
                ) from None
            email = Email(
                template=compiled.name,
                template_version=compiled.version,
                subject=parts.subject,
                preheader=parts.preheader,
                html=parts.html,
                text=parts.text,
                decisions=prepared.decisions,
                slot_decisions=prepared.slot_decisions,
                fallbacks=list(fallbacks),
                blocks=parts.blocks,
                triggers=prepared.context["triggers"],
                recommendations=prepared.recommendations,
                experiments=prepared.experiments,
            )
            if record_exposure:
                send_key = send_id or f"render-{uuid.uuid4().hex}"
                self._log_exposures(email, prepared, send_key)
                self._log_send(email, prepared, send_key)
            return email

    def prepare(
        self,
        template: str,
        *,
        profile: Mapping[str, Any] | None = None,
        recipient: Mapping[str, Any] | None = None,
        at: str | datetime | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Prepared:
        """Everything up to the content: profile → features → triggers → recs → decisions.

        The returned context is exactly what the template renders with (QA tools and the
        fidelity tests use it to render the same recipient another way).
        """
        moment = parse_at(at)
        if context is not None and not isinstance(context, Mapping):
            raise InvalidInput("must be an object", "/context")
        compiled = self.compile(template)
        if _uses_recs(compiled):
            _ = self.recommender  # loading or fitting the models is start-up work, not this render's budget
        deadline = time.monotonic() + self.settings.budget_ms / 1000.0
        doc = self._resolve_profile(profile, recipient)
        return self._prepare(compiled, doc, moment, dict(context or {}), deadline)

    # -- one render, step by step ------------------------------------------------

    def _resolve_profile(
        self, profile: Mapping[str, Any] | None, recipient: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if profile is not None:
            return validate_profile(profile, "/profile")
        if recipient is None:
            record_fallback("anonymous", "no recipient given; rendered the non-personalized defaults")
            return validate_profile({})
        if not isinstance(recipient, Mapping):
            raise InvalidInput("must be an object", "/recipient")
        overrides = recipient.get("traits") or {}
        if not isinstance(overrides, Mapping):
            raise InvalidInput("must be an object", "/recipient/traits")
        stored = self.load_profile(recipient)
        if stored is None:
            record_fallback(
                "unknown-recipient", "recipient not found in the store; rendered the non-personalized defaults"
            )
            stored = {k: recipient.get(k) for k in ("id", "email") if recipient.get(k) is not None}
            stored.setdefault("id", recipient.get("user_id"))
        doc = validate_profile(stored)
        doc["traits"] = {**doc["traits"], **overrides}
        return doc

    def _prepare(
        self,
        compiled: CompiledTemplate,
        doc: dict[str, Any],
        at: datetime,
        esp_context: dict[str, Any],
        deadline: float,
    ) -> Prepared:
        book = self.rulebook
        self._check_sendable(doc)
        personalized = consent(doc, "personalization")
        if not personalized:
            record_fallback(
                "no-consent",
                "no personalization consent: behavioural rules, triggers and history-based recommendations are off",
            )
        from tailor.monitor.sends import in_control_group

        control = personalized and in_control_group(doc.get("id"), self.monitor.outcomes.control_share)
        personalized = personalized and not control  # the control group gets what a refusal gets
        recs_info: dict[str, Any] = {}

        def recommend(features: Mapping[str, Any]) -> list[dict[str, Any]]:
            result = self._recommend(
                doc, compiled, dict(features), deadline, personalized and consent(doc, "recommendations")
            )
            recs_info.update(
                provider=result.provider,
                attempts=result.attempts,
                count=len(result.products),
                products=[p.get("id") for p in result.products],
            )
            if result.version:
                recs_info["version"] = result.version
            for attempt in result.attempts:
                if attempt.get("outcome") not in ("ok", "skipped"):
                    record_fallback(
                        f"recs-{attempt.get('outcome')}",
                        f"{attempt.get('provider')}: {attempt.get('reason', '')}".strip(),
                    )
            if not result.products:
                record_fallback("recs-hidden", "no provider returned products; the recommendations block is hidden")
            return list(result.products)

        ctx = build_render_context(
            doc,
            at,
            book,
            catalog=self._catalog_index(),
            esp_context=esp_context,
            recommend=recommend if _uses_recs(compiled) else None,
        )
        decision = book.decide(compiled.slot_names, ctx.condition_names(), personalized=personalized)
        if decision.abort:
            raise RenderAborted(decision.abort, decisions=list(decision.trace))
        ctx.variables.update(decision.variables)
        blocks, trace = dict(decision.blocks), list(decision.trace)
        experiments = self._apply_experiments(compiled, doc, blocks, trace, decision.slots, ctx.variables)
        if control:
            trace.insert(0, {"control_group": True, "why": "in the control group: rendered without personalization"})
        return Prepared(
            compiled,
            ctx.as_template_vars(),
            blocks,
            trace,
            recs_info,
            experiments,
            doc.get("id"),
            decision.slots,
            at=at,
            control=control,
            segments=list(ctx.segments),
        )

    def segments_of(self, profile_id: str, at: str | datetime | None = None) -> list[str]:
        """The segments a stored profile is in as of ``at`` (for ``tailor batch --segment``)."""
        doc = self.load_profile({"id": profile_id})
        if doc is None:
            return []
        doc = validate_profile(doc)
        return build_render_context(doc, parse_at(at), self.rulebook, catalog=self._catalog_index()).segments

    def _apply_experiments(
        self,
        compiled: CompiledTemplate,
        doc: dict[str, Any],
        blocks: dict[str, str],
        trace: list[dict[str, Any]],
        decided: list[SlotDecision],
        variables: dict[str, Any],
    ) -> dict[str, Any]:
        """Sticky variant per running experiment; a variant's blocks replace the default choice."""
        from tailor.experiments import HOLDOUT, assign

        chosen: dict[str, Any] = {}
        for experiment in self.experiments.values():
            if not experiment.applies_to(compiled.name, compiled.slot_names):
                continue
            if not doc.get("id"):
                trace.append({"experiment": experiment.name, "variant": None, "why": "no recipient id: not enrolled"})
                continue
            variant_name = assign(experiment, str(doc["id"]))
            entry: dict[str, Any] = {"experiment": experiment.name, "variant": variant_name, "overrides": {}}
            if variant_name != HOLDOUT:
                variant = next(v for v in experiment.variants if v.name == variant_name)
                for slot, block in variant.blocks.items():
                    slot_decision = next((d for d in decided if d.slot == slot), None)
                    if slot not in compiled.slots:
                        continue
                    kept = slot_decision.reason if slot_decision is not None else "default"
                    if kept != "default" and not experiment.override_rules:
                        entry["overrides"][slot] = f"kept {kept} (a targeted rule wins)"
                        continue
                    blocks[slot] = block
                    entry["overrides"][slot] = block
                variables.update(variant.set)
            chosen[experiment.name] = {"variant": variant_name, "holdout": variant_name == HOLDOUT}
            trace.append(entry)
        return chosen

    def _log_exposures(self, email: Email, prepared: Prepared, send_key: str) -> None:
        """One exposure per (experiment, recipient, send): repeated renders of a send count once."""
        if not email.experiments or not prepared.profile_id or self.store is None:
            return
        from tailor.experiments.exposures import now_naive, record_exposures

        record_exposures(
            self.store,
            [
                {
                    "experiment": name,
                    "variant": info["variant"],
                    "profile_id": str(prepared.profile_id),
                    "send_key": send_key,
                    "template": email.template,
                    "exposed_at": now_naive(),
                }
                for name, info in email.experiments.items()
            ],
        )

    def _log_send(self, email: Email, prepared: Prepared, send_key: str) -> None:
        """What personalization chose for this send (:mod:`tailor.monitor.sends`), once per send."""
        if not prepared.profile_id or self.store is None:
            return
        from tailor.monitor.sends import record_sends, send_row

        row = send_row(
            profile_id=str(prepared.profile_id),
            send_key=send_key,
            template=email.template,
            blocks=dict(prepared.blocks),
            rules={d.slot: d.rule_id for d in prepared.slot_decisions},
            segments=prepared.segments,
            recs=prepared.recommendations,
            control=prepared.control,
            fallbacks=[str(f.get("reason")) for f in email.fallbacks],
            sent_at=prepared.at,
        )
        record_sends(self.store, [row])

    def _check_sendable(self, doc: dict[str, Any]) -> None:
        """Refuse (422) a recipient who withdrew email consent or is suppressed."""
        if not consent(doc, "email_marketing"):
            raise RenderAborted("the recipient has no email_marketing consent", rule="consent")
        store = self.store
        if store is not None and (doc.get("id") or doc.get("email")):
            reason = store.is_suppressed(doc.get("id"), email=doc.get("email"))
            if reason:
                raise RenderAborted(f"the recipient is suppressed ({reason})", rule="suppression")

    def _recommend(
        self,
        doc: dict[str, Any],
        compiled: CompiledTemplate,
        features: dict[str, Any],
        deadline: float,
        personalized: bool,
    ) -> Any:
        settings = compiled.settings.get("recs") or {}
        n = int(settings.get("n", 6)) if isinstance(settings, Mapping) else 6
        return self.recommender.recommend(doc, n, deadline=deadline, personalized=personalized, features=features)

    def _catalog_index(self) -> dict[str, dict[str, Any]]:
        recommender = self._recommender
        catalog = getattr(recommender, "catalog_index", None)
        if catalog is not None:
            return catalog
        if self.store is None:
            return {}
        if not hasattr(self, "_catalog_cache"):
            self._catalog_cache = {p["id"]: p for p in self.store.catalog()}
        return self._catalog_cache


@dataclass
class Prepared:
    """A recipient ready to render: the compiled template, the context and the chosen blocks."""

    compiled: CompiledTemplate
    context: dict[str, Any]
    blocks: dict[str, str]
    decisions: list[dict[str, Any]]
    recommendations: dict[str, Any]
    experiments: dict[str, Any]
    profile_id: str | None
    #: the typed form of the slot entries in ``decisions``
    slot_decisions: list[SlotDecision] = field(default_factory=list)
    #: the send time the recipient was prepared for
    at: datetime | None = None
    #: in the global control group (``monitor: outcomes: control_share``): not personalized
    control: bool = False
    segments: list[str] = field(default_factory=list)


def _uses_recs(compiled: CompiledTemplate) -> bool:
    if compiled.settings.get("recs") is not None:
        return compiled.settings.get("recs") is not False
    return compiled.mentions("recs")


def _is_unreachable(exc: Exception) -> bool:
    """A database that cannot be connected to (as opposed to a bug)."""
    try:
        from sqlalchemy.exc import InterfaceError, OperationalError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (OperationalError, InterfaceError))


def _missing_sqlite_file(url: str) -> bool:
    """True for ``sqlite:///path`` URLs whose file does not exist (``:memory:`` excluded)."""
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///") :].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def _has_top_level_key(path: Path, key: str) -> bool:
    import re as _re

    try:
        return bool(_re.search(rf"^{_re.escape(key)}\s*:", path.read_text(encoding="utf-8"), _re.M))
    except (OSError, UnicodeDecodeError):
        return False
