"""Rewrite the keyboard-shortcut table in docs/USER_GUIDE.md from viewer/ui/shortcuts.py."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from viewer.ui.shortcuts import with_markdown_table  # noqa: E402

GUIDE = ROOT / "docs" / "USER_GUIDE.md"

if __name__ == "__main__":
    GUIDE.write_text(with_markdown_table(GUIDE.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {GUIDE}")
