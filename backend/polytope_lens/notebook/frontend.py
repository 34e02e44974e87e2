"""The notebook widget's ES module, made from the page's own files: the page's renderer
(frontend/drawing/renderer.js) followed by the widget's view (frontend/notebook/lens.js).

A notebook loads a widget's front end as one module from a string, so the two files are joined
into one, and the module imports they make of each other and of the server are replaced:

- the renderer's ``import { facts } from "../shared/facts.js"`` (the page reads the drawing facts
  from GET /api/options) becomes the same facts stated here, from the same Python definitions
  (output/facts.py, the network limits): a notebook has no server to ask;
- the view's ``import { MLPRenderer } from "../drawing/renderer.js"`` is dropped: the renderer's
  code is already in the module.

Nothing else of either file changes: the widget draws with the page's renderer, not a copy of it.
"""

from __future__ import annotations

import json
from functools import lru_cache

from ..assets import FRONTEND_DIR

RENDERER = "drawing/renderer.js"
VIEW = "notebook/lens.js"
FACTS_IMPORT = 'import { facts } from "../shared/facts.js";'
RENDERER_IMPORT = 'import { MLPRenderer } from "../drawing/renderer.js";'


def page_facts() -> dict:
    """The drawing facts and network limits as the page's ``facts`` (shared/settings.js ``readFacts``
    of GET /api/options) has them; tests/test_widget_browser.py checks the two are equal."""
    from ..core.classes import MAX_CLASSES
    from ..core.model import MAX_DEPTH, MAX_PARAMETERS, MAX_WIDTH
    from ..output.facts import DRAWING, POINT_COLORS

    d = json.loads(DRAWING.model_dump_json())
    return {
        "fadeEighths": d["boundary_fade_eighths"],
        "boundaryColor": d["boundary_color"],
        "regionEdgeColor": d["region_edge_color"],
        "classRegionEdgeColor": d["class_region_edge_color"],
        "decisionColor": d["decision_color"],
        "classValPointColor": d["class_val_point_color"],
        "classLightest": d["class_lightest"],
        "unlabelledFade": d["unlabelled_fade"],
        "nearbyFrames": d["nearby_frames"],
        "maxClasses": MAX_CLASSES,
        "maxDepth": MAX_DEPTH,
        "maxWidth": MAX_WIDTH,
        "maxParameters": MAX_PARAMETERS,
        "pointColors": dict(POINT_COLORS),
    }


def _replace_once(text: str, old: str, new: str, name: str) -> str:
    if text.count(old) != 1:  # the page's file changed how it imports: say so rather than ship a broken module
        raise RuntimeError(f"frontend/{name} no longer has the line {old!r} exactly once; "
                           "update polytope_lens/notebook/frontend.py")
    return text.replace(old, new)


@lru_cache(maxsize=1)
def widget_module() -> str:
    """The widget's ES module: the renderer (its facts stated inline), then the view; it exports
    ``render`` (and the renderer's own exports) and a default ``{render}`` as anywidget expects."""
    renderer = (FRONTEND_DIR / RENDERER).read_text(encoding="utf-8")
    view = (FRONTEND_DIR / VIEW).read_text(encoding="utf-8")
    facts = f"const facts = Object.freeze({json.dumps(page_facts(), separators=(',', ':'))});"
    return "\n".join([
        "// Polytope Lens notebook widget: frontend/drawing/renderer.js, then frontend/notebook/lens.js",
        f"// ---- {RENDERER} ----",
        _replace_once(renderer, FACTS_IMPORT, facts + " // the page reads these from GET /api/options", RENDERER),
        f"// ---- {VIEW} ----",
        _replace_once(view, RENDERER_IMPORT, "// (MLPRenderer: above)", VIEW),
    ])
