"""WSGI entry point for gunicorn: ``gunicorn 'tailor.web.wsgi:application'``.

Each worker builds its own app (templates and rules compiled at worker start).
``TAILOR_BIND_HOST`` tells the app which interface it listens on (for the loopback rule).
"""

from __future__ import annotations

import os

from tailor.web.app import create_app

application = create_app(bind_host=os.environ.get("TAILOR_BIND_HOST", "127.0.0.1"))
