"""Imported once by the fork server (processes.start, at the server's start-up): every live
session's process is forked from it with this done already, so a session starts in milliseconds
and its first configure does not pay torch's one-time start-up (warm_up: ~1-5 s)."""

import torch

from ..core.allocator import keep_freed_buffers
from ..core.training import warm_up
from .sessions import process  # noqa: F401 - the session's own code, imported once here

torch.set_num_threads(1)  # no thread pool before forking; each session sets its own count
keep_freed_buffers()  # a wide layer's step reuses its activations' pages (core/allocator.py)
warm_up()
