"""The tag browser shows a real header as a tree and finds tags by keyword, number and value."""

from __future__ import annotations

import sys

import pydicom
import pytest
from PySide6.QtCore import Qt

from viewer.ui.tag_browser import TagBrowser, TagNode, dataset_nodes, filter_nodes

pytestmark = pytest.mark.gui
EXACT = Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive


def _header(path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


@pytest.fixture
def ct_header(ct_phantom_dir):
    return _header(ct_phantom_dir / "I10")


@pytest.fixture
def browser(qtbot):
    widget = TagBrowser()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_every_top_level_element_is_a_row(browser, ct_header):
    browser.set_dataset(ct_header)
    top_level = len(ct_header) + len(ct_header.file_meta)
    assert browser.tree.topLevelItemCount() == top_level
    assert browser.visible_tags()[0] == "(0002,0000)"
    assert "(7FE0,0010)" not in browser.visible_tags()  # header only, no pixel data


@pytest.mark.parametrize("query", ["PixelSpacing", "(0028,0030)", "00280030", "0028,0030"])
def test_search_finds_pixel_spacing_by_keyword_or_tag(browser, ct_header, qtbot, query):
    browser.set_dataset(ct_header)
    qtbot.keyClicks(browser.search, query)
    qtbot.waitUntil(lambda: browser.visible_tags() == ["(0028,0030)"], timeout=2000)
    (item,) = browser.tree.findItems("(0028,0030)", EXACT)
    assert item.text(3) == str(ct_header.PixelSpacing)


def test_search_by_value_finds_the_real_spacing(browser, ct_header, qtbot):
    browser.set_dataset(ct_header)
    spacing_text = str(ct_header.PixelSpacing[0])  # read independently of the browser
    browser.search.setText(spacing_text)
    qtbot.waitUntil(lambda: "(0008,0060)" not in browser.visible_tags(), timeout=2000)
    assert "(0028,0030)" in browser.visible_tags()
    browser.search.setText("")
    top_level = len(ct_header) + len(ct_header.file_meta)
    qtbot.waitUntil(lambda: browser.tree.topLevelItemCount() == top_level, timeout=2000)


def test_sequences_are_expanded_and_a_nested_hit_keeps_its_parents(browser, enhanced_mr_dir):
    header = _header(enhanced_mr_dir / "Philips" / "IM_0027_fMAP.dcm")
    browser.set_dataset(header)
    shared = browser.tree.findItems("(5200,9229)", EXACT)
    assert shared and shared[0].isExpanded()
    browser.apply_filter("MRTimingAndRelatedParametersSequence")
    shown = browser.visible_tags()
    assert shown[:3] == ["(5200,9229)", "Item 1", "(0018,9112)"]
    assert "(0028,0030)" not in shown


def test_nodes_mirror_the_dataset_without_qt(ct_header):
    nodes = dataset_nodes(ct_header)
    by_tag = {node.tag: node for node in nodes}
    assert by_tag["(0008,0060)"].value == ct_header.Modality
    assert by_tag["(0008,0060)"].name == "Modality"
    assert TagNode("(0010,0010)", "PatientName", "PN", "x").matches("0010,0010")
    assert not TagNode("(0010,0010)", "PatientName", "PN", "x").matches("Modality")


def test_filter_keeps_matches_with_subtrees_and_paths_to_deeper_matches():
    leaf = TagNode("(0018,0081)", "EchoTime", "DS", "4.6")
    item = TagNode(
        "Item 1", "", "", "", (leaf, TagNode("(0018,0080)", "RepetitionTime", "DS", "9"))
    )
    sequence = TagNode("(0018,9114)", "MREchoSequence", "SQ", "1 item(s)", (item,))
    other = TagNode("(0008,0060)", "Modality", "CS", "MR")
    kept = filter_nodes((sequence, other), "echotime")
    assert [n.tag for n in kept] == ["(0018,9114)"]
    assert kept[0].children[0].children == (leaf,)
    assert filter_nodes((sequence, other), "MREcho") == (sequence,)  # whole subtree kept
    assert filter_nodes((sequence, other), "") == (sequence, other)


def test_a_large_header_does_not_use_up_references_to_none(browser, enhanced_mr_dir):
    """PySide6 6.12 / CPython 3.11 drops a reference to None per void call (see tag_browser)."""
    header = _header(enhanced_mr_dir / "Philips" / "IM_0027_fMAP.dcm")
    before = sys.getrefcount(None)
    browser.set_dataset(header)
    browser.apply_filter("EchoTime")
    browser.apply_filter("")
    assert browser.tree.topLevelItemCount() == len(header) + len(header.file_meta)
    assert sys.getrefcount(None) - before > -100
