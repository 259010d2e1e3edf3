"""The QA preview studio under ``/preview/``: templates, renders with their reasons, persona grid, live edits.

The studio shows stored people's data, so it is under the app's authentication policy
(:mod:`tailor.web.auth`): with credentials configured, a browser signs in at
``/preview/login`` with an API token (a signed, HttpOnly, SameSite=Strict session
cookie) or sends the token by HTTP basic auth. Its renders never record experiment
exposures: nobody was sent anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from tailor.core import Tailor
from tailor.preview.faults import FAULTS, persona_faults
from tailor.preview.grid import varying_slots
from tailor.preview.live import Watcher
from tailor.preview.masking import mask_emails
from tailor.preview.overview import check_problems, summarize
from tailor.preview.personas import persona_sets, read_personas
from tailor.preview.session import PreviewOutcome, PreviewRequest, panel_for, render_preview
from tailor.preview.ui import STATIC_DIR, TEMPLATES_DIR
from tailor.problems import Problem, ProblemError
from tailor.web.auth import local_next, on_register, policy_of
from tailor.web.body import json_response
from tailor.web.logs import log

logger = logging.getLogger(__name__)

#: app.config keys (with their defaults) the studio reads
PERSONAS_KEY = "TAILOR_PERSONAS"
DEFAULT_PERSONAS = "fixtures/personas"
AT_KEY = "TAILOR_PREVIEW_AT"
MASK_KEY = "TAILOR_PREVIEW_MASK"


def create_preview_blueprint(tailor: Tailor) -> Blueprint:
    """The studio's routes, bound to one :class:`Tailor`."""
    bp = Blueprint(
        "preview",
        __name__,
        url_prefix="/preview",
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
        static_url_path="/static",
    )
    bp.record_once(on_register(tailor.settings))
    studio = Studio(tailor)
    bp.record_once(lambda state: state.app.extensions.update({_KEY: studio}))
    for rule, view, methods in _ROUTES:
        bp.add_url_rule(rule, view_func=view, methods=methods)
    bp.register_error_handler(Exception, _readable)
    install(bp, tailor)
    return bp


#: the app.extensions key of the studio's state
_KEY = "tailor.preview"


class Studio:
    """What the studio's views share: the :class:`Tailor`, and one file watcher per personas folder."""

    def __init__(self, tailor: Tailor):
        self.tailor = tailor
        self.watchers: dict[str, Watcher] = {}

    def personas_dir(self) -> Path:
        return Path(current_app.config.get(PERSONAS_KEY) or DEFAULT_PERSONAS)

    def personas(self, persona_set: str = "") -> tuple[dict[str, dict[str, Any]], str | None]:
        """The good personas (of ``persona_set``), and what was wrong with the files skipped."""
        folder = self.personas_dir()
        if persona_set:
            if persona_set not in persona_sets(folder):
                return {}, f"unknown persona set {persona_set!r} (known: {', '.join(persona_sets(folder)) or 'none'})"
            folder = folder / persona_set
        found, problems = read_personas(folder)
        # a broken file is skipped and named: the other personas stay on screen
        return found, "\n".join(f"{p} (skipped)" for p in problems) or None

    def watcher(self) -> Watcher:
        folder = str(self.personas_dir())
        if folder not in self.watchers:
            self.watchers[folder] = Watcher(self.tailor, extra=(Path(folder),))
        return self.watchers[folder]


def _studio() -> Studio:
    return current_app.extensions[_KEY]


def _preview_request() -> PreviewRequest:
    req = PreviewRequest.from_values(request.values, mask_default=bool(current_app.config.get(MASK_KEY, True)))
    if g.get("auth") is None:  # unmasking is for a signed-in user (or the dev-mode loopback caller) only
        req.mask = True
    if not req.at and "at" not in request.values:
        req.at = str(current_app.config.get(AT_KEY) or "")
    return req


def _persona_labels(found: dict[str, dict[str, Any]], mask: bool = True) -> dict[str, str]:
    labels = {}
    for name, doc in found.items():
        email = str(doc.get("email") or "")
        labels[name] = f"{name} · {mask_emails(email) if mask else email}" if email else name
    return labels


def index() -> str:
    studio = _studio()
    tailor = studio.tailor
    found, persona_error = studio.personas()
    problems = check_problems(tailor)
    return render_template(
        "preview/index.html",
        templates=summarize(tailor, problems),
        problems=problems,
        personas=_persona_labels(found),
        persona_error=persona_error,
        personas_dir=studio.personas_dir(),
        state=studio.watcher().state(""),
        templates_dir=tailor.templates_dir,
        at=current_app.config.get(AT_KEY) or "",
    )


