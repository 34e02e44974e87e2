"""Where the page (``frontend/``) and the sample pictures (``sample_images/``) are.

In the checkout they sit at the top level, beside ``backend/``; a wheel carries them as package
data inside ``polytope_lens/`` (pyproject.toml maps the two folders into the package). One lookup
serves both, so nothing else needs to know how the package was installed."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    """The folder ``name`` ("frontend" or "sample_images"): inside the installed package when a
    wheel put it there, else the checkout's top-level folder (editable installs, PYTHONPATH=backend)."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"polytope_lens: no {name}/ folder beside the package or in the checkout")


FRONTEND_DIR = asset_dir("frontend")
SAMPLES_DIR = asset_dir("sample_images")
