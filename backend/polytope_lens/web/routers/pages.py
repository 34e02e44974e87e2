"""The page itself, and plotly.js (the charts), served by this server: the app works offline.

The charts draw only line and scatter plots, which plotly's "basic" bundle has: a quarter of the
full bundle's size and a quarter of its start-up time on each page load (docs/benchmarks.md).
``scripts/setup.sh`` fetches it from the npm registry into ``frontend/vendor/`` (the wheel carries
it from there); without it the page gets the full bundle that the plotly package ships."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from ..registry import SettingsDep

router = APIRouter(include_in_schema=False)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_BASIC_JS = Path("vendor") / "plotly-basic.min.js"  # in the frontend folder, when setup fetched it


def plotly_bundle(frontend_dir: Path) -> Path:
    """The plotly.js the page loads: the basic bundle beside the page if there is one, else the full one."""
    basic = Path(frontend_dir) / PLOTLY_BASIC_JS
    return basic if basic.is_file() else PLOTLY_JS


@router.api_route("/", methods=["GET", "HEAD"])  # HEAD: uptime checks
async def index(settings: SettingsDep):
    page = Path(settings.frontend_dir) / "index.html"
    if not page.is_file():
        raise HTTPException(404, "the frontend is not installed next to this server")
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


@router.get("/static/vendor/plotly.min.js")
async def plotly_js(settings: SettingsDep):
    return FileResponse(plotly_bundle(settings.frontend_dir), media_type="text/javascript")
