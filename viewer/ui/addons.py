"""Add-ons: the optional parts of the window, and the interfaces by which others reach them.

An add-on is `AddOn(title, install)`: `install(window)` builds the part (docks, menus, workers)
and registers it in `window.addons` under its typed key. The list installed, in order, is
`viewer.ui.app.EXTENSIONS` (the composition root imports every add-on module, so the import
graph shows them); a failing install is reported and the viewer stays usable.

A part is looked up by key, never by an attribute name: `window.addons.get(ANALYSIS)` is a
`ShownAnalysis | None` to a type checker. The keys below are the whole catalogue; a key names
the concrete class its part has (imported for type checking only, so no import cycle), or a
`Protocol` when another add-on needs only a narrow interface:

| key | part | registered by |
|---|---|---|
| `MEASUREMENTS` | `MeasurementInstallation` | `measurement_tools.install_tools` |
| `REPORT_ACTION`, `REPORT_EXPORTER` | File → Export report…, its export thread | `report_dialog` |
| `AI_ASSIST` | `AiInstallation` | `ai_controller.install_ai` |
| `ANALYSIS` | `ShownAnalysis` (the AI result for the image on screen; the report reads it) | `install_ai` |
| `PACS` | `PacsPanel` | `pacs_panel.install_pacs` |
| `SEG_SR` | `SegSrController` | `seg_sr_controller.install_seg_sr` |

A part with `is_busy()` (the `Busy` protocol) holds `--screenshot` until it is idle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, runtime_checkable

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from inference.types import AnalysisResult
    from viewer.ui.ai_controller import AiInstallation
    from viewer.ui.measurement_tools import MeasurementInstallation
    from viewer.ui.pacs_panel import PacsPanel
    from viewer.ui.report_dialog import ReportExporter
    from viewer.ui.seg_sr_controller import SegSrController

T = TypeVar("T")


@dataclass(frozen=True)
class AddOnKey(Generic[T]):
    """A typed name for one registered part."""

    name: str


@runtime_checkable
class Busy(Protocol):
    def is_busy(self) -> bool: ...


class ShownAnalysis(Protocol):
    """What AI assist offers the other parts: the result shown for the image on screen."""

    def shown_result(self) -> AnalysisResult | None: ...


MEASUREMENTS: AddOnKey[MeasurementInstallation] = AddOnKey("measurements")
REPORT_ACTION: AddOnKey[QAction] = AddOnKey("report.action")
REPORT_EXPORTER: AddOnKey[ReportExporter] = AddOnKey("report.exporter")
AI_ASSIST: AddOnKey[AiInstallation] = AddOnKey("ai")
ANALYSIS: AddOnKey[ShownAnalysis] = AddOnKey("ai.analysis")
PACS: AddOnKey[PacsPanel] = AddOnKey("pacs")
SEG_SR: AddOnKey[SegSrController] = AddOnKey("seg-sr")


class AddOns:
    """The parts installed on one window, by key."""

    def __init__(self) -> None:
        self._parts: dict[str, object] = {}

    def register(self, key: AddOnKey[T], part: T) -> T:
        self._parts[key.name] = part
        return part

    def get(self, key: AddOnKey[T]) -> T | None:
        return cast("T | None", self._parts.get(key.name))

    def busy(self) -> bool:
        """Is any part still working (an analysis, a transfer, a paint)?"""
        return any(isinstance(part, Busy) and part.is_busy() for part in self._parts.values())


@dataclass(frozen=True)
class AddOn:
    """One optional part: `install(window)` builds it and registers it in `window.addons`."""

    title: str
    install: Callable[[Any], object]
