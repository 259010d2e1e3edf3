"""WSGI entry point for gunicorn: ``gunicorn 'tailor.web.wsgi:application'``.

Each worker builds its own app (templates and rules compiled at worker start).
``TAILOR_BIND_HOST`` (set by ``tailor serve --workers N``) is the interface gunicorn
listens on: a worker refuses to start on a non-loopback one with no credentials
configured. Who is trusted is decided per request from the caller's address.
"""

from __future__ import annotations

import contextlib
import logging
import os

from tailor.web.app import create_app
from tailor.web.logs import log

application = create_app(bind_host=os.environ.get("TAILOR_BIND_HOST"))
_tailor = application.extensions["tailor"]
_ = _tailor.recommender  # each worker loads its models before serving
for _name in _tailor.template_names():
    with contextlib.suppress(Exception):  # a broken template is reported by /healthz; the others serve
        _tailor.compile(_name)
if os.environ.get("TAILOR_WARM", "1") != "0":
    # compile templates, load rules and fit/load the recommender before the first request
    for _what, _error in application.extensions["tailor"].warm().items():
        log(logging.WARNING, "warm-up failed; will retry on first use", what=_what, error=_error)