def render_view() -> str:
    studio = _studio()
    tailor = studio.tailor
    req = _preview_request()
    found, persona_error = studio.personas(req.persona_set)
    if not req.template and tailor.template_names():
        req.template = tailor.template_names()[0]
    if req.source == "persona" and not req.persona and found:
        req.persona = next(iter(found))
    outcome = render_preview(tailor, found, req)
    return render_template(
        "preview/render.html",
        req=req,
        outcome=outcome,
        panel=panel_for(tailor, outcome),
        templates=tailor.template_names(),
        personas=_persona_labels(found, req.mask),
        persona_error=persona_error,
        state=studio.watcher().state(req.template),
    )


def render_api() -> Response:
    studio = _studio()
    req = _preview_request()
    found, _ = studio.personas(req.persona_set)
    outcome = render_preview(studio.tailor, found, req)
    fragment = render_template(
        "preview/_result.html", req=req, outcome=outcome, panel=panel_for(studio.tailor, outcome)
    )
    return json_response(
        {
            "ok": outcome.email is not None,
            "error": outcome.error,
            "html": fragment,
            "template_version": outcome.email.template_version if outcome.email else None,
            "blocks": outcome.email.blocks if outcome.email else {},
        },
        no_store=True,
    )


def grid() -> str:
    studio = _studio()
    tailor = studio.tailor
    req = _preview_request()
    found, persona_error = studio.personas(req.persona_set)
    if not req.template and tailor.template_names():
        req.template = tailor.template_names()[0]
    outcomes: dict[str, PreviewOutcome] = {}
    for name in found:
        one = replace(req, persona=name, ref="", profile="")
        outcomes[name] = render_preview(tailor, found, one)
    varying = varying_slots(outcomes.values())
    slots = sorted({s for o in outcomes.values() if o.email for s in o.email.blocks} | set(varying))
    return render_template(
        "preview/grid.html",
        req=req,
        outcomes=outcomes,
        varying=varying,
        slots=slots,
        # a persona rendered under a declared fault says so on its card (its recs-* fallbacks are on purpose)
        faults={name: [FAULTS[f] for f in persona_faults(doc)] for name, doc in found.items()},
        templates=tailor.template_names(),
        persona_error=persona_error,
        state=studio.watcher().state(req.template),
    )


def version() -> Response:
    """Polled about every second by open pages: changes when a template, rule or persona file does."""
    return json_response(_studio().watcher().state(request.args.get("template", "")).as_dict(), no_store=True)


def _readable(exc: Exception) -> Any:
    # a studio page never ends blank or as a bare stack trace: say what happened, in the page
    if isinstance(exc, HTTPException):
        return exc
    log(logger, logging.ERROR, "preview error", error=type(exc).__name__)
    message = f"{type(exc).__name__}: {exc}"
    if request.path.startswith("/preview/api/"):
        return json_response({"ok": False, "error": message, "errors": [message]}, 500, no_store=True)
    return render_template("preview/error.html", message=message), 500


def login() -> Any:
    """``/preview/login``: an API token starts a studio session."""
    policy = policy_of(current_app)
    target = local_next(request.values.get("next") or "/preview/")
    if not policy.settings.has_credentials:  # dev mode: nothing to sign in with
        return redirect(target, 303)
    if request.method == "POST":
        if policy.login(request.form.get("token", "")):
            log(logger, logging.INFO, "studio sign-in")
            return redirect(target, 303)
        log(logger, logging.WARNING, "studio sign-in refused")
        return render_template("preview/login.html", next=target, error="That is not an API token of this server."), 401
    return render_template("preview/login.html", next=target, error=None)


def logout() -> Any:
    session.clear()
    return redirect(url_for("preview.login"), 303)


def experiments_list() -> str:
    """``/preview/experiments``: every experiment with its status."""
    from tailor.experiments import report_from_store

    tailor = _studio().tailor
    found, problems = _experiments(tailor)
    store = tailor.store
    rows = [
        {"experiment": experiment, "report": report_from_store(store, experiment) if store is not None else None}
        for experiment in found.values()
    ]
    return render_template("preview/experiments.html", rows=rows, problems=problems, has_store=store is not None)


