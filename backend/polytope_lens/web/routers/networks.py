"""Networks from model files: POST /api/networks opens one (ONNX, a PyTorch state dict,
safetensors; polytope_lens.sources), GET /api/networks/{id} describes it; a websocket
``configure`` with ``"network": ID`` shows it (docs/protocol.md)."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from pydantic import BaseModel

from ...sources import NetworkRefused, open_network, open_view, read_points
from ..networkstore import UnknownNetwork
from ..registry import JobsDep, NetworksDep, SettingsDep
from ..responses import problems
from .images import _read_limited

router = APIRouter(prefix="/api", tags=["networks"])


class NetworkSummary(BaseModel):
    """An opened network (sources/opened.py OpenedNetwork.summary)."""

    id: str
    name: str
    in_dim: int
    out_dim: int
    layers: list[int]  # hidden widths
    slopes: list[float]  # negative slope of each hidden layer (0: ReLU)
    activations: list[str]  # "relu" or "leaky_relu(s)", per hidden layer
    task: str  # "regress" or "classify"
    parameters: int
    plane: dict | None  # {"origin", "u", "v"}: input = origin + x·u + y·v; None for a 2-input network
    marks: list[list[float]]  # the plane's three points on the square [-1, 1]²
    rows: list[int]  # their rows in the points file
    trainable_on_pictures: bool  # false: shown, not trained (a D-input network)
    notes: list[str] = []


def _rows(text: str | None) -> tuple[int, int, int]:
    if text is None or not text.strip():
        return (0, 1, 2)
    parts = text.replace(",", " ").split()
    try:
        rows = tuple(int(p) for p in parts)
    except ValueError:
        raise HTTPException(422, f"rows: '{text[:40]}' is not three row numbers such as '0 1 2'") from None
    if len(rows) != 3:
        raise HTTPException(422, f"rows: three row numbers are needed, got {len(rows)}")
    return rows


def _slope(text: str | None) -> float | list[float] | None:
    if text is None or not text.strip():
        return None
    try:
        values = [float(p) for p in text.replace(",", " ").split()]
    except ValueError:
        raise HTTPException(422, f"negative_slope: '{text[:40]}' is not a number or a list of numbers") from None
    return values[0] if len(values) == 1 else values


@router.post("/networks", status_code=201, response_model=NetworkSummary, responses=problems(413, 422))
async def open_model_file(
    networks: NetworksDep, settings: SettingsDep, jobs: JobsDep,
    file: UploadFile | None = File(None, description="the model file: .onnx, .pt/.pth (a state dict), .safetensors"),
    points: UploadFile | None = File(None, description="rows of inputs (.npy or .csv, N x D): the plane's three points"),
    rows: str | None = Form(None, description="three row numbers of the points file (default 0 1 2)"),
    activation: str | None = Form(None, description="state dicts and safetensors: relu or leaky_relu"),
    negative_slope: str | None = Form(None, description="state dicts and safetensors: one slope, or one per hidden layer"),
    task: str | None = Form(None, description="regress or classify (default: from the file)"),
):
    if file is None:
        raise HTTPException(422, "the upload needs a multipart field named 'file' holding the model file")
    data = await _read_limited(file, settings.max_network_bytes)
    point_data = await _read_limited(points, settings.max_network_bytes) if points is not None else None
    name = (file.filename or "network")[-120:]
    wanted_rows, slope = _rows(rows), _slope(negative_slope)
    if task not in (None, "", "regress", "classify"):
        raise HTTPException(422, f"task: must be regress or classify, not '{task[:40]}'")

    def read():
        network = open_network(data, name=name, activation=activation or None, negative_slope=slope,
                               task=task or None, limit=settings.max_network_bytes)
        table = read_points(point_data, name=points.filename or "points") if point_data is not None else None
        return open_view(network, name, table, wanted_rows)

    try:
        opened = await jobs.run(read)
    except NetworkRefused as exc:
        raise HTTPException(422, str(exc))
    network_id = networks.add(opened)
    return {"id": network_id, **opened.summary(), "notes": list(opened.notes)}


@router.get("/networks/{network_id}", response_model=NetworkSummary, responses=problems(404))
async def describe_network(network_id: str, networks: NetworksDep):
    try:
        opened = networks.get(network_id)
    except UnknownNetwork as exc:
        raise HTTPException(404, str(exc))
    return {"id": network_id, **opened.summary(), "notes": list(opened.notes)}
