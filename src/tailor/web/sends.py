"""Idempotent sends: the same ``send_id`` gets the same answer and counts once.

Braze renders a message several times for one recipient (HTML, text, AMP, retries) and
caches GET responses for 5 minutes; tailor keeps each answer for longer than that.

One process keeps the answers in memory (:class:`SendCache`). Several workers or hosts
behind a load balancer share them in Redis (:class:`RedisSendCache`, ``TAILOR_REDIS_URL``):
a repeat that lands on another worker gets the same answer instead of a second render.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Hashable
from typing import Any

from tailor.caches import TTLCache
from tailor.strict_json import loads_stored
from tailor.web.body import encode
from tailor.web.logs import log

logger = logging.getLogger(__name__)


class SendCache(TTLCache):
    """The answers of recent sends, for longer than Braze's 5 minutes; bounded, shared by the request threads."""

    def __init__(self, max_entries: int = 20_000, ttl_seconds: float = 900.0):
        super().__init__(ttl=ttl_seconds, maxsize=max_entries)

    def put(self, key: Hashable, value: Any) -> None:
        self.set(key, value)


class RedisSendCache:
    """:class:`SendCache` in Redis, shared by every worker and host that uses the same Redis.

    Answers are stored as JSON under a hash of the send key (the key holds recipient
    references, which stay out of Redis) with the same time-to-live. Redis being
    unreachable is a miss, logged: the send is rendered again rather than refused
    (a repeated send still counts one exposure, which the store keys on the send).
    """

    PREFIX = "tailor:send:"

    def __init__(self, url: str, ttl_seconds: float = 900.0, *, client: Any = None):
        import redis

        self.ttl = ttl_seconds
        self.client = client or redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._errors = (redis.RedisError, OSError)

    def _name(self, key: Hashable) -> str:
        return self.PREFIX + hashlib.sha256(encode(key)).hexdigest()

    def get(self, key: Hashable) -> Any | None:
        try:
            found = self.client.get(self._name(key))
        except self._errors as exc:
            log(logger, logging.WARNING, "send cache unreachable: answering without it", error=type(exc).__name__)
            return None
        return None if found is None else loads_stored(found)

    def put(self, key: Hashable, value: Any) -> None:
        try:
            # the answer's own encoder: what orjson refuses (an integer beyond 64 bits) must not fail a send
            self.client.set(self._name(key), encode(value), ex=max(1, round(self.ttl)))
        except self._errors as exc:
            log(logger, logging.WARNING, "send cache unreachable: answer not shared", error=type(exc).__name__)

    def clear(self) -> None:
        """Forget every answer, on every worker (an erasure: nothing rendered for that person may be served)."""
        names = list(self.client.scan_iter(match=self.PREFIX + "*", count=1000))
        for start in range(0, len(names), 1000):
            self.client.unlink(*names[start : start + 1000])


def send_cache(redis_url: str | None) -> SendCache | RedisSendCache:
    """The send cache a server uses: shared in Redis when ``TAILOR_REDIS_URL`` is set, else in memory."""
    return RedisSendCache(redis_url) if redis_url else SendCache()
