"""examples/digits.ipynb runs from top to bottom in a real Jupyter kernel (nbclient): a classifier
trained on scikit-learn's bundled digits, its exact partition on the plane through a 0, a 1 and a 7,
and a live Lens fed from the notebook's own training loop, whose last held-back update the kernel's
event loop sends once the cell has ended."""

from __future__ import annotations

import base64
import json
import re

import pytest

from conftest import REPO_ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("sklearn")
pytest.importorskip("anywidget")
pytest.importorskip("ipykernel")

NOTEBOOK = REPO_ROOT / "examples" / "digits.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError with the cell's traceback when a cell fails
    return nb, folder


def text_of(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream")


def test_the_example_runs_and_shows_the_plane(executed):
    nb, folder = executed
    out = text_of(nb)
    assert "(1797, 64) pictures of 10 digits" in out
    assert float(re.search(r"training accuracy ([0-9.]+)", out).group(1)) > 0.9
    for digit in (0, 1, 7):  # the three pictures lie on the plane, inside the square
        x, y, d = (float(v) for v in re.search(rf"the {digit} lies at \(([-+0-9.]+), ([-+0-9.]+)\) \(distance ([-+0-9.e]+)\)",
                                                out).groups())
        assert abs(x) < 1 and abs(y) < 1 and d < 1e-9
    svgs = [o.data for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 2 and all(s["image/svg+xml"].startswith("<svg") for s in svgs)  # the plane; the live net at the end
    count = int(re.search(r"(\d+) linear regions, computed in", out).group(1))
    assert f"{count} linear regions of a 64-32x32-10 classifier on a plane" in svgs[0]["text/plain"]
    document = json.loads((folder / "digits-plane.json").read_text())
    assert document["region_count"] == count
    assert (folder / "digits-plane.svg").read_text().startswith("<svg")


def test_the_live_lens_got_the_last_update(executed):
    nb, _ = executed
    steps = int(re.search(r"(\d+) steps, loss", text_of(nb)).group(1))
    (lens,) = [m for m in nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"].values()
               if m["state"].get("_anywidget_id") == "polytope_lens.notebook.lens.Lens"]
    state = lens["state"]
    assert state["network"]["step"] == steps  # held back by max_rate, sent when the cell ended
    assert state["network"]["widths"] == [32, 32] and len(state["network"]["class_colors"]) == 3
    buffers = {tuple(b["path"]): base64.b64decode(b["data"]) for b in lens["buffers"]}
    assert len(buffers[("weights",)]) == 4 * (2 * 32 + 32 + 32 * 32 + 32 + 32 * 3 + 3)  # the plane folded in
    assert len(buffers[("history",)]) == 16 * steps  # (step, loss) for every step
