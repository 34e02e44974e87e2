"""A partition's documents (PROVISIONAL until the CLI's file documents are merged)."""

from __future__ import annotations

from ..core.classes import PALETTE
from ..core.network import class_count
from ..geometry.decision import decision_json, decision_regions, decision_svg, with_decision_overlay
from ..geometry.documents import partition_document, partition_svg_bytes
from ..geometry.export import DOCUMENT_FORMAT


def regions_document(p, fmt: str, size: int = 1024, max_bytes: int | None = None) -> str:
    k = class_count(p.network)
    classes = ["#%02x%02x%02x" % c for c in PALETTE[:k]] if k and k <= len(PALETTE) else None
    decision = decision_regions(p.exact) if classes and p.complete else None
    if fmt == "json":
        extra = {"format": DOCUMENT_FORMAT, "layers": p.layers, "hidden_layers": len(p.network.widths)}
        if decision is not None:
            extra.update(classes=classes, decision=decision_json(decision, classes))
        return partition_document(p.exact, extra).decode()
    text = partition_svg_bytes(p.exact, size, max_bytes=max_bytes).decode()
    if decision is not None:
        text = with_decision_overlay(text, decision_svg(decision, p.box, size, classes))
    return text
