"""Configuration is read from the environment in one place: ``Settings``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tailor.config import ConfigError, Settings

SRC = Path(__file__).resolve().parents[2] / "src" / "tailor"


def _environment_reads(path: Path) -> list[int]:
    """Lines reading ``os.environ[...]``, ``os.environ.get(...)`` or ``os.getenv(...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        is_os = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
        if is_os and node.attr in ("environ", "getenv"):
            found.append(node.lineno)
    return found


def test_only_settings_reads_the_environment():
    readers = {
        str(path.relative_to(SRC)): lines
        for path in sorted(SRC.rglob("*.py"))
        if (lines := _environment_reads(path)) and path.name != "config.py"
    }
    # `tailor serve` hands its gunicorn workers their settings through their environment
    assert readers == {"cli/serve.py": readers.get("cli/serve.py", [])}
    assert len(readers.get("cli/serve.py", [])) == 1


def test_what_used_to_be_read_on_the_side_is_a_setting(tmp_path):
    environ = {
        "TAILOR_RETENTION": str(tmp_path / "retention.yaml"),
        "TAILOR_BIND_HOST": "0.0.0.0",
        "TAILOR_WARM": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "TAILOR_MAILGUN_SIGNING_KEY": "key",
    }
    settings = Settings.load(None, environ)
    assert settings.retention_file == tmp_path / "retention.yaml" and settings.metrics_dir == tmp_path
    assert settings.bind_host == "0.0.0.0" and settings.warm is False and settings.mailgun_signing_key == "key"
    assert Settings.load(None, {}).warm is True and Settings().metrics_dir is None
    with pytest.raises(ConfigError, match="warm must be true or false"):
        Settings.load(None, {"TAILOR_WARM": "sometimes"})
