"""The user guide's shortcut table is the one shortcut table; documentation links resolve;
`radlens --help` tells how to open the viewer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.*)$", path.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_user_guide_table_is_generated_from_the_shortcut_table():
    pytest.importorskip("PySide6")
    from viewer.ui.shortcuts import with_markdown_table

    guide = (ROOT / "docs" / "USER_GUIDE.md").read_text(encoding="utf-8")
    assert guide == with_markdown_table(guide), "run python scripts/update_shortcut_table.py"
    for keys in ("| L |", "| E |", "| Delete |", "| Ctrl+T |", "| Ctrl+I |", "| Shift+O |"):
        assert keys in guide


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_between_documents_and_sections_resolve(doc):
    dangling = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue  # a web address
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if (
            not linked.exists()
            or anchor
            and linked.suffix == ".md"
            and anchor not in _anchors(linked)
        ):
            dangling.append(target)
    assert not dangling, f"{doc.name}: links to nothing: {dangling}"
    assert "sections written by" not in doc.read_text(encoding="utf-8")


def test_radlens_help_tells_how_to_open_the_viewer(capsys):
    from viewer.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for expected in ("--demo", "--screenshot FILE", "PATH", "DICOMDIR", "COMMAND"):
        assert expected in text
