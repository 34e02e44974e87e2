"""Ready experiments: the runs of the polytope post and the ideas behind them, one click each.

A preset is a full run configuration (every network and training setting, so
loading one never inherits a setting from whatever ran before), a suggested
number of steps, optionally view settings, and a sentence saying what it
shows. Pairs meant to be compared name each other in ``compare_with``.
``GET /api/presets`` lists them (web/routers/presets.py), the page's
*Experiments* menu loads one, ``polytope-lens train --preset ID`` runs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .settings import RunConfig

# The polytope post's setting: the ring, 6000 steps of Adam at 1e-3, 5,000 + 1,000 points.
POST = {"image": "ring", "optimizer": "adam", "lr": 1e-3, "train_points": 5000, "val_points": 1000, "seed": 0}


@dataclass(frozen=True)
class Preset:
    id: str
    name: str
    description: str
    settings: dict  # the settings that differ from the defaults; ``config`` fills in the rest
    steps: int
    view: dict = field(default_factory=dict)
    compare_with: str | None = None
    # a hand-set network: what each neuron does, by "layer:neuron" (layers as in core/handedits.py)
    roles: dict = field(default_factory=dict)

    @property
    def config(self) -> RunConfig:
        return RunConfig(**self.settings)


PRESETS: tuple[Preset, ...] = (
    Preset("post-14x6", "Polytope post: 14x6",
           "Six layers of 14 neurons learn the ring: regions gather along its edges.",
           {**POST, "layers": "14x6"}, 6000),
    Preset("post-bottleneck", "Polytope post: bottleneck 10x10,2,10x3",
           "A 2-neuron bottleneck after ten layers: everything after it sees only two numbers, "
           "so the later layers can fold the plane but not cut it freely.",
           {**POST, "layers": "10x10,2,10x3"}, 6000),
    Preset("post-deep", "Polytope post: deep 20x40",
           "Forty layers of 20: a deep net starts with few regions and is slow to get going.",
           {**POST, "layers": "20x40"}, 6000),
    Preset("sawtooth", "Sawtooth: depth doubles the regions",
           "Hand-set tent maps, no training: every layer of 2 neurons doubles the regions, "
           "2^L vertical strips for layers 2xL (move the depth slider).",
           {"image": "gradient", "layers": "2x6", "init": "sawtooth"}, 0,
           view={"fill_regions": True}, compare_with="sawtooth-shallow"),
    Preset("sawtooth-shallow", "Sawtooth: one wide layer",
           "The same 12 neurons in one layer: at most 13 pieces along any line, however it is trained.",
           {"image": "gradient", "layers": "12", "init": "sawtooth"}, 0,
           view={"fill_regions": True}, compare_with="sawtooth"),
    Preset("xor-by-hand", "XOR by hand: four ReLU neurons",
           "Set by hand, no training: n0 = relu(x + y), n1 = relu(−x − y), n2 = relu(x − y), n3 = relu(y − x); "
           "red's score is 4·(n0 + n1) = 4|x + y|, blue's 4·(n2 + n3) = 4|x − y|, so red wins exactly where "
           "x·y > 0 (accuracy 1.0). Click a weight in the network diagram to change it.",
           {"image": "classes-xor", "task": "classify", "layers": "4", "init": "xor", "train_points": 2000,
            "val_points": 500}, 0, view={"fill_regions": True},
           roles={"1:0": "n0 = relu(x + y): on above the falling diagonal",
                  "1:1": "n1 = relu(−x − y): on below the falling diagonal",
                  "1:2": "n2 = relu(x − y): on below the rising diagonal",
                  "1:3": "n3 = relu(y − x): on above the rising diagonal",
                  "2:0": "red's score: 4·(n0 + n1) = 4|x + y|",
                  "2:1": "blue's score: 4·(n2 + n3) = 4|x − y|"}),
    Preset("wide-shallow", "Wide and shallow (1,105 parameters)",
           "One layer of 276 neurons, as many parameters as 14x6: its regions come only from straight lines.",
           {**POST, "layers": "276"}, 6000, compare_with="narrow-deep"),
    Preset("narrow-deep", "Narrow and deep (1,107 parameters)",
           "14x6, as many parameters as one layer of 276: later layers bend the lines of earlier ones.",
           {**POST, "layers": "14x6"}, 6000, compare_with="wide-shallow"),
    Preset("lazy", "Lazy training: very wide, small steps",
           "One layer of 1,024 neurons with plain SGD: the loss falls while the activation patterns "
           "barely move (watch pattern churn).",
           {**POST, "layers": "1024", "optimizer": "sgd", "lr": 0.005}, 3000, compare_with="rich"),
    Preset("rich", "Rich training: narrow and deep",
           "8 layers of 10 with Adam: the partition is rebuilt as it learns (pattern churn stays high).",
           {**POST, "layers": "10x8"}, 3000, compare_with="lazy"),
    Preset("relu", "Plain ReLU on the face",
           "14x6 with ReLU: neurons that switch off everywhere stay dead.",
           {**POST, "image": "face", "layers": "14x6", "activation": "relu"}, 6000, compare_with="leaky"),
    Preset("leaky", "Leaky ReLU on the face",
           "The same net, picture and seed with leaky ReLU (slope 0.1): no neuron is ever truly off.",
           {**POST, "image": "face", "layers": "14x6", "activation": "leaky_relu", "negative_slope": 0.1},
           6000, compare_with="relu"),
)

PRESETS_BY_ID = {preset.id: preset for preset in PRESETS}


def get_preset(preset_id: str) -> Preset:
    """The preset ``preset_id``; KeyError names the ones there are."""
    try:
        return PRESETS_BY_ID[preset_id]
    except KeyError:
        raise KeyError(f"no preset '{preset_id}' (there are: {', '.join(PRESETS_BY_ID)})") from None
