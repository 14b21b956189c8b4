"""Model folders the user trusts to run code (no Qt, no torch).

Safetensors and weights-only state dicts are data; a TorchScript file is a program, run when it
is loaded. RadLens loads TorchScript only from a folder the user has marked as trusted, and only
while its weights are the ones that were trusted:

    radlens models --trust MODEL_DIR

adds a line `<sha256>  <folder>` to `trusted_models.txt` in the per-user data folder
(`inference.locations.user_data_dir`). The list lives outside every model folder on purpose: a
marker file inside the folder would travel with whatever folder someone hands the user. The
shipped models folder is part of the installation and trusted as it is.
"""

from __future__ import annotations

from pathlib import Path

from inference.locations import shipped_models_dir, user_data_dir
from inference.model_card import ModelCard

TRUST_FILENAME = "trusted_models.txt"


def trust_file() -> Path:
    return user_data_dir() / TRUST_FILENAME


def is_trusted(card: ModelCard) -> bool:
    """Whether the user trusts this card's folder with these weights (or it ships with RadLens)."""
    folder = card.folder.resolve()
    if folder.is_relative_to(shipped_models_dir().resolve()):
        return True
    return (card.weights_sha256, str(folder)) in trusted_entries()


def trusted_entries() -> set[tuple[str, str]]:
    """(sha256, folder) pairs from the user's list; comments and malformed lines are ignored."""
    try:
        lines = trust_file().read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    entries = set()
    for line in lines:
        sha, _, folder = line.strip().partition("  ")
        if len(sha) == 64 and folder and not sha.startswith("#"):
            entries.add((sha.lower(), folder))
    return entries


def trust(card: ModelCard) -> Path:
    """Add the card's folder and current weights to the user's trusted list; returns the list."""
    target = trust_file()
    entry = (card.weights_sha256, str(card.folder.resolve()))
    if entry in trusted_entries():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as stream:
        stream.write(f"{entry[0]}  {entry[1]}\n")
    return target
