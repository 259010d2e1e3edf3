"""The one time-to-live cache: cachetools' ``TTLCache`` behind a lock.

Answers of the external recommendation service and idempotent send answers are both kept
for a while and shared by the request threads; cachetools does the expiry and the LRU
eviction when full, the lock makes it safe to share (cachetools' caches are not).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import cachetools


class TTLCache:
    """A thread-safe LRU cache; entries expire ``ttl`` seconds after they were set (``ttl <= 0``: keeps nothing)."""

    def __init__(self, ttl: float = 60.0, maxsize: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.maxsize = maxsize
        self._data: cachetools.TTLCache[Hashable, Any] = cachetools.TTLCache(maxsize, max(ttl, 0), timer=clock)
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            return self._data.get(key)

    def set(self, key: Hashable, value: Any) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._data[key] = value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
