"""``Tailor``: the public API. One render flows request → profile → decisions → content → HTML."""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
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
from tailor.experiments.assign import apply_experiments
from tailor.problems import Problem, ProblemError
from tailor.profile import fitted_id, validate_profile
from tailor.rendering.compiler import CompiledTemplate, Compiler, UnknownTemplate
from tailor.rendering.fallbacks import RECS_OUTCOMES, collecting_fallbacks, record_fallback
from tailor.rendering.formatting import Formatting
from tailor.sandbox import ResourceLimitError, render_limits
from tailor.vocabulary.consent import consent
from tailor.vocabulary.times import NotATime, parse_iso
from tailor.workspace import Workspace

if TYPE_CHECKING:
    from tailor.experiments.spec import Experiment
    from tailor.monitor.send_journal import SendWriter
    from tailor.rules.book import RuleBook
    from tailor.rules.model import SlotDecision
    from tailor.store.lazy import LazyStore
    from tailor.store.suppressions import SuppressionCache


def parse_at(value: str | datetime | None) -> datetime:
    """Send time as an aware UTC datetime (now when not given)."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = parse_iso(value if isinstance(value, datetime) else str(value))
    except NotATime as exc:
        if str(exc).startswith("out of range"):  # e.g. 0001-01-01T00:00+01:00
            moment = datetime.min.replace(tzinfo=UTC)
        else:
            raise InvalidInput(f"not an ISO 8601 time: {value!r}", "/at") from None
    if not _EARLIEST_AT <= moment <= _LATEST_AT:
        # windows (7d, 60d) and time zones are computed around the send time: keep far from datetime's edges
        raise InvalidInput(
            f"send time out of range: must be between {_EARLIEST_AT.year} and {_LATEST_AT.year - 1}", "/at"
        )
    return moment


_EARLIEST_AT = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_AT = datetime(3000, 1, 1, tzinfo=UTC)


class Tailor:
    """The render pipeline over a :class:`~tailor.workspace.Workspace` (templates, rules) and a store.

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
        workspace: Workspace | None = None,
    ):
        base = settings or Settings()
        self.settings = base.with_values(
            templates=templates, rules=rules, database_url=database_url or base.database_url
        )
        self.database_url = database_url
        self.workspace = workspace or Workspace.from_settings(self.settings)
        #: a render-only Tailor does not create an empty SQLite file just to find it empty
        self.create_store = create_store
        self._store: LazyStore | None = None
        self._recommender = recommender
        #: the recommender was built here (so it follows the workspace's recs filters)
        self._owns_recommender = recommender is None
        self._catalog: dict[str, dict[str, Any]] | None = None
        #: set by :meth:`serve_sends`: send records journaled, suppressions answered from memory
        self.send_writer: SendWriter | None = None
        self.suppression_cache: SuppressionCache | None = None

    @classmethod
    def from_config(
        cls, toml_path: str | Path | None = "tailor.toml", environ: Mapping[str, str] | None = None
    ) -> Tailor:
        """Build from ``tailor.toml`` and ``TAILOR_*`` environment variables."""
        settings = Settings.load(toml_path, environ)
        return cls(settings.templates, settings.rules, settings.database_url, settings=settings)

    # -- the workspace and the store ----------------------------------------------

    @property
    def templates_dir(self) -> Path:
        return self.workspace.templates_dir

    @property
    def rules_dir(self) -> Path:
        return self.workspace.rules_dir

    @property
    def monitor(self) -> Any:
        """``monitor:`` settings of the current good rules (:class:`tailor.monitor.config.MonitorSettings`)."""
        return self.workspace.monitor

    @property
    def compiler(self) -> Compiler:
        return self.workspace.compiler

    @property
    def rulebook(self) -> RuleBook:
        """The current good rules (reloaded when a file in the marketers' folders changes)."""
        return self.workspace.rulebook

    @property
    def experiments(self) -> dict[str, Experiment]:
        """A/B experiments of the current good rules."""
        return self.workspace.experiments

    @property
    def store(self) -> Any:
        """The migrated store (None without ``database_url``); opened on first use, see :mod:`tailor.store.lazy`."""
        if self._store is None:
            if not self.database_url:
                return None
            if not self.create_store and _missing_sqlite_file(self.database_url):
                return None  # before the import: SQLAlchemy and Alembic are a heavy start for no store
            from tailor.store.lazy import LazyStore

            self._store = LazyStore(self.database_url, create=self.create_store)
        return self._store.get()

    @property
    def recommender(self) -> Any:
        if self._recommender is None:
            from tailor.recommendations import RecommendationService

            self._recommender = RecommendationService.from_store(
                self.store, settings=self.settings, filters=self.workspace.recs_filters
            )
        elif self._owns_recommender:
            filters = self.workspace.recs_filters  # an edit of the recs: section applies like any rule edit
            if self._recommender.filters is not filters:
                self._recommender.filters = filters
        return self._recommender

    def catalog_index(self) -> dict[str, dict[str, Any]]:
        """Catalog rows by product id (the recommender's, else read once from the store)."""
        catalog = getattr(self._recommender, "catalog_index", None)
        if catalog is not None:
            return catalog
        if self.store is None:
            return {}
        if self._catalog is None:
            self._catalog = {p["id"]: p for p in self.store.catalog()}
        return self._catalog

    # -- the public operations ----------------------------------------------------

    def template_names(self) -> list[str]:
        return self.workspace.template_names()

    def compile(self, template: str) -> CompiledTemplate:
        """The compiled current version of a template (raises on unknown or broken)."""
        try:
            return self.workspace.template(template)
        except UnknownTemplate as exc:
            raise TemplateNotFound(str(exc)) from None
        except ProblemError as exc:
            raise TemplateBroken(template, exc.problems) from None

    def check(self) -> list[Problem]:
        """Every problem in the templates and rules folders (see :meth:`Workspace.check`)."""
        return self.workspace.check()

    def warm(self) -> dict[str, str]:
        """Pay now what the first render would: rules, every template, the recommender.

        A server calls this at (worker) start so the first recipient is as fast as the
        others. Returns ``{what: error}`` for anything that failed to load; the failures
        are not fatal (the render reports them, ``/healthz`` shows them).
        """
        errors: dict[str, str] = {}
        try:
            _ = self.workspace.rules()
        except Exception as exc:
            errors["rules"] = str(exc)
        for name in self.template_names():
            try:
                self.compile(name)
            except Exception as exc:
                errors[name] = str(exc)
        try:
            _ = self.recommender
            self.catalog_index()
        except Exception as exc:  # e.g. the store is down: the first render retries
            errors["recommendations"] = f"{type(exc).__name__}: {exc}"
        return errors

    def load_profile(self, recipient: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored profile for a recipient reference (id, email, user_id or anonymous_id)."""
        return self._load_stored(recipient)[0]

    def _load_stored(self, recipient: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """:meth:`load_profile`, and the suppressions' change counter when it was read with the
        profile (a send's one statement for both: see :meth:`_check_sendable`)."""
        if self.store is None:
            return None, None
        keys = {k: recipient.get(k) for k in ("id", "email", "user_id", "anonymous_id") if recipient.get(k)}
        if not keys:
            return None, None
        loaded = _preloaded.get()
        if loaded is not None:
            return loaded.profile(keys), None
        return self.store.load_send_profile(**keys)

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
        variants: Mapping[str, str] | None = None,
        count_send: bool = False,
        explain: bool = True,
    ) -> Email:
        """Render ``template`` for one recipient.

        Give either ``profile`` (a profile document) or ``recipient`` (``{"id"|"email"|
        "user_id": ..., "traits": {...}}``, looked up in the store; traits override the
        stored ones for this render only). ``record_exposure=False`` for renders nobody
        is sent (previews): an exposure counts a person who saw a variant. ``variants``
        (experiment → variant or ``holdout``) replaces the recipient's assignment: QA previews
        a variant without hunting for someone assigned to it; such a render records no exposure.
        ``count_send=True`` (with a ``send_id``) when the caller sends what it gets, an
        ESP through ``/v1/render``: the frequency cap is applied (an abort when reached)
        and the send counted. Tailor's own deliveries apply it when they send instead.
        ``explain=False``
        (a send) records every rule considered and the winners but not why the others did
        not match.
        """
        # One deadline and allocation budget for the rule conditions and every part of the email.
        with collecting_fallbacks() as fallbacks, render_limits(self.settings.render_timeout_ms, start=False):
            try:
                prepared = self.prepare(
                    template,
                    profile=profile,
                    recipient=recipient,
                    at=at,
                    context=context,
                    variants=variants,
                    explain=explain,
                )
            except ResourceLimitError as exc:  # a rule condition ran past the deadline
                raise RenderLimit(f"template {template!r}: rule conditions stopped: {exc}") from None
            compiled = prepared.compiled
            try:
                parts = compiled.render(prepared.context, prepared.blocks, formatting=prepared.formatting)
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
                recipient_id=prepared.profile_id,
                recipient_email=prepared.email,
                transactional=bool(compiled.settings.get("transactional", False)),
                segments=list(prepared.segments),
                control=prepared.control,
            )
            email.headers = self.send_headers(prepared.profile_id, prepared.email, send_id)
            if count_send and send_id:
                self._count_send(email, prepared, send_id)
            if record_exposure and not variants:
                self._log_send(email, prepared, send_id)
            return email

    def prepare(
        self,
        template: str,
        *,
        profile: Mapping[str, Any] | None = None,
        recipient: Mapping[str, Any] | None = None,
        at: str | datetime | None = None,
        context: Mapping[str, Any] | None = None,
        variants: Mapping[str, str] | None = None,
        explain: bool = True,
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
        doc, suppressions_version = self._resolve_profile(profile, recipient)
        return self._prepare(
            compiled, doc, moment, dict(context or {}), deadline, dict(variants or {}), explain, suppressions_version
        )

    # -- one render, step by step ------------------------------------------------

    def _resolve_profile(
        self, profile: Mapping[str, Any] | None, recipient: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], str | None]:
        """The profile document to render, and the suppressions' change counter if it was read with it."""
        if profile is not None:
            return validate_profile(profile, "/profile"), None
        if recipient is None:
            record_fallback("anonymous", "no recipient given; rendered the non-personalized defaults")
            return validate_profile({}), None
        if not isinstance(recipient, Mapping):
            raise InvalidInput("must be an object", "/recipient")
        overrides = recipient.get("traits") or {}
        if not isinstance(overrides, Mapping):
            raise InvalidInput("must be an object", "/recipient/traits")
        stored, suppressions_version = self._load_stored(recipient)
        if stored is None:
            record_fallback(
                "unknown-recipient", "recipient not found in the store; rendered the non-personalized defaults"
            )
            unknown = {k: recipient.get(k) for k in ("id", "email") if recipient.get(k) is not None}
            unknown.setdefault("id", recipient.get("user_id"))
            doc = validate_profile(unknown)
        else:
            doc = validate_profile(stored, events_from_store=True)
        doc["traits"] = {**doc["traits"], **overrides}
        return doc, suppressions_version

    def _prepare(
        self,
        compiled: CompiledTemplate,
        doc: dict[str, Any],
        at: datetime,
        esp_context: dict[str, Any],
        deadline: float,
        variants: dict[str, str] | None = None,
        explain: bool = True,
        suppressions_version: str | None = None,
    ) -> Prepared:
        book = self.rulebook
        self._check_sendable(doc, suppressions_version)
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
                reason = RECS_OUTCOMES.get(str(attempt.get("outcome")))
                if reason is not None:
                    record_fallback(reason, f"{attempt.get('provider')}: {attempt.get('reason', '')}".strip())
            if not result.products:
                record_fallback("recs-hidden", "no provider returned products; the recommendations block is hidden")
            return list(result.products)

        ctx = build_render_context(
            doc,
            at,
            book,
            catalog=self.catalog_index(),
            esp_context=esp_context,
            recommend=recommend if _uses_recs(compiled) else None,
            default_currency=self.settings.currency,
        )
        decision = book.decide(compiled.slot_names, ctx.condition_names(), personalized=personalized, explain=explain)
        if decision.abort:
            raise RenderAborted(decision.abort, decisions=list(decision.trace))
        ctx.variables.update(decision.variables)
        blocks, trace = dict(decision.blocks), list(decision.trace)
        experiments = apply_experiments(
            self.experiments.values(),
            compiled.name,
            compiled.slot_names,
            doc.get("id"),
            blocks,
            trace,
            decision.slots,
            ctx.variables,
            variants or {},
        )
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
            doc.get("email"),
            at,
            ctx.formatting,
            control=control,
            segments=list(ctx.segments),
        )

    def prescored(self, template: str, profiles: Iterable[Mapping[str, Any]]) -> AbstractContextManager[None]:
        """Within this block, renders of ``template`` take these profiles' recommendation scores from one product.

        A campaign partition's: see :meth:`RecommendationService.prescored`. Nothing is
        scored ahead for a template without recommendations (or one that does not compile:
        each render reports that).
        """
        try:
            compiled = self.compile(template)
        except (TemplateNotFound, TemplateBroken):
            return nullcontext()
        prescored = getattr(self.recommender, "prescored", None) if _uses_recs(compiled) else None
        return nullcontext() if prescored is None else prescored(profiles)

    def segments_of(self, profile: str | Mapping[str, Any], at: str | datetime | None = None) -> list[str]:
        """The segments a profile (a stored profile's id, or a profile document) is in as of ``at``."""
        doc = self.load_profile({"id": profile}) if isinstance(profile, str) else profile
        if doc is None:
            return []
        doc = validate_profile(doc)
        return build_render_context(doc, parse_at(at), self.rulebook, catalog=self.catalog_index()).segments

    # -- sending: headers and the frequency cap (tailor.delivery) ---------------------

    def serve_sends(self) -> None:
        """What a long-running process does per send: no suppression query, no commit in the render.

        Suppressions come from a per-process copy kept current (:mod:`tailor.store.suppressions`);
        send records go to the ``send_journal`` folder and reach the store in batches from a
        background thread (:mod:`tailor.monitor.send_journal`), which first inserts what killed
        processes left there. ``tailor serve`` (each worker) calls this; one-shot renders and
        campaign partitions write in their own transaction instead. Without a store, or with
        ``send_journal`` off, only the suppressions part applies (or nothing).
        """
        if self.store is None or self.suppression_cache is not None:
            return
        from tailor.store.suppressions import SuppressionCache

        self.suppression_cache = SuppressionCache(self.store)
        folder = self.settings.send_journal
        if folder is not None:
            from tailor.monitor.send_journal import SendWriter

            self.send_writer = SendWriter(
                self.store, folder, flush_ms=self.settings.send_flush_ms, fsync=self.settings.send_journal_fsync
            ).start()

    def close_sends(self) -> None:
        """Flush the journaled send records into the store and stop the writer (SIGTERM, shutdown)."""
        writer, self.send_writer = self.send_writer, None
        if writer is not None:
            writer.close()

    @property
    def unsubscribe(self) -> Any:
        """Signed one-click unsubscribe links (None without a store or ``TAILOR_PUBLIC_URL``)."""
        if not self.settings.public_url or self.store is None:
            return None
        if getattr(self, "_unsubscribe", None) is None:
            from tailor.delivery.unsubscribe import Unsubscribe

            self._unsubscribe = Unsubscribe(self.store, self.settings.public_url, self.settings.unsubscribe_mailto)
        return self._unsubscribe

    def send_headers(self, profile_id: str | None, address: str | None, send_id: str | None) -> dict[str, str]:
        """``Message-ID`` (with a ``send_id``) and the ``List-Unsubscribe`` pair (with an address)."""
        from tailor.delivery.message import message_id

        headers: dict[str, str] = {}
        if send_id:
            headers["Message-ID"] = message_id(esp_send_key(send_id, profile_id, address), self._message_domain())
        unsubscribe = self.unsubscribe if address else None
        if unsubscribe is not None and address:
            headers.update(unsubscribe.headers(address))
        return headers

    def _message_domain(self) -> str:
        from urllib.parse import urlsplit

        from tailor.delivery.message import sender_domain

        if self.settings.smtp_from:
            return sender_domain(self.settings.smtp_from)
        return (urlsplit(self.settings.public_url or "").hostname or "localhost").lower()

    def _count_send(self, email: Email, prepared: Prepared, send_id: str) -> None:
        """Apply the frequency cap to an ESP's send and count it; abort (422) when the cap is reached."""
        from tailor.delivery import journal
        from tailor.delivery.frequency import is_capped, trace_entry

        cap = self.rulebook.frequency_cap
        marketing = not email.transactional
        if self.store is None or not (prepared.profile_id or prepared.email):
            email.decisions.append({**trace_entry(cap, marketing=marketing), "counted": False})
            return
        entry = journal.handed(
            self.store,
            send_id=esp_send_key(send_id, prepared.profile_id, prepared.email),
            profile_id=prepared.profile_id,
            email_hash=self.store.hash_email(prepared.email) if prepared.email else None,
            template=email.template,
            marketing=marketing,
            cap=cap,
            at=prepared.at.replace(tzinfo=None),
        )
        email.decisions.append(entry)
        if is_capped(entry):
            raise RenderAborted(f"frequency cap: {entry['why']}", rule="frequency-cap", decisions=email.decisions)

    def _log_send(self, email: Email, prepared: Prepared, send_id: str | None) -> None:
        """What personalization chose for this send (:mod:`tailor.monitor.sends`) and the experiment
        exposures it made, once per send, in one write; a render without ``send_id`` is its own send."""
        if not prepared.profile_id or self.store is None:
            return
        from tailor.experiments.exposures import exposure_rows
        from tailor.monitor.sends import record_sends, send_row_of

        # the Python API takes any send id; the store's column holds 255 characters
        send_key = fitted_id(send_id) if send_id else f"render-{uuid.uuid4().hex}"
        exposures = exposure_rows(email.experiments, str(prepared.profile_id), email.template, send_key)
        rows = [send_row_of(email, send_key, prepared.at)]
        writer = self.send_writer
        if writer is not None:
            writer.append(rows, exposures)
        else:
            record_sends(self.store, rows, exposures)

    def _check_sendable(self, doc: dict[str, Any], suppressions_version: str | None = None) -> None:
        """Refuse (422) a recipient who withdrew email consent or is suppressed.

        ``suppressions_version`` is the suppressions' change counter as read with the stored
        profile: the suppression cache checks it instead of reading it again."""
        if not consent(doc, "email_marketing"):
            raise RenderAborted("the recipient has no email_marketing consent", rule="consent")
        store = self.store
        if store is not None and (doc.get("id") or doc.get("email")):
            loaded = _preloaded.get()
            cache = self.suppression_cache
            if loaded is not None:
                reason = loaded.suppressions.reason(doc.get("id"), email=doc.get("email"))
            elif cache is not None:
                reason = cache.reason(doc.get("id"), email=doc.get("email"), version=suppressions_version)
            else:
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


