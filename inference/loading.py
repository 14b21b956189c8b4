"""Safe model loading: sha256 first, then safetensors / `torch.load(weights_only=True)` / TorchScript.

Nothing here unpickles arbitrary objects: a weights file whose hash differs from its card, or a
pickle that needs more than tensors and plain containers, is refused with `ModelIntegrityError`
before any of its code could run. Every file a card names must resolve inside the card's folder
(`model_file`: no absolute paths, `..` or symlinks out of it), and TorchScript, being code, is
loaded only from a folder the user trusts (`inference.trust`). Every refusal is one line naming
the model and the reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from inference.errors import ModelError, ModelIntegrityError, ModelTrustError
from inference.files import atomic_write_bytes
from inference.model_card import ModelCard
from inference.networks import Ensemble, build_network

WEIGHT_FORMATS = ("safetensors", "state_dict", "torchscript")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_weights(card: ModelCard) -> list[Path]:
    """Every weights path of the card, after checking each stays in its folder, exists and
    matches its sha256."""
    return [verify_file(card, model_file(card, name), expected) for name, expected in card.members]


def model_file(card: ModelCard, name: str) -> Path:
    """The file `name` that the card names, resolved; refused unless it is inside its folder.

    The one gate for every file a card names: an absolute path, `..`, or a symlink leading out
    of the folder would make RadLens read (and hash) any file on the machine.
    """
    folder = card.folder.resolve()
    resolved = (folder / name).resolve()
    if resolved == folder or not resolved.is_relative_to(folder):
        raise ModelIntegrityError(
            f"model {card.id!r}: file {name!r} named by its card is outside the model folder; "
            "refused"
        )
    return resolved


def verify_file(card: ModelCard, path: Path, expected: str) -> Path:
    if not path.is_file():
        raise ModelError(f"{path}: weights file named by model card {card.id!r} is missing")
    actual = sha256_of(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"{path.name}: sha256 {actual[:12]}… does not match the model card "
            f"({expected[:12]}…); the file was changed or corrupted — refusing to load"
        )
    return path


def read_state_dict(path: Path, weights_format: str) -> dict[str, torch.Tensor]:
    """Tensors only: safetensors, or a pickle restricted to tensors (`weights_only=True`)."""
    if weights_format == "safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise ModelIntegrityError(f"{path.name}: not a valid safetensors file ({exc})") from exc
    if weights_format == "state_dict":
        return _load_restricted_pickle(path)
    raise ModelError(f"{path.name}: unknown weights format {weights_format!r}")


def _load_restricted_pickle(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError: anything beyond plain tensors
        raise ModelIntegrityError(
            f"{path.name}: refused — the file holds more than tensors (only weights-only "
            f"state dicts or safetensors are loaded): {type(exc).__name__}"
        ) from exc
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelIntegrityError(f"{path.name}: refused — not a state dict of tensors")
    return state


def load_model(card: ModelCard, device: str | torch.device = "cpu") -> nn.Module:
    """Verify, build the card's architecture and load its weights; returns the model in eval mode.

    A card with several weights files gives an `Ensemble` averaging its members' logits.
    """
    if card.weights_format == "torchscript":
        refuse_untrusted_code(card)
    paths = verify_weights(card)
    if card.weights_format == "torchscript":
        return _load_torchscript(card, paths[0], device)
    networks = [_network_from(card, path) for path in paths]
    model = networks[0] if len(networks) == 1 else Ensemble(networks)
    return model.to(device).eval()


def refuse_untrusted_code(card: ModelCard) -> None:
    from inference.trust import is_trusted

    if not is_trusted(card):
        raise ModelTrustError(
            f"model {card.id!r}: TorchScript is code and its folder is not trusted; refused "
            f"(to trust it: radlens models --trust {card.folder})"
        )


def _load_torchscript(card: ModelCard, path: Path, device: str | torch.device) -> nn.Module:
    try:
        return torch.jit.load(str(path), map_location=device).eval()
    except Exception as exc:  # RuntimeError and others from the TorchScript reader
        raise ModelIntegrityError(
            f"model {card.id!r}: {path.name} is not a loadable TorchScript file "
            f"({type(exc).__name__})"
        ) from exc


def _network_from(card: ModelCard, path: Path) -> nn.Module:
    state = read_state_dict(path, card.weights_format)
    try:
        network = build_network(card.architecture, card.architecture_args)
        network.load_state_dict(state)
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{path.name}: weights do not fit {card.architecture!r}: {exc}") from exc
    return network


def save_safetensors(model: nn.Module, path: Path) -> str:
    """Write the model's state dict as safetensors (atomically); returns its sha256."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(state))
    return sha256_of(path)
