"""Run Python code in a fresh interpreter (so no other test's imports count); its answer is the
last line it prints, as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_fresh(code: str, *args: str, env: dict[str, str] | None = None, unset=()) -> Any:
    """`python -c code args...` from the repository root, with this checkout importable, the
    variables in `unset` removed and `env` added; asserts it exits 0 (its stderr otherwise)."""
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(env or {}, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
