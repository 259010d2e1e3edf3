"""Structured JSON-lines logs with no personal data in them."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

LOGGER_NAME = "tailor"
#: what a caller-chosen label (request id, template name) may look like to be logged or echoed
_LABEL = re.compile(r"[A-Za-z0-9._-]{1,64}")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}) or {})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is now (servers and test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break a request
            self.handleError(record)


def install_json_logging(level: int = logging.INFO) -> None:
    """The service's logging: every ``tailor.*`` record as one JSON line on stderr.

    The library only logs (``logging.getLogger(__name__)``); the program that serves,
    ``tailor serve`` and each gunicorn worker, installs this, once. An embedding program
    keeps its own logging configuration.
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h.formatter, JSONFormatter) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JSONFormatter())
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def log(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with ``fields`` (the JSON formatter writes them as keys).

    Callers pass ids, names of templates and reasons — never emails or names.
    """
    logger.log(level, message, extra={"fields": fields})


def safe_label(value: Any, replacement: str | None = None) -> str | None:
    """``value`` when it is a plain label (``[A-Za-z0-9._-]``, at most 64 characters), else ``replacement``.

    Request ids and template names come from callers: unchecked, they could forge log
    lines, flood the log, or carry an email address into it.
    """
    if isinstance(value, str) and _LABEL.fullmatch(value):
        return value
    return replacement
