"""Compiled templates on disk, so a second process does not compile them again.

A template version is already the content hash of everything it is made of (see
``compiler.py``); a compiled version is kept under that hash together with what makes
the compiled code itself: tailor's rendering code, Jinja's version and Python's (the
code is stored as marshalled code objects, which only the same Python can load). An
edit, an upgrade or another interpreter is a different key: a miss, never a stale hit.

Loading runs the stored code, as Jinja's own ``FileSystemBytecodeCache`` does: the
folder must be as trusted as the templates folder (it is tailor's own, beside the
trained-model artifacts). Writes go to a temporary file renamed into place, so
processes sharing the folder never read half a file; any unreadable entry is a miss.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

import jinja2

#: the modules whose code decides what a compiled template is (the generated code included)
_COMPILING_MODULES = ("compiler", "environment", "filters", "inline", "mjml", "replay", "source", "text", "tokens")


@functools.cache
def _code_stamp() -> str:
    """A hash of tailor's compiling code, Jinja's version and Python's."""
    digest = hashlib.sha256(f"{jinja2.__version__} {sys.version}".encode())
    here = Path(__file__).resolve().parent
    for name in _COMPILING_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    digest.update((here.parent / "sandbox.py").read_bytes())  # its code generator writes the render code
    return digest.hexdigest()[:16]


class CompiledCache:
    """``{key: compiled pieces}`` in ``directory``; the compiler decides what a piece is."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)

    def _path(self, name: str, version: str) -> Path:
        safe = hashlib.sha256(name.encode()).hexdigest()[:12]
        return self.directory / f"{safe}-{version}-{_code_stamp()}.compiled"

    def load(self, name: str, version: str) -> dict[str, Any] | None:
        """The stored record, its ``code`` values turned back into code objects; None on a miss."""
        try:
            record = pickle.loads(self._path(name, version).read_bytes())
            record["code"] = {piece: marshal.loads(code) for piece, code in record["code"].items()}
        except (OSError, EOFError, ValueError, TypeError, KeyError, pickle.UnpicklingError):
            return None
        return record if isinstance(record, dict) else None

    def save(self, name: str, version: str, record: dict[str, Any]) -> None:
        """Store ``record`` (its ``code``: piece → code object); a folder that cannot be written is skipped."""
        stored = {**record, "code": {piece: marshal.dumps(code) for piece, code in record["code"].items()}}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp", delete=False) as fh:
                fh.write(pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(fh.name, self._path(name, version))
        except OSError:
            return  # a read-only deployment compiles in memory, as before
