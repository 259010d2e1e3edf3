"""WSGI entry point for gunicorn: ``gunicorn 'tailor.web.wsgi:application'``.

Each worker builds its own app (templates and rules compiled at worker start).
``TAILOR_BIND_HOST`` (set by ``tailor serve --workers N``) is the interface gunicorn
listens on: a worker refuses to start on a non-loopback one with no credentials
configured. Who is trusted is decided per request from the caller's address.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from tailor.config import Settings
from tailor.store.engine import missing_sqlite_path
from tailor.web.app import create_app
from tailor.web.logs import install_json_logging, log

logger = logging.getLogger(__name__)


def _refuse_missing_store() -> None:
    """A worker (re)started after its SQLite file vanished must not create an empty store.

    Exit code 3 is gunicorn's "worker failed to boot": the arbiter stops instead of
    respawning workers that would each fail the same way.
    """
    missing = missing_sqlite_path(_settings.database_url)
    if missing is not None:
        print(f"error: the store {missing} does not exist (see `tailor serve --create-store`)", file=sys.stderr)
        sys.exit(3)


install_json_logging()
_settings = Settings.load()
_refuse_missing_store()
application = create_app(_settings, bind_host=_settings.bind_host)
_tailor = application.extensions["tailor"]
_ = _tailor.recommender  # each worker loads its models before serving
for _name in _tailor.template_names():
    with contextlib.suppress(Exception):  # a broken template is reported by /healthz; the others serve
        _tailor.compile(_name)
if _settings.warm:
    # compile templates, load rules and fit/load the recommender before the first request
    for _what, _error in application.extensions["tailor"].warm().items():
        log(logger, logging.WARNING, "warm-up failed; will retry on first use", what=_what, error=_error)
