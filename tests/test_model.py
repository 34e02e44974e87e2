"""Layer-spec syntax and limits, and the MLP's initialisation and activation."""

from __future__ import annotations

import pytest
import torch

from polytope_lens.core import model as model
from polytope_lens.core.model import LayerSpecError, build_mlp, check_parameter_budget, format_layers, parse_layers


@pytest.mark.parametrize(
    "spec, widths",
    [
        ("14x6", [14] * 6),
        ("10x10,2,10x3", [10] * 10 + [2] + [10] * 3),
        ("64,32,16", [64, 32, 16]),
        (" 14 x 6 , 3 ", [14] * 6 + [3]),
        ("8X2", [8, 8]),
        ("7", [7]),
    ],
)
def test_parse_accepts(spec, widths):
    assert parse_layers(spec) == widths


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("abc", "cannot read 'abc'"),
        ("0", "positive"),
        ("-3", "positive"),
        ("14x0", "counts must be positive"),
        ("14x", "cannot read '14x'"),
        ("1e3", "cannot read '1e3'"),
        ("x6", "cannot read 'x6'"),
        ("14x6,", "stray comma"),
        (",14", "stray comma"),
        ("14x6;2", "cannot read"),
        (f"{model.MAX_WIDTH + 1}", f"limit of {model.MAX_WIDTH}"),
        (f"4x{model.MAX_DEPTH + 1}", f"at most {model.MAX_DEPTH}"),
        (f"4x{model.MAX_DEPTH},4", f"at most {model.MAX_DEPTH}"),
    ],
)
def test_parse_rejects_with_message(spec, message):
    with pytest.raises(LayerSpecError, match=message):
        parse_layers(spec)


def test_parameter_budget():
    widths = parse_layers("1000x3")  # each layer within limits, 2,006,001 parameters together
    assert model.count_parameters(widths) > model.MAX_PARAMETERS
    with pytest.raises(LayerSpecError, match="parameters, past the limit"):
        check_parameter_budget(widths)
    check_parameter_budget(parse_layers("14x6"))


@pytest.mark.parametrize(
    "spec, canonical",
    [("14x6", "14x6"), ("10x10,2,10x3", "10x10,2,10x3"), ("64,32,16", "64,32,16"), ("3,3,4,4,4,3", "3x2,4x3,3"),
     (" 1 x 64 ", "1x64")],
)  # fmt: skip
def test_format_round_trips(spec, canonical):
    widths = parse_layers(spec)
    assert format_layers(widths) == canonical
    assert parse_layers(format_layers(widths)) == widths


@pytest.mark.parametrize("activation, slope", [("relu", 0.0), ("leaky_relu", 0.2)])
def test_he_init_statistics(activation, slope):
    g = torch.Generator().manual_seed(0)
    net = build_mlp([512] * 4, activation=activation, negative_slope=0.2, generator=g)
    for i, lin in enumerate(net.linears[:-1]):
        fan_in = lin.weight.shape[1]
        expected = (2.0 / ((1 + slope**2) * fan_in)) ** 0.5
        assert lin.weight.std().item() == pytest.approx(expected, rel=0.05 if fan_in > 2 else 0.1)
        assert lin.weight.mean().abs().item() < 0.1 * expected
        assert lin.bias.abs().max().item() <= fan_in**-0.5
    # He's point: the signal keeps its scale through depth (no explosion or vanishing).
    x = torch.randn(4096, 2, generator=g)
    _, pre = net.forward_with_preactivations(x)
    scales = [z.pow(2).mean().item() for z in pre]
    assert max(scales) / min(scales) < 4


def test_relu_and_leaky_slope_are_used():
    for activation, slope in (("relu", 0.0), ("leaky_relu", 0.1)):
        net = build_mlp([1], activation=activation, negative_slope=0.1)
        assert net.negative_slope == slope
        with torch.no_grad():
            net.linears[0].weight.copy_(torch.tensor([[1.0, 0.0]]))
            net.linears[0].bias.zero_()
            net.linears[1].weight.fill_(1.0)
            net.linears[1].bias.zero_()
        out = net(torch.tensor([[-2.0, 5.0], [3.0, 5.0]]))
        assert out[:, 0].tolist() == pytest.approx([-2.0 * slope, 3.0])


def test_initialisation_is_reproducible_from_generator():
    a = build_mlp([14] * 6, generator=torch.Generator().manual_seed(5))
    b = build_mlp([14] * 6, generator=torch.Generator().manual_seed(5))
    c = build_mlp([14] * 6, generator=torch.Generator().manual_seed(6))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.linears[0].weight, c.linears[0].weight)
