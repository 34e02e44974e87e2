"""Networks from elsewhere (polytope_lens.sources) and the plane through many inputs
(geometry/plane.py): files written by real exporters (torch.onnx.export, onnx.helper, torch.save,
safetensors) open as the same network the product builds, with the same exact region count; what
is not a (leaky) ReLU MLP is refused in words naming the node or tensor."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from polytope_lens.core.model import MLP, build_mlp  # noqa: E402
from polytope_lens.core.network import FrozenNetwork  # noqa: E402
from polytope_lens.geometry.exact import region_counts_per_layer  # noqa: E402
from polytope_lens.geometry.grid import grid_points  # noqa: E402
from polytope_lens.geometry.plane import Plane, fold_plane, plane_through  # noqa: E402
from polytope_lens.sources import NetworkRefused, from_module, from_state_dict, open_network, read_points  # noqa: E402


def product_mlp(widths, slopes, out_dim=1, seed=0, in_dim=2, task="regress") -> MLP:
    """A network the product builds (He init), with a slope per hidden layer."""
    model = build_mlp(widths, out_dim=out_dim, generator=torch.Generator().manual_seed(seed), in_dim=in_dim, task=task)
    return MLP.from_network(FrozenNetwork([(W, b) for W, b in model.affine_layers()], slopes, task))


def as_sequential(model: MLP, final=None) -> nn.Sequential:
    """The same weights as a plain nn.Sequential (what a researcher's script holds)."""
    mods: list[nn.Module] = []
    for i, linear in enumerate(model.linears):
        copy = nn.Linear(linear.in_features, linear.out_features)
        copy.load_state_dict(linear.state_dict())
        mods.append(copy)
        if i < len(model.widths):
            slope = model.slopes[i]
            mods.append(nn.ReLU() if slope == 0 else nn.LeakyReLU(slope))
    if final is not None:
        mods.append(final)
    return nn.Sequential(*mods).eval()


def forward(network, x: np.ndarray) -> np.ndarray:
    """The network's output in float64 (numpy), read through the Network contract."""
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in network.affine_layers()]
    for (W, b), slope in zip(layers[:-1], network.slopes):
        z = x @ W.T + b
        x = np.where(z > 0, z, slope * z)
    W, b = layers[-1]
    return x @ W.T + b


def counts(network) -> list[int]:
    return region_counts_per_layer(network)


def legacy_onnx(module: nn.Module, in_dim: int = 2) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(module, (torch.zeros(1, in_dim),), buf, dynamo=False)
    return buf.getvalue()


def trained(widths, slopes) -> MLP:
    """A product network after some training on the ring (regions move and multiply), started from a
    network with a slope per layer."""
    from polytope_lens.core.images import load_target
    from polytope_lens.core.samples import sample_path
    from polytope_lens.core.settings import RunConfig
    from polytope_lens.core.training import Trainer

    config = RunConfig(image="ring", layers=",".join(map(str, widths)), train_points=400, val_points=100, lr=0.01)
    trainer = Trainer(config, load_target(sample_path("ring")), device="cpu")
    trainer.adopt(product_mlp(widths, slopes, seed=8).freeze())
    trainer.step(150)
    assert trainer.model.slopes == tuple(slopes)
    return trainer.model


CASES = {"relu": [0.0] * 6, "leaky": [0.1] * 6, "mixed": [0.0, 0.1, 0.0, 0.2, 0.0, 0.05]}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_legacy_onnx_export_opens_with_the_products_count(kind):
    model = product_mlp([14] * 6, CASES[kind], seed=3)
    opened = open_network(legacy_onnx(as_sequential(model)), name="net.onnx")
    assert opened.slopes == pytest.approx(model.slopes) and opened.widths == model.widths
    assert opened.task == "regress"
    assert counts(opened) == counts(model)


def test_trained_network_opens_from_every_format_with_the_same_count(tmp_path):
    model = trained([10, 10, 10], [0.0, 0.1, 0.0])
    expected = counts(model)
    seq = as_sequential(model)
    onnx_file = tmp_path / "trained.onnx"
    onnx_file.write_bytes(legacy_onnx(seq))
    torch.save(seq.state_dict(), tmp_path / "trained.pt")
    from safetensors.torch import save_file

    save_file(seq.state_dict(), tmp_path / "trained.safetensors")
    for network in (open_network(onnx_file), open_network(tmp_path / "trained.pt", negative_slope=[0.0, 0.1, 0.0]),
                    open_network(tmp_path / "trained.safetensors", negative_slope=[0.0, 0.1, 0.0]),
                    from_module(seq)):
        assert counts(network) == expected
        x = grid_points(16)
        assert np.allclose(forward(network, x), forward(model.freeze(), x), atol=1e-6)


