"""Keep personal data out of third-party log lines (Werkzeug's access log, mostly).

tailor's own logs carry ids and reasons only (:mod:`tailor.web.logs`). Werkzeug's
development server logs every request line — path *and query string* — so
``GET /v1/content/welcome/hero?recipient=ann@example.com`` would put an address in
the log. :func:`install_log_redaction` adds a filter to the ``werkzeug`` and
``gunicorn.access`` loggers that drops query strings and masks anything that looks
like an email address.
"""

from __future__ import annotations

import logging
import re
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+^_`{|}~-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
#: a query string in a request line: from ``?`` to the next space or quote
QUERY = re.compile(r"\?[^\s\"']*")
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def redact(text: str) -> str:
    """``text`` without query strings and with email addresses masked."""
    return EMAIL.sub("<email>", QUERY.sub("?<redacted>", text))


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and arguments (never drops the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Add the redacting filter to the loggers that write request lines (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
