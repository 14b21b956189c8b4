"""A folder the test process cannot write into, for root (CI containers) and other users alike."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def unwritable_folder(tmp_path) -> Path:
    """A read-only folder: chmod 0555 for a normal user; for root, which ignores modes, sysfs."""
    if os.name != "nt" and os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    folder = Path("/sys/kernel")
    if not folder.is_dir() or _writable(folder):
        pytest.skip("running as root with no read-only folder to write into")
    yield folder


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
