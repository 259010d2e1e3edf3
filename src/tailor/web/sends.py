"""Idempotent sends: the same ``send_id`` gets the same answer and counts once.

Braze renders a message several times for one recipient (HTML, text, AMP, retries) and
caches GET responses for 5 minutes; tailor keeps each answer for longer than that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class SendCache:
    """A bounded, thread-safe LRU of answers keyed by send, with a time-to-live."""

    def __init__(self, max_entries: int = 20_000, ttl_seconds: float = 900.0):
        self.max_entries = max_entries
        self.ttl = ttl_seconds
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            expires, value = found
            if expires < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer (after an erasure: nothing rendered for that person may be served again)."""
        with self._lock:
            self._items.clear()
