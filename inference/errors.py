"""Inference's own small exception classes (it cannot import `viewer.core.errors`).

The CLI/UI boundary catches `InferenceError` and shows its message as `file: reason`.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base for every inference error shown to the user without a traceback."""


class ModelError(InferenceError):
    """A model could not be found, read or built."""


class ModelIntegrityError(ModelError):
    """Weights whose sha256 differs from the card, or a format that could run code on load."""


class ModelTrustError(ModelIntegrityError):
    """Code in a model (TorchScript) from a folder the user has not marked as trusted."""


class ImageInputError(InferenceError):
    """An image could not be read or does not fit the model's input."""
