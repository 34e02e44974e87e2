"""Why a file is not a network the product can show, in words that name the node or tensor."""

from __future__ import annotations


class NetworkRefused(ValueError):
    """A model file (or module) that is not a (leaky) ReLU MLP, or breaks a limit. ``where`` is the
    node, module or tensor named in the message (or the file or option)."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message)
        self.where = where