@dataclass
class Preloaded:
    """What a campaign partition loaded for all its recipients at once (see :func:`preloaded`)."""

    #: ``{(kind, ref): profile document}`` from :meth:`tailor.store.Store.load_profiles`
    profiles: Mapping[tuple[str, str], dict[str, Any]]
    #: a :class:`tailor.store.store.SuppressionIndex` for the same recipients
    suppressions: Any

    def profile(self, keys: Mapping[str, Any]) -> dict[str, Any] | None:
        for kind, ref in keys.items():
            doc = self.profiles.get(("id" if kind == "anonymous_id" else kind, str(ref)))
            if doc is not None:
                return dict(doc)  # the render merges trait overrides into its copy
        return None


_preloaded: contextvars.ContextVar[Preloaded | None] = contextvars.ContextVar("tailor_preloaded", default=None)


@contextmanager
def preloaded(profiles: Mapping[tuple[str, str], dict[str, Any]], suppressions: Any) -> Iterator[None]:
    """Within this block, renders take profiles and suppressions from what was loaded in bulk.

    A campaign partition loads its recipients in two queries and its suppressions in one;
    without this each render would make its own three. Only for exactly the recipients
    loaded: a reference missing from ``profiles`` renders as unknown.
    """
    token = _preloaded.set(Preloaded(profiles, suppressions))
    try:
        yield
    finally:
        _preloaded.reset(token)


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
    #: the recipient's address (None when the profile has none)
    email: str | None = None
    #: the send time
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the recipient's locale, time zone and the email's currency
    formatting: Formatting = field(default_factory=Formatting)
    #: in the global control group (``monitor: outcomes: control_share``): not personalized
    control: bool = False
    segments: list[str] = field(default_factory=list)


def _missing_sqlite_file(url: str) -> bool:
    """True for ``sqlite:///path`` URLs whose file does not exist (``:memory:`` excluded), without SQLAlchemy."""
    if not url.startswith("sqlite:///"):
        return False
    path = url[len("sqlite:///") :].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def esp_send_key(send_id: str, profile_id: str | None, address: str | None) -> str:
    """One recipient's share of an ESP send: ESPs reuse one ``send_id`` for a whole campaign.

    Without a profile id the address is hashed: the key is stored in the journal. A key longer
    than the journal's column (a long send id and profile id together) is fitted to it
    (:func:`~tailor.profile.fitted_id`).
    """
    import hashlib

    who = profile_id or ("h" + hashlib.sha256((address or "").lower().encode()).hexdigest()[:24])
    return fitted_id(f"esp:{send_id}:{who}")


def _uses_recs(compiled: CompiledTemplate) -> bool:
    if compiled.settings.get("recs") is not None:
        return compiled.settings.get("recs") is not False
    return compiled.mentions("recs")
