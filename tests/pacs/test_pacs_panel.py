"""The PACS panel in the real window (built as `radlens` builds it) against the real Orthanc:
search shows patient → study → series with counts, Retrieve runs in the background and the
retrieved study joins the open session while the study on screen stays."""

from __future__ import annotations

import pytest

from tests.pacs.conftest import DEMO_STUDY, DEMO_STUDY_UID, ct_small
from tests.pacs.orthanc import HTTP_PASSWORD
from tests.ui.conftest import load, main_window, make_window  # noqa: F401 - window fixtures
from viewer.core.pacs.retrieve import RetrievalCache
from viewer.core.pacs.servers import save_secret
from viewer.ui.pacs_panel import UID_ROLE, PacsPanel
from viewer.ui.settings import save_settings, settings_file

pytestmark = [pytest.mark.gui, pytest.mark.slow]
TIMEOUT_MS = 60_000


@pytest.fixture
def window_with_pacs(main_window, seeded):  # noqa: F811 - the fixture imported above
    panel = next(e for e in main_window.extensions if isinstance(e, PacsPanel))
    panel.add_node({"name": "test orthanc", "url": seeded.dimse_url})
    return main_window, panel


def test_search_retrieve_joins_the_session(qtbot, window_with_pacs):
    window, panel = window_with_pacs
    load(qtbot, window, [ct_small()])
    on_screen = window.current_series()
    assert on_screen is not None
    panel.fields["patient_id"].setText("DEMO-0001")
    with qtbot.waitSignal(panel.runner.finished, timeout=TIMEOUT_MS):
        panel.search_button.click()
    patient = panel.results.topLevelItem(0)
    study = patient.child(0)
    assert study.data(0, UID_ROLE) == (DEMO_STUDY_UID, "")
    assert study.text(3) == "38" and study.childCount() == 4
    assert sorted(study.child(i).text(3) for i in range(4)) == ["1", "1", "1", "35"]
    panel.results.setCurrentItem(study)
    with qtbot.waitSignal(window.loader.finished, timeout=TIMEOUT_MS):
        panel.retrieve_button.click()
        assert panel.runner.is_busy()  # the click returned at once: the network is elsewhere
    studies = {s.study_instance_uid for p in window.index.patients for s in p.studies}
    assert DEMO_STUDY_UID in studies and len(studies) == 2
    assert window.current_series() is on_screen
    assert "38 instance(s) retrieved" in panel.status.text()


def test_anonymise_on_screen_hides_patient_in_results(qtbot, window_with_pacs):
    window, panel = window_with_pacs

    def labels():
        results = panel.results
        return [results.topLevelItem(i).text(0) for i in range(results.topLevelItemCount())]

    with qtbot.waitSignal(panel.runner.finished, timeout=TIMEOUT_MS):
        panel.search_button.click()
    assert any("DEMO" in label or "RADLENS" in label for label in labels())
    window.anonymise_action.setChecked(True)  # after the search: the results follow at once
    assert labels() and not any("DEMO" in label or "RADLENS" in label for label in labels())
    with qtbot.waitSignal(panel.runner.finished, timeout=TIMEOUT_MS):
        panel.search_button.click()
    assert labels() and not any("DEMO" in label or "RADLENS" in label for label in labels())


def test_unreachable_node_says_so_in_the_panel(qtbot, window_with_pacs):
    _window, panel = window_with_pacs
    panel.add_node({"name": "nowhere", "url": "dicom://X@127.0.0.1:1"})
    with qtbot.waitSignal(panel.runner.failed, timeout=TIMEOUT_MS):
        panel.echo_button.click()
    assert "unreachable" in panel.status.text()


def test_cancel_retrieval_leaves_the_cache_empty(qtbot, window_with_pacs):
    _window, panel = window_with_pacs
    with qtbot.waitSignal(panel.runner.finished, timeout=TIMEOUT_MS):
        panel.search_button.click()
    panel.results.setCurrentItem(panel.results.topLevelItem(0).child(0))
    with qtbot.waitSignal(panel.runner.cancelled, timeout=TIMEOUT_MS):
        panel.retrieve_button.click()
        panel.cancel_button.click()
    assert "Cancelled" in panel.status.text()
    cache = RetrievalCache()
    assert not cache.root.exists() or not any(cache.root.rglob("*.dcm"))


def test_send_current_series_and_dicomweb_node_with_stored_secret(qtbot, window_with_pacs, seeded):
    window, panel = window_with_pacs
    load(qtbot, window, [DEMO_STUDY / "chest-ap-3.dcm"])
    save_secret("web", password=HTTP_PASSWORD)
    panel.add_node({"name": "web", "url": seeded.web_url})
    with qtbot.waitSignal(panel.runner.finished, timeout=TIMEOUT_MS):
        panel.send_series_button.click()
    assert "1 instance(s) sent" in panel.status.text()
    panel.fields["patient_id"].setText("DEMO-0001")
    with qtbot.waitSignal(panel.runner.finished, timeout=TIMEOUT_MS):
        panel.search_button.click()
    assert panel.results.topLevelItem(0).child(0).text(3) == "38"
    save_settings(window.settings)
    assert HTTP_PASSWORD not in settings_file().read_text()
