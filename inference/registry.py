"""Find models: `resources/models/<id>/card.json` (shipped) and the user models folder.

The folders come from `inference.locations` (shared with `viewer.paths`): the shipped folder
beside the package (or in a PyInstaller bundle), the user folder `$RADLENS_DATA_DIR/models` or
the platform's data folder + `RadLens/models`. Callers may pass their own folders.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from inference.errors import ModelError
from inference.locations import shipped_models_dir, user_models_dir
from inference.model_card import CARD_FILENAME, ModelCard

DEFAULT_MODEL = "pneumonia-cxr"


def model_folders(extra: Iterable[str | Path] = ()) -> list[Path]:
    return [*(Path(p) for p in extra), shipped_models_dir(), user_models_dir()]


def list_models(folders: Iterable[str | Path] | None = None) -> tuple[list[ModelCard], list[str]]:
    """Every readable card in the folders (first wins per id), plus problems as `path: reason`."""
    cards: dict[str, ModelCard] = {}
    problems: list[str] = []
    for folder in model_folders() if folders is None else [Path(f) for f in folders]:
        for card_path in sorted(folder.glob(f"*/{CARD_FILENAME}")) if folder.is_dir() else []:
            try:
                card = ModelCard.read(card_path)
            except ModelError as exc:
                problems.append(str(exc))
                continue
            cards.setdefault(card.id, card)
    return list(cards.values()), problems


def find_model(
    name: str | Path | None = None, folders: Iterable[str | Path] | None = None
) -> ModelCard:
    """A card by id or folder name, or by a path to a card file / model folder."""
    name = DEFAULT_MODEL if name in (None, "") else name
    path = Path(name)
    if path.suffix == ".json" or path.is_dir() and (path / CARD_FILENAME).is_file():
        return ModelCard.read(path)
    cards, _ = list_models(folders)
    for card in cards:
        if str(name) in (card.id, card.folder.name):
            return card
    known = ", ".join(sorted(c.id for c in cards)) or "none found"
    raise ModelError(f"model {str(name)!r} not found (available: {known})")
