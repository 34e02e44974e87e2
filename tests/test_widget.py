"""The notebook widget's kernel side (polytope_lens.Lens): its synced state carries the weights in the
flat float32 layout the page's renderer reads, with what they are; updates are sent at most
max_rate times a second and the held-back one is sent by the kernel's event loop; what the page's
renderer cannot draw is refused in words. (Its drawing: tests/test_widget_browser.py.)"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("anywidget", reason="the notebook extra (anywidget) is not installed")

import polytope_lens as pl  # noqa: E402
from polytope_lens.core.classes import PALETTE  # noqa: E402
from polytope_lens.core.model import build_mlp  # noqa: E402
from polytope_lens.core.network import FrozenNetwork  # noqa: E402
from polytope_lens.geometry.plane import default_plane, fold_plane  # noqa: E402
from polytope_lens.notebook import frontend  # noqa: E402
from polytope_lens.notebook.lens import HISTORY_POINTS  # noqa: E402


def net(seed=0, widths=(14,) * 6):
    return build_mlp(list(widths), generator=torch.Generator().manual_seed(seed))


def history(lens) -> np.ndarray:
    return np.frombuffer(lens.history, dtype=np.float64).reshape(-1, 2)


def test_the_state_carries_the_weights_and_what_they_are():
    model = net(1)
    lens = pl.Lens(model, size=200)
    state = lens.get_state()
    assert bytes(state["weights"]) == FrozenNetwork.of(model).flat() and len(state["weights"]) == 4 * 1107
    assert state["network"] == {"widths": [14] * 6, "out_dim": 1, "slopes": [0.0] * 6, "class_colors": None,
                                "box": [-1.0, 1.0, -1.0, 1.0], "step": 0}
    assert state["view"] == {"size": 200, "fill_regions": False, "boundaries": True}  # the page's view defaults
    assert state["_esm"] == frontend.widget_module()
    with torch.no_grad():  # a training step changes the weights in place: update sends them
        model.linears[0].weight.add_(0.5)
    lens = pl.Lens(net(1), max_rate=1e9)
    lens.update(model, loss=0.3)
    lens.update(model, loss=0.2, step=10)
    assert lens.weights == FrozenNetwork.of(model).flat() and lens.network["step"] == 10
    np.testing.assert_array_equal(history(lens), [[1, 0.3], [10, 0.2]])


def test_updates_faster_than_max_rate_wait_for_the_next_call_or_flush():
    first, second, third = net(1), net(2), net(3)
    lens = pl.Lens(first, max_rate=0.01)  # one send per 100 s: every update now is held back
    lens.update(second, loss=1.0)
    assert lens.weights == FrozenNetwork.of(first).flat() and lens.history == b""
    lens.update(third, loss=0.5)
    lens.flush()
    assert lens.weights == FrozenNetwork.of(third).flat() and history(lens).shape == (2, 2)
    lens.update()  # no model: the last one given, read again
    assert lens.shown is not None and lens._pending


def test_the_kernels_event_loop_sends_the_held_back_update():
    first, last = net(1), net(2)

    async def cell():
        lens = pl.Lens(first, max_rate=2)
        lens.update(last, loss=0.1)  # within 0.5 s of the first send: held back
        held = lens.weights
        for _ in range(60):  # the cell lets the loop run (as it does when it ends)
            await asyncio.sleep(0.05)
            if lens.weights != held:
                break
        return held, lens.weights

    held, after = asyncio.run(cell())
    assert held != FrozenNetwork.of(last).flat()
    assert after == FrozenNetwork.of(last).flat()


def test_history_is_thinned_evenly_keeping_the_newest():
    lens = pl.Lens(net(1, (4,)), max_rate=0.01)
    for step in range(HISTORY_POINTS + 10):
        lens.update(loss=1.0 / (step + 1), step=step)
    lens.flush()
    kept = history(lens)
    assert HISTORY_POINTS // 2 <= len(kept) <= HISTORY_POINTS
    assert kept[-1, 0] == HISTORY_POINTS + 9 and np.all(np.diff(kept[:, 0]) > 0)


def test_a_plane_and_a_classifier():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    points = np.random.default_rng(1).normal(size=(10, 64))
    plane = pl.plane_through(points)
    lens = pl.Lens(module, plane=plane)
    assert lens.weights == fold_plane(pl.from_module(module), plane).flat()
    assert lens.network["widths"] == [16, 16] and lens.network["out_dim"] == 4
    assert lens.network["class_colors"] == [list(c) for c in PALETTE[:4]]  # the page's class palette
    assert lens.partition().region_count == pl.partition(module, plane=plane).region_count
    # no plane: the plane of the first two inputs, as the page shows a D-input network
    first_two = pl.Lens(module)
    assert first_two.weights == fold_plane(pl.from_module(module), default_plane(64)).flat()
    with pytest.raises(ValueError, match="the plane lies in 64 dimensions, the network takes 32"):
        first_two.update(nn.Sequential(nn.Linear(32, 4), nn.ReLU(), nn.Linear(4, 1)))
        first_two.flush()  # (sent now, or when the interval has passed)
    colours = pl.Lens(module, plane=plane, class_colors=["#ff0000", (0, 255, 0), "#0000ff", "#101010"])
    assert colours.network["class_colors"] == [[255, 0, 0], [0, 255, 0], [0, 0, 255], [16, 16, 16]]


def test_mixed_slopes_are_drawn_and_what_the_renderer_cannot_draw_is_refused_in_words():
    torch.manual_seed(0)
    mixed = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 4), nn.LeakyReLU(0.1), nn.Linear(4, 1))
    assert pl.Lens(mixed).network["slopes"] == [0.0, pytest.approx(0.1)]  # the renderer takes a slope per layer
    ten = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 10))
    with pytest.raises(ValueError, match="at most 8 outputs; this one has 10"):
        pl.Lens(ten)
    five = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 5))
    with pytest.raises(ValueError, match="5 classes needs a colour for each; 2 were given"):
        pl.Lens(five, class_colors=["#ff0000", "#00ff00"])
    with pytest.raises(ValueError, match="takes 2 inputs and is shown as it is"):
        pl.Lens(net(1), plane=np.eye(3, 2))
    with pytest.raises(ValueError, match="class colour"):
        pl.Lens(net(1), class_colors=["red"])


def test_the_module_is_the_pages_files_joined():
    module = frontend.widget_module()
    renderer = (frontend.FRONTEND_DIR / frontend.RENDERER).read_text()
    view = (frontend.FRONTEND_DIR / frontend.VIEW).read_text()
    assert frontend.FACTS_IMPORT not in module and frontend.RENDERER_IMPORT not in module
    assert renderer.split(frontend.FACTS_IMPORT)[1] in module and view.split(frontend.RENDERER_IMPORT)[1] in module
    with pytest.raises(RuntimeError, match="no longer has the line"):
        frontend._replace_once("nothing", frontend.FACTS_IMPORT, "", "drawing/renderer.js")