def test_dynamo_onnx_export_with_softmax_is_a_classifier(tmp_path):
    """torch.onnx.export's default (dynamo) exporter, needing onnxscript; its weights go to a file beside
    the model unless external_data=False: opened by path they are read from there, uploaded bytes say how."""
    pytest.importorskip("onnxscript")
    model = product_mlp([32, 32], [0.0, 0.1], out_dim=3, seed=5, task="classify")
    seq = as_sequential(model, final=nn.Softmax(dim=-1))
    path = tmp_path / "dynamo.onnx"
    torch.onnx.export(seq, (torch.zeros(1, 2),), str(path), dynamo=True, external_data=True)
    opened = open_network(path)
    assert opened.task == "classify" and opened.slopes == (0.0, 0.1) and opened.out_dim == 3
    assert counts(opened) == counts(model)
    stored = onnx.load_model(str(path), load_external_data=False).graph.initializer
    assert any(t.data_location == TensorProto.EXTERNAL for t in stored)  # the 32x32 weights lie beside it
    with pytest.raises(NetworkRefused, match="separate file"):  # uploaded bytes alone cannot hold them
        open_network(path.read_bytes(), name="dynamo.onnx")


def _graph(nodes, initializers, in_dim=2, out="y", out_dim=1, inputs=None):
    graph = helper.make_graph(
        nodes, "hand", inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", in_dim])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", out_dim])],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_onnx_by_hand_gemm_attributes_matmul_add_and_pass_throughs():
    rng = np.random.default_rng(7)
    W1, b1 = rng.normal(size=(6, 2)), rng.normal(size=6)
    W2, b2 = rng.normal(size=(5, 6)), rng.normal(size=5)
    W3, b3 = rng.normal(size=(4, 5)), rng.normal(size=4)
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        # Gemm with B stored (in, out) (transB=0), alpha 2 and beta 0.5: y = 2 f B + 0.5 C
        helper.make_node("Gemm", ["f", "B1", "C1"], ["h1"], name="gemm1", alpha=2.0, beta=0.5, transB=0),
        helper.make_node("LeakyRelu", ["h1"], ["a1"], name="leaky1", alpha=0.2),
        helper.make_node("Dropout", ["a1"], ["d1"], name="drop"),
        helper.make_node("MatMul", ["d1", "B2"], ["m2"], name="matmul2"),
        helper.make_node("Add", ["m2", "C2"], ["h2"], name="add2"),
        helper.make_node("Relu", ["h2"], ["a2"], name="relu2"),
        helper.make_node("Identity", ["a2"], ["i2"], name="ident"),
        helper.make_node("Gemm", ["i2", "W3", "b3"], ["s"], name="gemm3", transB=1),
        helper.make_node("LogSoftmax", ["s"], ["y"], name="logsoftmax", axis=-1),
    ]
    data = _graph(nodes, {"B1": W1.T / 2, "C1": b1 * 2, "B2": W2.T, "C2": b2, "W3": W3, "b3": b3}, out_dim=4)
    opened = open_network(data, name="hand.onnx")
    expected = FrozenNetwork([(W1, b1), (W2, b2), (W3, b3)], [0.2, 0.0], "classify")
    assert opened.task == "classify" and opened.slopes == (0.2, 0.0)
    x = grid_points(12)
    assert np.allclose(forward(opened, x), forward(expected, x), atol=1e-5)
    assert counts(opened) == counts(FrozenNetwork([(W.astype(np.float32), b.astype(np.float32))
                                                   for W, b in opened.affine_layers()], [0.2, 0.0]))


def _refusal(data, match, **options):
    with pytest.raises(NetworkRefused, match=match) as info:
        open_network(data, **options)
    return str(info.value)


