"""Networks opened from uploaded model files, by id: a bounded store in memory.

An upload is read once (polytope_lens.sources: refused in words when it is not a (leaky) ReLU
MLP) and kept as an ``OpenedNetwork`` under a random id; the file itself is not kept, and its
name is only shown, never used as a path. The oldest networks go when the count or byte limit
is reached (a session that opened one keeps its own copy).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..sources import OpenedNetwork

NETWORK_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class UnknownNetwork(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class NetworkStoreLimits:
    max_networks: int = 64
    max_bytes: int = 512 * 1024 * 1024  # their weights, as held


class NetworkStore:
    def __init__(self, limits: NetworkStoreLimits | None = None):
        self.limits = limits or NetworkStoreLimits()
        self._lock = threading.Lock()
        self._networks: OrderedDict[str, tuple[OpenedNetwork, int]] = OrderedDict()  # oldest first

    def add(self, opened: OpenedNetwork) -> str:
        size = opened.network.nbytes + (opened.shown.nbytes if opened.shown is not opened.network else 0)
        if size > self.limits.max_bytes:
            raise ValueError("the network does not fit in the server's store of networks")
        network_id = secrets.token_urlsafe(18)
        with self._lock:
            self._networks[network_id] = (opened, size)
            while (len(self._networks) > self.limits.max_networks
                   or sum(n for _, n in self._networks.values()) > self.limits.max_bytes):
                self._networks.popitem(last=False)
        return network_id

    def get(self, network_id: str) -> OpenedNetwork:
        with self._lock:
            found = self._networks.get(network_id) if isinstance(network_id, str) and NETWORK_ID.match(network_id) else None
            if found is not None:
                self._networks.move_to_end(network_id)
        if found is None:
            raise UnknownNetwork(f"no network with id '{str(network_id)[:80]}' (open the model file again: the server "
                                 "keeps the last few)")
        return found[0]

    def __len__(self) -> int:
        return len(self._networks)
