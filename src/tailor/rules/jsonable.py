"""Turn trace values into JSON: the trace is part of API responses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import Undefined

#: Longest list shown in a trace; a profile's 500 events are not useful there.
MAX_ITEMS = 20


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-serializable rendering of ``value`` (lossy for exotic objects)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Undefined):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if depth > 4:
        return repr(value)
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return jsonable(as_dict(), depth + 1)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, depth + 1) for v in list(items)[:MAX_ITEMS]]
    return repr(value)