def test_onnx_refusals_name_the_node_or_tensor():
    rng = np.random.default_rng(1)
    W1, W2 = rng.normal(size=(4, 2)), rng.normal(size=(1, 4))
    conv = [helper.make_node("Conv", ["x", "K"], ["c"], name="conv1"), helper.make_node("Relu", ["c"], ["y"], name="r")]
    _refusal(_graph(conv, {"K": np.ones((1, 1, 1))}), "node 'conv1' is Conv: a convolution")
    sig = [helper.make_node("Gemm", ["x", "W1"], ["h"], name="g1", transB=1),
           helper.make_node("Sigmoid", ["h"], ["a"], name="sig1"),
           helper.make_node("Gemm", ["a", "W2"], ["y"], name="g2", transB=1)]
    _refusal(_graph(sig, {"W1": W1, "W2": W2}), "node 'sig1' is Sigmoid: a sigmoid")
    skip = [helper.make_node("Gemm", ["x", "W1"], ["h"], name="g1", transB=1),
            helper.make_node("Relu", ["h"], ["a"], name="r1"),
            helper.make_node("Add", ["a", "h"], ["s"], name="skip_add"),
            helper.make_node("Gemm", ["s", "W2"], ["y"], name="g2", transB=1)]
    _refusal(_graph(skip, {"W1": W1, "W2": W2}), "'skip_add'.*skip connection")
    branch = [helper.make_node("Gemm", ["x", "W1"], ["h"], name="g1", transB=1),
              helper.make_node("Relu", ["h"], ["a"], name="r1"),
              helper.make_node("Relu", ["h"], ["a2"], name="r2"),
              helper.make_node("Gemm", ["a", "W2"], ["y"], name="g2", transB=1)]
    _refusal(_graph(branch, {"W1": W1, "W2": W2}), "'r2'.*not the previous node's output")
    bad = W1.copy()
    bad[1, 1] = np.nan
    ok_chain = [helper.make_node("Gemm", ["x", "W1"], ["h"], name="g1", transB=1),
                helper.make_node("Relu", ["h"], ["a"], name="r1"),
                helper.make_node("Gemm", ["a", "W2"], ["y"], name="g2", transB=1)]
    _refusal(_graph(ok_chain, {"W1": bad, "W2": W2}), "tensor 'W1' holds 1 NaN or infinite value")
    inf = W2.copy()
    inf[0, 0] = np.inf
    _refusal(_graph(ok_chain, {"W1": W1, "W2": inf}), "tensor 'W2'")
    good = _graph(ok_chain, {"W1": W1, "W2": W2})
    assert open_network(good).widths == [4]
    _refusal(good, "past the limit", limit=len(good) - 1)
    _refusal(b"not a model at all" * 3, "not an ONNX model", name="junk.onnx")
    last_relu = ok_chain + [helper.make_node("Relu", ["y"], ["z"], name="final_relu")]
    _refusal(_graph(last_relu, {"W1": W1, "W2": W2}, out="z"), "'final_relu' comes after the last layer")


def test_state_dict_options_nesting_and_refusals(tmp_path):
    model = product_mlp([6, 6], [0.0, 0.0], seed=2)
    seq = as_sequential(model)
    buf = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": seq.state_dict()}, buf)  # as training scripts save
    assert counts(open_network(buf.getvalue(), name="ckpt.pth")) == counts(model)
    leaky = open_network(buf.getvalue(), activation="leaky_relu", negative_slope=0.3)
    assert leaky.slopes == (0.3, 0.3)
    _refusal(buf.getvalue(), "3 negative slopes given for the 2 hidden layers", negative_slope=[0.1, 0.2, 0.3])
    _refusal(buf.getvalue(), "activation must be one of", activation="tanh")
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2, 1))
    buf = io.BytesIO()
    torch.save(conv.state_dict(), buf)
    _refusal(buf.getvalue(), r"tensor '0.weight' has shape \(2, 1, 3, 3\): not a Linear")
    bn = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    buf = io.BytesIO()
    torch.save(bn.state_dict(), buf)
    _refusal(buf.getvalue(), "'1.running_mean' is not the weight or bias of a Linear")
    state = seq.state_dict()
    state["2.weight"] = torch.full_like(state["2.weight"], float("nan"))
    with pytest.raises(NetworkRefused, match="tensor '2.weight' holds"):
        from_state_dict(state)


class _CreatesAFile:
    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_that_would_create_a_file_is_refused_and_never_run(tmp_path):
    target = tmp_path / "pwned"
    _CreatesAFile.path = str(target)
    for payload in ({"0.weight": _CreatesAFile()}, _CreatesAFile()):
        buf = io.BytesIO()
        torch.save(payload, buf)
        message = _refusal(buf.getvalue(), "refused without running it", name="evil.pt")
        assert "open" in message and "evil.pt" in message
        assert not target.exists()


