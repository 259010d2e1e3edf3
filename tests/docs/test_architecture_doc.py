"""docs/architecture.md draws the code: every module, file or folder it names must exist.

A module moved or renamed without the drawing following would otherwise leave the
one map of the code pointing at nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "src" / "tailor"

#: ``web/ops.py``, ``store/lazy.py``, ``core.py`` (under src/tailor) or ``tests/...py``
FILE = re.compile(r"(?<![\w./])(?P<path>(?:[a-z_]+/)*[a-z_]+\.py)\b")
#: a folder in the drawn tree: ``  store/   SQLAlchemy models...``
TREE_FOLDER = re.compile(r"^\s{2}(?P<folder>[a-z_]+/)\s", re.M)
#: ``tailor.web.auth`` or ``tailor.features.compute_features``
DOTTED = re.compile(r"\btailor(?:\.\w+)+")
#: dotted names in the doc that are not Python names
NOT_PYTHON = {
    "tailor.toml": "the settings file",
    "tailor.metrics": "an app.extensions key",
    "tailor.sends": "an app.extensions key",
}


def named_files(text: str) -> set[str]:
    return {m.group("path") for m in FILE.finditer(text)}


def test_every_file_and_folder_the_doc_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    files = named_files(text)
    folders = {m.group("folder") for m in TREE_FOLDER.finditer(text)}
    assert {"workspace.py", "core.py", "store/lazy.py", "web/ops.py"} <= files, "the drawing names the modules"
    assert {"store/", "rules/", "experiments/"} <= folders
    missing = [f for f in sorted(files) if not (ROOT / f if f.startswith("tests/") else PACKAGE / f).is_file()]
    missing += [f for f in sorted(folders) if not (PACKAGE / f).is_dir()]
    assert not missing, f"docs/architecture.md names what src/tailor does not have: {missing}"


def test_every_dotted_name_the_doc_uses_resolves() -> None:
    names = set(DOTTED.findall(DOC.read_text(encoding="utf-8")))
    assert "tailor.web" in names or any(n.startswith("tailor.") for n in names)
    unresolved = [name for name in sorted(names - set(NOT_PYTHON)) if not _resolves(name)]
    assert not unresolved, f"docs/architecture.md names modules or objects that do not exist: {unresolved}"


def test_a_missing_module_is_caught() -> None:
    """The check itself: a name the code does not have is reported."""
    assert not (PACKAGE / "workspaces.py").is_file() and "workspaces.py" in named_files("see `workspaces.py`")
    assert not _resolves("tailor.no_such_module") and _resolves("tailor.workspace.Workspace")


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            continue
        target: object = importlib.import_module(module_name)
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False