def experiment_view(name: str) -> Any:
    """``/preview/experiments/<name>``: one experiment's results."""
    from tailor.experiments import report_from_store
    from tailor.preview.experiments import view

    tailor = _studio().tailor
    found, _ = _experiments(tailor)
    if name not in found:
        return render_template("preview/error.html", message=f"unknown experiment {name!r}"), 404
    store = tailor.store
    if store is None:
        message = "no store is configured (database_url): there are no exposures to report"
        return render_template("preview/error.html", message=message), 404
    return render_template("preview/experiment.html", **view(report_from_store(store, found[name]), found[name]))


def _experiments(tailor: Tailor) -> tuple[dict[str, Any], list[Problem]]:
    """The experiments that serve (the current good rules) and the rule files' experiment problems."""
    problems = tailor.workspace.reading(fresh=True).experiment_problems
    try:
        return tailor.experiments, problems
    except ProblemError:  # the rules never loaded: nothing runs
        return {}, problems


def send_test_api() -> Response:
    """``POST /preview/api/send-test``: the rendered email to the seed list (``TAILOR_TEST_RECIPIENTS``).

    The same as ``tailor send-test``: one persona, "[TEST]" subject, the SMTP setting,
    nothing counted for the persona. Answers ``{"ok", "sent": [masked seeds], "error"}``.
    """
    from tailor.delivery.seeds import send_test
    from tailor.delivery.smtp import RelayUnusable
    from tailor.email import TailorError

    studio = _studio()
    found, _ = studio.personas()
    req = _preview_request()
    if req.persona not in found:
        return json_response({"ok": False, "error": "choose a persona to send a test"}, 400, no_store=True)
    try:
        report = send_test(studio.tailor, req.template, found[req.persona], at=req.at or None)
    except (ValueError, TailorError, RelayUnusable) as exc:
        return json_response({"ok": False, "error": str(exc)}, 422, no_store=True)
    seeds = list(studio.tailor.settings.test_recipients)
    results = [
        {"to": mask_emails(seed), "status": o.status, "error": o.error}
        for seed, o in zip(seeds, report.outcomes, strict=False)
    ]
    ok = all(o.status == "sent" for o in report.outcomes)
    log(logger, logging.INFO, "studio test send", template=req.template, outcome=report.summary())
    return json_response(
        {"ok": ok, "sent": results, "error": None if ok else report.summary()}, 200 if ok else 502, no_store=True
    )


def outcomes() -> Any:
    """``/preview/outcomes``: sends and their outcomes per template, block, rule, segment, recommender."""
    from datetime import timedelta

    from tailor.monitor.outcomes import report_from_store
    from tailor.preview.outcomes import view
    from tailor.vocabulary.times import to_utc

    tailor = _studio().tailor
    store = tailor.store
    if store is None:
        message = "no store is configured (database_url): there are no sends to report"
        return render_template("preview/error.html", message=message), 404
    at = to_utc(current_app.config.get(AT_KEY) or datetime.now(UTC))
    moments = {}
    for name in ("since", "until"):
        text = request.args.get(name)
        if text:
            moments[name] = to_utc(text)
            if moments[name] is None:
                return render_template("preview/error.html", message=f"{name}: not a date: {text!r}"), 400
    until = moments.get("until") or at
    since = moments.get("since") or until - timedelta(days=28)
    report = report_from_store(store, tailor.monitor.outcomes, since=since, until=until, at=max(at, until))
    return render_template("preview/outcomes.html", **view(report))


#: (rule, view, methods): the endpoint is the view's name (``preview.<name>`` in url_for and the policy)
_ROUTES: list[tuple[str, Callable[..., Any], list[str]]] = [
    ("/login", login, ["GET", "POST"]),
    ("/logout", logout, ["GET", "POST"]),
    ("/", index, ["GET"]),
    ("/render", render_view, ["GET", "POST"]),
    ("/api/render", render_api, ["GET", "POST"]),
    ("/grid", grid, ["GET"]),
    ("/experiments", experiments_list, ["GET"]),
    ("/experiments/<name>", experiment_view, ["GET"]),
    ("/outcomes", outcomes, ["GET"]),
    ("/api/version", version, ["GET"]),
    ("/api/send-test", send_test_api, ["POST"]),
]

# the QA pages (audience dry run, diff, persona sets, variants) register themselves on these routes
from tailor.web.preview_qa import QA_ROUTES, install  # noqa: E402 - they use the helpers above

_ROUTES += QA_ROUTES
