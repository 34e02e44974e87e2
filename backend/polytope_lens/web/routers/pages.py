"""The page itself, and plotly.js served from the plotly package (the app works offline)."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from ..registry import SettingsDep

router = APIRouter(include_in_schema=False)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@router.api_route("/", methods=["GET", "HEAD"])  # HEAD: uptime checks
async def index(settings: SettingsDep):
    page = Path(settings.frontend_dir) / "index.html"
    if not page.is_file():
        raise HTTPException(404, "the frontend is not installed next to this server")
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


@router.get("/static/vendor/plotly.min.js")
async def plotly_js():
    return FileResponse(PLOTLY_JS, media_type="text/javascript")
