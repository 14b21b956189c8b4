"""AI assist in the viewer: connects the image on screen, the inference worker, the findings
panel and the heatmap overlay. `install_ai(main_window)` adds the dock, actions and menu.

Every request is tagged with the key of the image it was made for, its `ViewIdentity.key`
((series key, frame), with plane and slab for a reformat); a result whose key is not the image on screen any more is dropped, so a heatmap or probability
never lands on another image.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QDockWidget, QMessageBox, QToolBar

from inference.errors import InferenceError
from inference.registry import DEFAULT_MODEL, find_model, list_models, shipped_models_dir
from inference.types import AnalysisInput
from viewer import RESEARCH_USE_NOTICE
from viewer.core.analysis_input import frame_analysis_input
from viewer.core.formatting import figures, percent
from viewer.core.session import view_identity
from viewer.ui import shortcuts
from viewer.ui.addons import AI_ASSIST, ANALYSIS
from viewer.ui.findings_panel import FindingsPanel, describe_result
from viewer.ui.heatmap_overlay import HeatmapOverlay
from viewer.ui.inference_worker import InferenceRunner, default_analyzer_factory
from viewer.ui.toggles import Toggle, add_toggle

log = logging.getLogger(__name__)

BUSY_TOKEN = "ai-analysis"
RESULT_CACHE_SIZE = 8  # results hold full-size heatmaps (~6 MB each for a 1500² radiograph)


@dataclass(frozen=True)
class FrameInput:
    """Builds the engine's input for one frame when called: the inference worker calls it, so
    the header read (and any decode) it needs never happens on the UI thread."""

    series: Any
    frame: int
    source: str  # the file name, for messages

    def __call__(self) -> AnalysisInput:
        return frame_analysis_input(self.series, self.frame, self.source)


@dataclass(frozen=True)
class AiImage:
    """The image on screen as the AI sees it: its key and the engine's input, or a callable
    building that input on the worker (`FrameInput`)."""

    key: Hashable
    analysis_input: AnalysisInput | Callable[[], AnalysisInput]


def image_for(series: Any, frame: int) -> AiImage | None:
    """The AI view of frame `frame` of a `viewer.core.series.Series` (None when no series);
    nothing is read or decoded until an analysis runs."""
    if series is None:
        return None
    source = Path(series.info.frames[frame].path).name  # folders may carry patient names
    identity = view_identity(series, int(frame))
    return AiImage(identity.key, FrameInput(series, int(frame), source))


class AiController(QObject):
    """Decides when to analyse, and shows only results that belong to the image on screen."""

    busyChanged = Signal(bool)
    resultShown = Signal(object)  # the AnalysisResult now shown
    messageChanged = Signal(str)

    def __init__(
        self,
        runner: InferenceRunner,
        panel: FindingsPanel,
        overlay: HeatmapOverlay,
        auto_run: Callable[[], bool] = lambda: True,
        parent: QObject | None = None,
        heatmaps_for_negatives: bool = False,
    ):
        super().__init__(parent)
        self.runner, self.panel, self.overlay = runner, panel, overlay
        self._auto_run = auto_run
        self.heatmaps_for_negatives = heatmaps_for_negatives  # asked with every request
        self._held = False  # automatic analysis waits (a study is loading)
        self._image: AiImage | None = None
        self._pending: dict[int, Hashable] = {}
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._shown_result: Any = None
        self._connect()

    def _connect(self) -> None:
        runner, panel, overlay = self.runner, self.panel, self.overlay
        runner.started.connect(lambda rid: self._for_current(rid, panel.show_running))
        runner.progress.connect(lambda rid, text: self._for_current(rid, panel.show_running, text))
        runner.result.connect(self._on_result)
        runner.error.connect(self._on_error)
        runner.cancelled.connect(self._on_cancelled)
        runner.busyChanged.connect(self.busyChanged)
        panel.analyzeRequested.connect(lambda: self.analyze())
        panel.runAnywayRequested.connect(lambda: self.analyze(force=True))
        panel.cancelRequested.connect(self.cancel)
        panel.findingSelected.connect(self.show_heatmap)
        controls = panel.heatmap_controls
        controls.shownChanged.connect(overlay.set_shown)
        controls.opacityChanged.connect(overlay.set_opacity)
        controls.contourChanged.connect(overlay.set_contour)

    # --- the image on screen ------------------------------------------------------------------

    def current_key(self) -> Hashable | None:
        return None if self._image is None else self._image.key

    def shown_result(self) -> Any:
        return self._shown_result

    def set_image(self, image: AiImage | None) -> None:
        """A new image is on screen: forget the old output, then show or start its own."""
        if image is not None and self._image is not None and image.key == self._image.key:
            return
        self._image = image
        self.runner.cancel_all()
        self._clear_output()
        if image is None:
            self.panel.show_idle("No image.")
        elif image.key in self._results:
            self._show(self._results[image.key])
        elif self._auto_run() and self._held:
            self.panel.show_idle("The analysis starts when loading has finished.")
        elif self._auto_run():
            self.analyze()
        else:
            self.panel.show_idle("Press Analyze to run the model on this image.")

    def hold(self, held: bool) -> None:
        """Hold automatic analysis (while a study loads); on release, analyse the image on
        screen if it has neither a result nor a request on its way."""
        was_held, self._held = self._held, bool(held)
        if was_held and not self._held and self._auto_run() and self._waiting():
            self.analyze()

    def _waiting(self) -> bool:
        image = self._image
        return (
            image is not None
            and self._shown_result is None
            and image.key not in self._pending.values()
        )

    def analyze(self, force: bool = False) -> int | None:
        """Analyse the image on screen (force: even outside the model's intended use)."""
        if self._image is None:
            self.panel.show_idle("Open an image first.")
            return None
        self._clear_output()
        image, negatives = self._image, self.heatmaps_for_negatives
        request_id = self.runner.submit(image.key, image.analysis_input, force, negatives)
        self._pending[request_id] = self._image.key
        self.panel.show_running("Queued…")
        return request_id

    def cancel(self) -> None:
        self.runner.cancel_all()

    def set_analyzer_factory(self, analyzer_factory) -> None:
        """Another model: forget every result of the old one and redo the image on screen."""
        self.runner.set_analyzer_factory(analyzer_factory)
        self._results.clear()
        image, self._image = self._image, None
        self.set_image(image)

    def set_heatmaps_for_negatives(self, enabled: bool) -> int | None:
        """Draw (or not) a clear negative's map from the next request on: the loaded model stays
        (no reload); the image on screen is analysed again, so its map appears (or goes) at once.
        Returns the id of that request (None when there was nothing to redo)."""
        if self.heatmaps_for_negatives == bool(enabled):
            return None
        self.heatmaps_for_negatives = bool(enabled)
        self._results.clear()  # made with the other choice
        return self._analyze_again()

    def _analyze_again(self) -> int | None:
        """Redo the image on screen as it was asked for ("Run anyway" forced again) when it has
        a result with findings or a request on its way; a refusal has no map to change."""
        shown = self._shown_result
        on_its_way = [self.runner.request(r) for r in self._pending if self._is_current(r)]
        on_its_way = [request for request in on_its_way if request is not None]
        if shown is not None and shown.findings:
            return self.analyze(force=not shown.intended_use_ok)
        if on_its_way:
            return self.analyze(force=on_its_way[-1].force)
        return None

    def show_heatmap(self, label: str) -> None:
        """Show one finding's heatmap (on the image it was computed for only)."""
        result = self._shown_result
        heatmap = None if result is None else result.heatmaps.get(label)
        try:
            self.overlay.set_heatmap(heatmap, label)
        except ValueError as exc:
            self.overlay.clear()
            self.messageChanged.emit(f"Heatmap not shown: {exc}")
            return
        self.panel.select_finding(label)

    # --- worker results -----------------------------------------------------------------------

    def _is_current(self, request_id: int) -> bool:
        return self._image is not None and self._pending.get(request_id) == self._image.key

    def _for_current(self, request_id: int, show: Callable[..., None], *args: Any) -> None:
        if self._is_current(request_id):
            show(*args)

    def _on_result(self, request_id: int, result: Any) -> None:
        current = self._is_current(request_id)
        key = self._pending.pop(request_id, None)
        if not current:
            log.info("dropped the result of request %d: its image is no longer shown", request_id)
            return
        self._remember(key, result)
        self._show(result)

    def _on_error(self, request_id: int, message: str) -> None:
        if self._is_current(request_id):
            self.panel.show_error(message)
            self.messageChanged.emit(message)
        self._pending.pop(request_id, None)

    def _on_cancelled(self, request_id: int) -> None:
        if self._is_current(request_id):
            self.panel.show_idle("Analysis cancelled.")
        self._pending.pop(request_id, None)

    def _remember(self, key: Hashable, result: Any) -> None:
        if not result.intended_use_ok and not result.findings:
            return  # a refusal is not a result: "Run anyway" must stay possible
        self._results[key] = result
        self._results.move_to_end(key)
        while len(self._results) > RESULT_CACHE_SIZE:
            self._results.popitem(last=False)

    def _show(self, result: Any) -> None:
        self._shown_result = result
        view = describe_result(result)
        self.panel.show_result(view)
        label = _default_heatmap_label(result)
        if label:
            self.show_heatmap(label)
        self.resultShown.emit(result)

    def _clear_output(self) -> None:
        self._shown_result = None
        self.overlay.clear()
        self.panel.clear_result()

    def shutdown(self) -> bool:
        return self.runner.shutdown()


def _default_heatmap_label(result: Any) -> str:
    """The most probable positive finding with a heatmap, else the most probable one."""
    with_maps = [f for f in result.findings if f.label in result.heatmaps]
    if not with_maps:
        return ""
    return max(with_maps, key=lambda f: (f.positive, f.probability)).label


# --- assembly into the main window ------------------------------------------------------------


class AiInstallation(QObject):
    """What `install_ai` added, kept on the main window so nothing is garbage collected."""

    def __init__(self, main_window, controller: AiController, dock: QDockWidget):
        super().__init__(main_window)
        self.main_window, self.controller, self.dock = main_window, controller, dock
        self.actions: dict[str, QAction] = {}
        self._viewport = None

    def follow_active_image(self, *_args: object) -> None:
        viewport = self.main_window.active_viewport()
        if viewport is not self._viewport:
            self._viewport = viewport
            self.controller.overlay.attach(viewport.image_item)
        series, frame = viewport.series(), viewport.frame_index()
        if series is not None and view_identity(series, frame).key == self.controller.current_key():
            return  # e.g. a window/level change: same pixels, nothing to redo
        self.controller.set_image(image_for(series, frame))

    def is_busy(self) -> bool:
        return self.controller.runner.is_busy()

    def follow_loading(self) -> None:
        """Keep the model load (and the torch import, on the runner's thread) out of study
        loading: automatic analysis and the preload wait until nothing loads.
        The first check waits one event-loop pass, so paths opened right after `install_ai`
        count as loading."""
        loader = self.main_window.loader
        loader.busyChanged.connect(self.on_loading)
        self.controller.hold(loader.is_busy())
        QTimer.singleShot(0, self, lambda: loader.is_busy() or self.on_loading(False))

    def on_loading(self, busy: bool) -> None:
        """Automatic analysis: once a load is over and an image is open, load the model (and
        import torch) on the runner's thread; a window with nothing open imports no torch."""
        self.controller.hold(busy)
        opened = self.main_window.current_series() is not None
        if not busy and opened and self.main_window.auto_run_ai:
            self.controller.runner.preload()  # no-op on the worker once the model is loaded

    def set_auto_run(self, enabled: bool) -> None:
        self.main_window.auto_run_ai = bool(enabled)
        self.main_window.settings.auto_run_ai = bool(enabled)

    def on_busy(self, busy: bool) -> None:
        self.actions["cancel_analysis"].setEnabled(busy)
        if busy:
            self.main_window.begin_busy(BUSY_TOKEN)
        else:
            self.main_window.end_busy(BUSY_TOKEN)

    def shutdown(self) -> None:
        self.main_window.loader.busyChanged.disconnect(self.on_loading)
        self.controller.shutdown()
        self.main_window.end_busy(BUSY_TOKEN)

    def selected_model(self) -> str:
        return self.main_window.settings.model_name or DEFAULT_MODEL

    def select_model(self, model_id: str) -> None:
        if model_id == self.selected_model():
            return
        self.main_window.settings.model_name = model_id
        self.controller.set_analyzer_factory(analyzer_factory_for(self.main_window.settings))

    def rebuild_model_menu(self) -> None:
        """AI → Model: one checkable entry per model the registry finds, problems greyed out."""
        menu = self.model_menu
        menu.clear()
        cards, problems = list_models()
        group = QActionGroup(menu)
        for card in cards:
            action = menu.addAction(f"{card.name} {card.version}")
            action.setCheckable(True)
            action.setChecked(card.id == self.selected_model())
            action.triggered.connect(lambda _=False, i=card.id: self.select_model(i))
            group.addAction(action)
        for text in problems or ([] if cards else [f"No models found in {shipped_models_dir()}"]):
            menu.addAction(text).setEnabled(False)

    def show_model_card(self) -> None:
        try:
            card = find_model(self.selected_model())
        except InferenceError as exc:
            QMessageBox.warning(self.main_window, "Model", str(exc))
            return
        QMessageBox.information(self.main_window, "About the model", model_card_text(card))


def model_card_text(card) -> str:
    """What a user should know before trusting the output: from the model card, verbatim."""
    summary = card.summary()
    metrics = figures(summary["validation_metrics"])
    thresholds = ", ".join(f"{k} {percent(v)}" for k, v in summary["thresholds"].items())
    lines = [
        f"{summary['name']} {summary['version']} ({summary['id']})",
        f"Task: {summary['task']}",
        f"Intended use: {summary['intended_use'] or 'not stated'}",
        f"Thresholds: {thresholds}",
        f"Validation: {metrics or 'not stated'}",
        f"Validation data: {summary['validation_data'] or 'not stated'}",
        f"Held-out test: {held_out_text(summary)}",
        f"Training data: {summary['training_data'] or 'not stated'}",
        f"Licence: {summary['license'] or 'not stated'}",
        f"Citation: {summary['citation'] or 'not stated'}",
        f"Weights sha256: {summary['sha256']}",
        "",
        RESEARCH_USE_NOTICE,
    ]
    return "\n".join(lines)


def analyzer_factory_for(settings) -> Callable[[], Any]:
    """The analyzer the settings ask for: model and device (a clear negative's map is asked
    for with each request, `AiController.heatmaps_for_negatives`)."""
    return default_analyzer_factory(settings.model_name or None, settings.device or "auto")


def held_out_text(summary: dict) -> str:
    """The card's held-out test as the report quotes it: key figures, then where from."""
    from viewer.report.report_data import key_figures

    figures_text = key_figures(summary.get("held_out_metrics") or {})
    where = summary.get("held_out_data", "")
    return " - ".join(p for p in (figures_text, where) if p) if figures_text else "not in the card"


def install_ai(main_window, analyzer_factory=None) -> AiInstallation:
    """Add the findings dock, the AI menu/toolbar actions, and follow the active image.

    torch-free: the engine (and torch, several seconds on a busy machine) is imported on the
    runner's thread by the preload after loading (automatic analysis) or the first analysis,
    so the window shows first and a viewer that never analyses never imports torch."""
    settings = main_window.settings
    factory = analyzer_factory or analyzer_factory_for(settings)
    panel = FindingsPanel()
    overlay = HeatmapOverlay(main_window.active_viewport().image_item)
    runner = InferenceRunner(factory)
    controller = AiController(
        runner,
        panel,
        overlay,
        lambda: bool(main_window.auto_run_ai),
        heatmaps_for_negatives=bool(settings.heatmap_for_negatives),
    )
    dock = QDockWidget("AI findings", main_window)
    dock.setObjectName("AiFindingsDock")
    dock.setWidget(panel)
    main_window.add_dock(dock, Qt.DockWidgetArea.RightDockWidgetArea)
    installed = AiInstallation(main_window, controller, dock)
    runner.setParent(installed)
    controller.setParent(installed)
    _add_actions(main_window, installed)
    controller.busyChanged.connect(installed.on_busy)
    controller.messageChanged.connect(lambda text: main_window.statusBar().showMessage(text, 8000))
    main_window.imageChanged.connect(installed.follow_active_image)
    main_window.aboutToClose.connect(installed.shutdown)
    main_window.addons.register(AI_ASSIST, installed)
    main_window.addons.register(ANALYSIS, controller)
    installed.follow_loading()  # preload the model once nothing loads
    if main_window.current_series() is not None:
        installed.follow_active_image()
    return installed


def _add_actions(main_window, installed: AiInstallation) -> None:
    controller = installed.controller
    menu = main_window.menu("AI")
    toolbar = QToolBar("AI", main_window)
    toolbar.setObjectName("AiToolbar")
    specs = (
        ("analyze", "Analyze image", lambda: controller.analyze()),
        ("cancel_analysis", "Cancel analysis", controller.cancel),
    )
    for name, text, slot in specs:
        action = QAction(text, main_window)
        action.setShortcut(shortcuts.key_for(name))
        action.triggered.connect(slot)
        menu.addAction(action)
        toolbar.addAction(action)
        installed.actions[name] = action
    installed.actions["cancel_analysis"].setEnabled(False)
    menu.addSeparator()
    _add_toggles(main_window, installed, menu)
    menu.addSeparator()
    installed.model_menu = menu.addMenu("Model")
    installed.model_menu.aboutToShow.connect(installed.rebuild_model_menu)
    about = menu.addAction("About the model…")
    about.triggered.connect(installed.show_model_card)
    installed.actions["about_model"] = about
    main_window.add_toolbar(toolbar)


def ai_toggles(main_window, installed: AiInstallation) -> dict[str, Toggle]:
    """The AI menu's switches, by action name. A clear negative's map is saved in the settings
    as it toggles and asked of the loaded model (no reload)."""
    controller = installed.controller
    return {
        "toggle_heatmap": Toggle(
            "Show heatmap",
            "toggle_heatmap",
            on_toggled=controller.panel.heatmap_controls.show_box.setChecked,
            checked=True,
        ),
        "heatmap_for_negatives": Toggle(
            "Show heatmap for clear negatives",
            setting="heatmap_for_negatives",
            on_toggled=controller.set_heatmaps_for_negatives,
            tip="Draw the map even when the probability is below the display threshold",
        ),
        "auto_run": Toggle(
            "Analyze automatically on open",
            on_toggled=installed.set_auto_run,
            checked=bool(main_window.auto_run_ai),  # the demo runs it whatever is saved
        ),
    }


def _add_toggles(main_window, installed: AiInstallation, menu) -> None:
    for name, toggle in ai_toggles(main_window, installed).items():
        installed.actions[name] = add_toggle(menu, toggle, main_window.settings)
    controls = installed.controller.panel.heatmap_controls
    controls.show_box.toggled.connect(installed.actions["toggle_heatmap"].setChecked)
    panel_action = installed.dock.toggleViewAction()
    panel_action.setText("Findings panel")
    menu.addAction(panel_action)
    installed.actions["panel"] = panel_action
