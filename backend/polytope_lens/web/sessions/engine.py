"""Where live sessions train: the one list of engines (Settings.session_engine, ``serve --engine``).

Light on purpose (no torch, no Ray): the settings and the command line read it before any session
exists. factory.py opens a session on each engine.
"""

from __future__ import annotations

import enum


class Engine(str, enum.Enum):
    """A str enum: the settings and the command line take the plain names."""

    PROCESS = "process"
    THREAD = "thread"
    RAY = "ray"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Engine.PROCESS: "each session in a process of its own on this machine (default)",
    Engine.THREAD: "threads of the server's process (one GIL for all)",
    Engine.RAY: "each session a Ray actor on a Ray cluster, this server only relaying "
                "(pip install 'polytope-lens[ray]')",
}


def engine_help() -> str:
    """Every engine with what it does, for ``serve --help``."""
    return "; ".join(f"{engine.value}: {engine.description}" for engine in Engine)
