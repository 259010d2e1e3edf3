"""WSGI entry point for gunicorn: ``gunicorn 'tailor.web.wsgi:application'``.

Each worker builds its own app, then :meth:`~tailor.core.Tailor.warm` pays what the
first request would (rules, every template compiled once, the recommender), unless
``TAILOR_WARM=0``. ``TAILOR_BIND_HOST`` (set by ``tailor serve --workers N``) is the
interface gunicorn listens on: a worker refuses to start on a non-loopback one with no
credentials configured. Who is trusted is decided per request from the caller's address.
"""

from __future__ import annotations

import logging
import sys

from tailor.config import Settings
from tailor.store.engine import missing_sqlite_path
from tailor.web.app import create_app
from tailor.web.logs import install_json_logging, log

logger = logging.getLogger(__name__)


def _refuse_missing_store(settings: Settings) -> None:
    """A worker (re)started after its SQLite file vanished must not create an empty store.

    Exit code 3 is gunicorn's "worker failed to boot": the arbiter stops instead of
    respawning workers that would each fail the same way.
    """
    missing = missing_sqlite_path(settings.database_url)
    if missing is not None:
        print(f"error: the store {missing} does not exist (see `tailor serve --create-store`)", file=sys.stderr)
        sys.exit(3)


install_json_logging()
_settings = Settings.load()
_refuse_missing_store(_settings)
application = create_app(_settings, bind_host=_settings.bind_host)
if _settings.warm:
    for _what, _error in application.extensions["tailor"].warm().items():
        log(logger, logging.WARNING, "warm-up failed; will retry on first use", what=_what, error=_error)