def test_safetensors_with_slopes_and_a_truncated_file(tmp_path):
    from safetensors.torch import save

    model = product_mlp([8, 8, 8], [0.1, 0.0, 0.1], seed=9)
    data = save(as_sequential(model).state_dict())
    opened = open_network(data, name="net.safetensors", activation="leaky_relu", negative_slope=[0.1, 0.0, 0.1])
    assert counts(opened) == counts(model)
    _refusal(data[: len(data) // 2], "not a safetensors file", name="cut.safetensors")


def test_from_module_reads_sequentials_and_refuses_other_modules():
    model = product_mlp([5, 5], [0.0, 0.25], out_dim=3, seed=4, task="classify")
    seq = nn.Sequential(nn.Flatten(), nn.Sequential(*as_sequential(model)), nn.Dropout(0.1), nn.LogSoftmax(dim=1))
    opened = from_module(seq)
    assert opened.task == "classify" and opened.slopes == (0.0, 0.25)
    assert counts(opened) == counts(model)
    assert from_module(model).slopes == model.slopes  # the product's own MLP is a Network already
    with pytest.raises(NetworkRefused, match=r"module 1 \(Sigmoid\)"):
        from_module(nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1)))
    with pytest.raises(NetworkRefused, match="not an nn.Sequential"):
        from_module(nn.LSTM(2, 3))


# -- the plane ------------------------------------------------------------------------------


def test_plane_puts_the_three_points_inside_and_reproduces_the_network():
    rng = np.random.default_rng(11)
    points = rng.normal(size=(20, 64))
    for rows in ((0, 1, 2), (5, 17, 3)):
        plane = plane_through(points, rows, margin=0.2)
        xy, distance = plane.coordinates(points[list(rows)])
        assert np.all(np.abs(xy) <= 0.8 + 1e-9) and np.all(distance < 1e-9)
        assert np.allclose(plane.inputs(xy), points[list(rows)], atol=1e-9)
        assert abs(plane.u @ plane.v) < 1e-9 and np.isclose(plane.u @ plane.u, plane.v @ plane.v)
    model = as_sequential(product_mlp([32, 32], [0.0, 0.1], out_dim=10, in_dim=64, seed=1), final=nn.Softmax(-1))
    network = open_network(legacy_onnx(model, in_dim=64), name="d64.onnx")
    assert network.in_dim == 64 and network.task == "classify"
    plane = plane_through(points)
    folded = fold_plane(network, plane)
    assert folded.in_dim == 2 and folded.slopes == network.slopes
    xy = rng.uniform(-1, 1, size=(200, 2))
    assert np.allclose(forward(folded, xy), forward(network, plane.inputs(xy)), atol=1e-6, rtol=0)
    # the same activation patterns at every point: the plane's regions are the folded network's
    grid = grid_points(48)
    def bits(net, x):
        out = []
        layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in net.affine_layers()]
        for (W, b), slope in zip(layers[:-1], net.slopes):
            z = x @ W.T + b
            out.append(z > 0)
            x = np.where(z > 0, z, slope * z)
        return np.concatenate(out, axis=1)
    assert np.array_equal(bits(folded, grid), bits(network, plane.inputs(grid)))
    exact = counts(folded)[-1]
    assert exact >= len(np.unique(bits(folded, grid), axis=0)) > 1
    assert Plane.from_json(plane.to_json()).to_json() == plane.to_json()


def test_plane_refuses_degenerate_points_and_wrong_sizes():
    points = np.zeros((4, 5))
    points[1, 0] = 1
    points[2, 0] = 2  # on the line through rows 0 and 1
    points[3, 1] = 1
    with pytest.raises(ValueError, match="lie on one line"):
        plane_through(points, (0, 1, 2))
    with pytest.raises(ValueError, match="same point"):
        plane_through(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="row 9"):
        plane_through(points, (0, 1, 9))
    plane = plane_through(points, (0, 1, 3))
    with pytest.raises(ValueError, match="takes 2 inputs"):
        fold_plane(product_mlp([3], [0.0]), plane)


def test_points_files_npy_and_csv(tmp_path):
    points = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.save(tmp_path / "p.npy", points)
    assert np.array_equal(read_points(tmp_path / "p.npy"), points)
    (tmp_path / "p.csv").write_text("a,b,c,d\n" + "\n".join(",".join(map(str, r)) for r in points) + "\n")
    assert np.array_equal(read_points(tmp_path / "p.csv"), points)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(NetworkRefused, match="not a numeric .npy"):
        read_points(tmp_path / "obj.npy")
    with pytest.raises(NetworkRefused, match="line 3"):
        read_points(b"1,2\n3,4\nx,y\n", name="bad.csv")
