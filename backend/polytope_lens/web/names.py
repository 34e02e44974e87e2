"""One naming scheme for every file the page downloads: the picture, the layers and the step,
so that files from one run sort together and say what they hold:

    polytope-lens-ring-14x6-step711-frame.png
    polytope-lens-ring-14x6-step711-checkpoint.pt
    polytope-lens-ring-10x10_2_10x3-step0-1200-movie.mp4
    polytope-lens-ring-14x6-step711-regions-k3.json
"""

from __future__ import annotations

import re

from ..core.settings import RunConfig

PREFIX = "polytope-lens"
_UNSAFE = re.compile(r"[^A-Za-z0-9x_-]+")


def _part(text: str, limit: int) -> str:
    """A file-name-safe piece: commas become underscores, anything else odd goes."""
    return _UNSAFE.sub("", str(text).replace(",", "_").replace(" ", ""))[:limit].strip("-_") or "run"


def download_name(config: RunConfig | None, step: int | str | None, what: str, ext: str) -> str:
    """``polytope-lens-<picture>-<layers>-step<step>-<what>.<ext>`` (the parts known)."""
    parts = [PREFIX]
    if config is not None:
        parts += [_part(config.image, 32), _part(config.layers, 48)]
    if step is not None:
        parts.append(f"step{step}")
    parts.append(what)
    return "-".join(parts) + "." + ext.lstrip(".")
