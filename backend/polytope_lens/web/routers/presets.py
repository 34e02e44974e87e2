"""Ready experiments (core/presets.py): what the page's Experiments menu lists and loads."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...core.presets import PRESETS
from ...core.settings import RunConfig

router = APIRouter(prefix="/api", tags=["experiments"])


class PresetOut(BaseModel):
    id: str
    name: str
    description: str = Field(description="what the experiment shows, in a sentence")
    config: RunConfig = Field(description="every network and training setting of the run")
    view: dict = Field(description="view settings it suggests, e.g. fill_regions")
    steps: int = Field(description="suggested training steps (0: nothing to train)")
    compare_with: str | None = Field(description="the preset it is meant to be compared with")
    roles: dict[str, str] = Field(description="a hand-set network: what each neuron does, by 'layer:neuron' "
                                              "(layers 1-based as in the edit message, neurons 0-based)")


@router.get("/presets", response_model=list[PresetOut])
async def presets():
    """Every ready experiment with its full configuration."""
    return [PresetOut(id=p.id, name=p.name, description=p.description, config=p.config, view=p.view,
                      steps=p.steps, compare_with=p.compare_with,
                      roles=p.roles) for p in PRESETS]
