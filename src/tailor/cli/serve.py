"""``tailor serve``: the HTTP service (Werkzeug for one worker, gunicorn for several)."""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import TYPE_CHECKING

import click

from tailor.cli.common import fail, require_extra, settings_from
from tailor.config import ConfigError

if TYPE_CHECKING:  # imported when serving starts, not for every `tailor` command
    from tailor.config import Settings
    from tailor.core import Tailor


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="More than 1 runs gunicorn.")
@click.option("--warm/--no-warm", default=True, show_default=True, help="Compile every template before serving.")
@click.option(
    "--create-store", is_flag=True, help="Create an empty SQLite store when the configured file does not exist."
)
def serve(host: str, port: int, workers: int, warm: bool, create_store: bool) -> None:
    """Serve the webhook API and the preview UI.

    Refuses to listen beyond loopback (0.0.0.0, ::, "", a LAN address) with no
    credential configured: set TAILOR_SECRET / TAILOR_API_TOKENS / TAILOR_WRITE_KEYS.
    Refuses a SQLite store file that does not exist unless --create-store is given.
    """
    from tailor.web.app import check_bind

    settings = settings_from({})
    try:
        check_bind(host, settings)
    except ConfigError as exc:
        fail(str(exc))
    _require_store(settings.database_url, create=create_store)
    if workers > 1:
        require_extra("gunicorn", "serve", "tailor serve --workers")
        env = dict(os.environ, TAILOR_BIND_HOST=host)
        # every worker writes its metrics here; /metrics sums them (prometheus multiprocess mode)
        if settings.metrics_dir is None:
            import tempfile

            env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tailor-metrics-")
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"{host}:{port}",
            # no gunicorn access log: each request already has one JSON "request" line from
            # tailor (id, route, status, latency, outcome); a second line per request, run
            # through the redacting filter, cost more than the rest of the logging
            "tailor.web.wsgi:application",
        ]
        os.execvpe(args[0], args, env)
    from tailor.web.app import create_app
    from tailor.web.logs import install_json_logging

    install_json_logging()
    app = create_app(settings, bind_host=host)
    if warm:
        # keep serving the other templates when one is broken; /healthz shows it
        for name, error in app.extensions["tailor"].warm().items():
            click.echo(f"warning: {name}: {error}", err=True)
    base = f"http://{host}:{port}"
    click.echo(f"tailor is serving on {base}")
    click.echo(f"  render API:   POST {base}/v1/render")
    click.echo(f"  preview UI:   {base}/preview/")
    click.echo(f"  health:       {base}/healthz    metrics: {base}/metrics    OpenAPI: {base}/openapi.json")
    if settings.has_credentials:
        click.echo(f'  every route needs credentials (see README "Security"); studio sign-in: {base}/preview/login')
    else:
        click.echo("  try it:")
        body = '{"template": "newsletter", "recipient": {"id": "u-00001"}}'
        click.echo(
            f"    curl -s {base}/v1/render -H 'Content-Type: application/json' -d '{body}'"
            " | python3 -m json.tool | head -20"
        )
    _reload_models_on_sighup(app.extensions["tailor"], settings)
    _exit_on_sigterm()
    try:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True, use_reloader=False)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")


def _require_store(database_url: str, *, create: bool) -> None:
    """Refuse to serve a SQLite store whose file is missing, unless asked to create it.

    A missing file is a deleted or mistyped store far more often than a wish to start
    empty: serving would create a new empty file and answer every render with no data.
    """
    from tailor.store.engine import missing_sqlite_path

    path = missing_sqlite_path(database_url)
    if path is None:
        return
    if not create:
        fail(
            f"the store {path} does not exist: create it by loading data (`tailor ingest FILE...`) "
            "or start empty with `tailor serve --create-store`"
        )
    from tailor.store import Store

    try:
        with Store(database_url) as store:
            store.migrate()
    except Exception as exc:  # an unwritable folder: one clear line, no traceback
        fail(f"cannot create the store {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    click.echo(f"created an empty store at {path}", err=True)


def _exit_on_sigterm() -> None:
    """``kill -TERM`` exits through the interpreter's shutdown, so the journaled send records
    are flushed into the store first (an ``atexit`` of :mod:`tailor.monitor.send_journal`).

    Python's default would end the process on the spot; nothing would be lost (the next
    start inserts the journal) but the rows would wait for it. gunicorn workers already
    exit this way on SIGTERM.
    """
    import signal

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def _reload_models_on_sighup(tailor: Tailor, settings: Settings) -> None:
    """``kill -HUP`` loads the trained versions that serve (``rollout.json``) without a restart.

    (Under gunicorn, SIGHUP restarts the workers gracefully and each loads them. A change
    to ``rollout.json`` is also picked up within a second without any signal.)
    """
    import signal

    def reload(signum: int, frame: FrameType | None) -> None:
        loaded = tailor.recommender.reload(settings.artifacts)
        click.echo(
            f"SIGHUP: {'loaded the serving' if loaded else 'no'} recommendation artifacts in {settings.artifacts}",
            err=True,
        )

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, reload)
