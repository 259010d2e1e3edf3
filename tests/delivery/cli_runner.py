"""Run the real ``tailor`` command line in a subprocess with the delivery settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SENDER = "Shop <news@shop.example>"


def tailor_command(*args: str, cwd: Path, env: dict[str, str] | None = None, wait: bool = True):
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "TAILOR_SMTP_FROM": SENDER,
        "TAILOR_PUBLIC_URL": "https://mail.shop.example",
        **(env or {}),
    }
    command = [sys.executable, "-c", "from tailor.cli import main; main()", *args]
    if wait:
        return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
