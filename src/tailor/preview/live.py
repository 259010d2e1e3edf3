"""The live edit loop: one cheap token that changes whenever what a preview shows may have changed."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tailor.core import Tailor
from tailor.watch import folder_stamp


@dataclass
class LiveState:
    """What the page polls: a version token and the problems of a broken edit (empty when fine)."""

    version: str
    template_version: str | None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "template_version": self.template_version,
            "errors": self.errors,
            "ok": not self.errors,
        }


class Watcher:
    """Answers "did anything change?" from the workspace's stamp; the checks only run after a change."""

    def __init__(self, tailor: Tailor, extra: tuple[Path, ...] = ()):
        self.tailor = tailor
        self.extra = extra
        self._cache: dict[tuple[str, str], LiveState] = {}
        self._lock = threading.Lock()

    def state(self, template: str) -> LiveState:
        workspace = self.tailor.workspace
        # fresh: the page polls to see an edit now, not after the serving path's once-a-second look
        stamp = _digest((workspace.watch.stamp(fresh=True), *(folder_stamp(Path(p)) for p in self.extra)))
        key = (template, stamp)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        state = self._compute(template, stamp)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != template}
            self._cache[key] = state
        return state

    def _compute(self, template: str, stamp: str) -> LiveState:
        errors = [str(p) for p in self.tailor.workspace.reading().problems if p.severity == "error"]
        template_version = self._template_version(template, errors) if template else None
        token = hashlib.sha256(json.dumps([stamp, template_version, errors]).encode()).hexdigest()[:16]
        return LiveState(token, template_version, errors)

    def _template_version(self, template: str, errors: list[str]) -> str | None:
        """The version the files compile to now, or None (problems appended to ``errors``)."""
        from tailor.problems import ProblemError
        from tailor.rendering.compiler import UnknownTemplate

        # compile_fresh, not get(): get() keeps the last good version, so it would hide a broken edit
        try:
            return self.tailor.compiler.compile_fresh(template).version
        except ProblemError as exc:
            errors.extend(str(p) for p in exc.problems)
        except UnknownTemplate as exc:
            errors.append(str(exc))
        return None


def _digest(stamp: tuple) -> str:
    return hashlib.sha256(repr(stamp).encode()).hexdigest()
