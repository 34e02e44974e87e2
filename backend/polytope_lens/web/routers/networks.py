"""Networks from model files: POST /api/networks opens one (ONNX, a PyTorch state dict,
safetensors; polytope_lens.sources), GET /api/networks/{id} describes it; a websocket
``configure`` with ``"network": ID`` shows it (docs/protocol.md)."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from ...geometry import tasks
from ...geometry.exact import PartitionTooLarge
from ...geometry.export import DOCUMENT_FORMAT
from ...sources import NetworkRefused, OpenedNetwork, open_network, open_view, read_points
from ...core.classes import PALETTE
from ..networkstore import UnknownNetwork
from ..registry import GeometryJobsDep, JobsDep, NetworksDep, SettingsDep
from ..responses import attachment, problems
from .geometry import REGIONS_BUDGET_S, REGIONS_MAX, REGIONS_MAX_BYTES, _run_heavy, _too_large
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


def _opened(networks, network_id: str) -> OpenedNetwork:
    try:
        return networks.get(network_id)
    except UnknownNetwork as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/networks/{network_id}", response_model=NetworkSummary, responses=problems(404))
async def describe_network(network_id: str, networks: NetworksDep):
    opened = _opened(networks, network_id)
    return {"id": network_id, **opened.summary(), "notes": list(opened.notes)}


@router.get("/networks/{network_id}/regions.{kind}", responses={200: {"content": {"application/json": {},
            "image/svg+xml": {}}}, **problems(404, 413, 422)})
async def network_regions(network_id: str, kind: str, networks: NetworksDep, heavy: GeometryJobsDep,
                          layers: int | None = Query(None, description="first k hidden layers (default: all)")):
    """The exact partition of an opened network on the square [-1, 1]² as JSON (the document of
    ``polytope-lens regions``, with ``plane``: input = origin + x·u + y·v, and its three points as
    ``marks``, for a D-input network) or SVG (the points as numbered rings)."""
    if kind not in ("json", "svg"):
        raise HTTPException(404, f"regions.{kind[:20]}: ask for regions.json or regions.svg")
    opened = _opened(networks, network_id)
    summary = opened.summary()
    L = len(opened.shown.widths)
    k = L if layers is None else layers
    if not 1 <= k <= L:
        raise HTTPException(422, f"layers must be 1..{L} (this network has {L} hidden layers), got {layers}")
    extra = {"format": DOCUMENT_FORMAT, "source": opened.name, "layers": k, "hidden_layers": L,
             "network": {key: summary[key] for key in ("in_dim", "out_dim", "layers", "slopes", "activations", "task")}}
    if opened.plane is not None:
        extra.update(plane=summary["plane"], marks=summary["marks"], rows=summary["rows"])
    if opened.shown.task == "classify" and opened.shown.out_dim <= len(PALETTE):  # its exact decision regions
        extra["classes"] = ["#{:02x}{:02x}{:02x}".format(*c) for c in PALETTE[:opened.shown.out_dim]]
    try:
        data = await _run_heavy(heavy, f"network-{network_id}", f"regions of the first {k} layers",
                                tasks.regions_document, opened.shown, k, extra, kind=kind, max_regions=REGIONS_MAX,
                                max_bytes=REGIONS_MAX_BYTES, budget_s=REGIONS_BUDGET_S, marks=opened.marks)
    except PartitionTooLarge as exc:
        raise _too_large(exc, "partition", REGIONS_BUDGET_S, REGIONS_MAX) from None
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in opened.name.rsplit(".", 1)[0])[:60] or "network"
    return Response(data, media_type="application/json" if kind == "json" else "image/svg+xml",
                    headers=attachment(f"{stem}-regions-k{k}.{kind}"))
