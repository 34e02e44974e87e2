"""What the server is and allows: health and options (settings, defaults, limits), and the drawing
facts the page paints with (published here so the page never restates a number of the server's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ...core.classes import MAX_CLASSES
from ...sources import preload_soon
from ...sources.chain import MAX_INPUTS
from ...sources.opening import EXTENSIONS as NETWORK_FORMATS
from ...core.images import MAX_ASPECT_RATIO, MAX_SOURCE_PIXELS, MIN_SIDE
from ...core.model import MAX_DEPTH, MAX_PARAMETERS, MAX_WIDTH
from ...core.settings import MAX_POINTS, MAX_RESOLUTION, MIN_RESOLUTION, RunConfig, ViewSettings, settings_table
from ...output.facts import DRAWING, POINT_COLORS, DrawingFacts
from ..protocol import MAX_STEP_N
from ..registry import RegistryDep, SettingsDep
from .live import TAKEN_OVER

router = APIRouter(prefix="/api", tags=["server"])


class Health(BaseModel):
    status: str
    sessions: int  # live sessions holding one of max_sessions places (a closed one until its process ends)
    away: int = 0  # of those, sessions whose socket dropped, waiting for their page (Settings.resume_grace_s)


@router.get("/health", response_model=Health)
async def health(registry: RegistryDep):
    return {"status": "ok", "sessions": registry.in_use(), "away": len(registry.away)}


class Options(BaseModel):
    """GET /api/options (docs/protocol.md): what the page reads before it sets itself up."""

    settings: list[dict[str, Any]]  # core/settings.py settings_table(): one row per setting, with its kind
    defaults: dict[str, Any]
    point_colors: dict[str, str]  # "train", "val": "#rrggbb"
    drawing: DrawingFacts
    runs: dict[str, bool]  # "available": serve --runs DIR, so /api/runs and /compare answer
    connection: dict[str, int]  # "taken_over_close_code": the socket's session went on to a newer socket
    limits: dict[str, Any]


@router.get("/options", response_model=Options)
async def options(settings: SettingsDep):
    """Every setting with its kind (network: a change starts a new network; training: applied to the
    running network; view: drawing only), defaults, the server's limits, the point colours and the
    drawing facts."""
    live = settings.live_limits
    preload_soon()  # a page is open: the model file readers load beside serving, before a file comes
    return {
        "settings": settings_table(),
        "defaults": {**RunConfig().model_dump(), **ViewSettings().model_dump()},
        "point_colors": POINT_COLORS,
        "drawing": DRAWING.model_dump(),
        "runs": {"available": settings.runs_dir is not None},  # serve --runs DIR: /api/runs and /compare
        "connection": {"taken_over_close_code": TAKEN_OVER},
        "limits": {
            "max_depth": MAX_DEPTH,
            "max_width": MAX_WIDTH,
            "max_parameters": MAX_PARAMETERS,
            "max_points": MAX_POINTS,
            "max_classes": MAX_CLASSES,
            "min_resolution": MIN_RESOLUTION,
            "max_resolution": MAX_RESOLUTION,
            "max_point_activations": live.max_point_activations,
            "max_frame_cost": live.max_frame_cost,
            "max_step_n": MAX_STEP_N,
            "max_upload_bytes": settings.max_upload_bytes,
            "max_network_bytes": settings.max_network_bytes,  # a model file (POST /api/networks), and a points file
            "max_network_inputs": MAX_INPUTS,  # a network of more inputs than 2 is shown on a plane
            "network_formats": list(NETWORK_FORMATS),
            "max_source_pixels": MAX_SOURCE_PIXELS,
            "max_aspect_ratio": MAX_ASPECT_RATIO,
            "min_side": MIN_SIDE,
            "max_uploads": settings.store_limits.max_uploads,
            "max_upload_store_bytes": settings.store_limits.max_upload_store_bytes,
            "max_sessions": settings.max_sessions,
            "max_message_bytes": live.max_message_bytes,
            "max_ws_message_bytes": settings.max_ws_message_bytes,
            "max_live_memory_bytes": settings.live_memory_bytes,
        },
    }

