"""Training a run: data on the device, optimiser, steps, losses, checkpoints.

Reproducibility: initialisation and batch order come from two torch
generators seeded from the run's seed, so a CPU run is bit-for-bit repeatable
and a resumed run continues the same batch sequence.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .settings import VIEW_FIELDS, RunConfig, SettingError
from .classes import ClassLabels, find_classes, sample_labelled_points, view_classes
from .images import PointSample, Target, sample_points
from .model import MLP, build_mlp, format_layers
from .network import Network
from .handedits import WeightEdit, check_edit, edited_mask
from .handmade import set_initial

CHECKPOINT_FORMAT = 1


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the model was put back to its last finite state."""


def pick_device(preference: str | None = None) -> torch.device:
    if preference:
        return torch.device(preference)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    # foreach: one batched update over all layers instead of a Python loop per tensor (torch picks it
    # only on CUDA by default). Our networks are many small tensors, so on the CPU the loop was much
    # of Adam's and RMSprop's step: 1.1-1.7x more steps/s, bitwise the same weights (benchmarks/optimizer.py).
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, foreach=True)
    if name == "sgd_momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, foreach=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    raise ValueError(f"unknown optimizer '{name}' (use adam, sgd, sgd_momentum or rmsprop)")


@dataclass
class Losses:
    train: float
    val: float
    # classify: the fraction of points whose argmax is their (training: possibly noisy) label
    train_accuracy: float | None = None
    val_accuracy: float | None = None


def check_target_fits(config: RunConfig, target: Target) -> None:
    """Refuse, in words naming the setting, what these settings cannot do with this target
    (before any network is built, so a session never holds a run that breaks on its first frame)."""
    if target.frames is None:
        return
    frames = len(target.frames)
    if config.task == "classify":
        raise SettingError(f"task: classification works on still pictures; this target is a clip of {frames} "
                           "frames. Choose task 'regress' to learn the clip, or a still picture to classify",
                           field="task")
    if config.init == "sawtooth":
        raise SettingError(f"init: the sawtooth is a hand-set network of (x, y); this target is a clip of {frames} "
                           "frames, which adds t. Choose init 'random', or a still picture", field="init")


class Trainer:
    """One network learning one target. Not thread-safe: one owner drives it."""

    def __init__(self, config: RunConfig, target: Target, device: str | torch.device | None = None):
        self.config = config
        self.target = target
        self.device = pick_device(str(device) if device else None)
        self.classes: ClassLabels | None = None
        check_target_fits(config, target)
        if config.task == "classify":
            if target.channels != 3:
                raise ValueError("a classification target must be read in colour (RGB)")
            self.classes = find_classes(target)  # ClassError (a ValueError) names the field
            self.sample: PointSample = sample_labelled_points(
                self.classes, config.train_points, config.val_points, config.seed, config.label_noise)
        else:
            if target.channels != config.out_dim:
                raise ValueError("target channels do not match config.color")
            self.sample = sample_points(target, config.train_points, config.val_points, config.seed)
        self.train_x = torch.from_numpy(self.sample.train_x).to(self.device)
        self.train_y = torch.from_numpy(self.sample.train_y).to(self.device)
        self.val_x = torch.from_numpy(self.sample.val_x).to(self.device)
        self.val_y = torch.from_numpy(self.sample.val_y).to(self.device)
        self.step_count = 0
        self.last_batch_loss = math.nan
        self._snapshot: dict[str, torch.Tensor] | None = None
        self.opened: Network | None = None  # a network from a file this run started from (reset goes back to it)
        self.untrainable: str | None = None  # why this run only shows its network (see view_only)
        self._start: dict[str, torch.Tensor] | None = None  # the network at step 0 after edits by hand
        self.reset()

    @property
    def classify(self) -> bool:
        return self.classes is not None

    @property
    def out_dim(self) -> int:
        """Outputs of the network: one per class found when classifying, else the config's."""
        return self.classes.count if self.classes is not None else self.config.out_dim

    def _output_bias(self) -> torch.Tensor:
        if self.classes is None:
            return self.train_y.mean(dim=0).cpu()
        # log class frequencies: the first prediction is the prior, not a random class
        counts = torch.bincount(self.train_y.cpu(), minlength=self.out_dim).double()
        return torch.log((counts + 1.0) / (counts.sum() + self.out_dim)).float()

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.classes is not None:
            return torch.nn.functional.cross_entropy(out, y)
        return torch.mean((out - y) ** 2)

    # -- set-up -------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Fresh initialisation; ``seed`` defaults to the config's (same start again)."""
        seed = self.config.seed if seed is None else seed
        if self.untrainable and self.opened is not None:  # a network only shown: back to the file's weights
            self._install(self.opened)
            self.step_count = 0
            self._take_snapshot()
            return
        init_gen = torch.Generator().manual_seed(seed)
        self.model: MLP = build_mlp(
            self.config.widths,
            out_dim=self.out_dim,
            activation=self.config.activation,
            negative_slope=self.config.negative_slope,
            generator=init_gen,
            output_bias=self._output_bias(),
            in_dim=self.target.in_dim,  # (x, y, t) for a clip
            task=self.config.task,
        )
        if self.config.init != "random":
            try:
                set_initial(self.model, self.config.init)
            except ValueError as exc:  # e.g. the XOR network on a picture of 3 classes
                raise SettingError(f"init: {exc}", field="init") from None
        self.model = self.model.to(self.device)
        self.batch_gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.optimizer = make_optimizer(
            self.config.optimizer, self.model.parameters(), self.config.lr, self.config.momentum
        )
        self.step_count = 0
        self.last_batch_loss = math.nan
        if self.opened is not None:  # a run of a network from a file starts again from the file's weights
            self._install(self.opened)
        if self._start is not None and seed == self.config.seed:
            self.model.load_state_dict(self._start)  # the start as edited by hand (see edit)
        self._take_snapshot()

    def adopt(self, network: Network) -> None:
        """Continue from ``network`` (one opened from a file): its weights and activations replace the
        model, with a fresh optimiser, at step 0. It must take this target's inputs and give its
        outputs (``network_fits`` says why not)."""
        problem = network_fits(network, self.target.in_dim, self.out_dim, self.config.task)
        if problem:
            raise SettingError(problem, field="network")
        self.opened = network
        self._install(network)
        self.step_count = 0
        self.last_batch_loss = math.nan
        self._take_snapshot()

    def view_only(self, network: Network, reason: str) -> None:
        """Show ``network`` without training it (its inputs or outputs do not fit this picture):
        no training points, losses not measured, ``step`` refused with ``reason``. A classifier's
        scores are drawn in the palette's first colours (at most MAX_CLASSES of them)."""
        self.opened = network
        self.untrainable = reason
        self._install(network)
        empty = np.zeros((0, 2), dtype=np.float32)
        labels = (np.zeros(0, np.int64) if network.task == "classify"  # a classifier's points carry labels
                  else np.zeros((0, network.out_dim), np.float32))
        self.sample = PointSample(np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64), empty, labels, empty, labels)
        self.train_x = self.val_x = torch.from_numpy(empty).to(self.device)
        self.train_y = self.val_y = torch.zeros((0, network.out_dim), device=self.device)
        self.classes = view_classes(network.out_dim, self.target) if network.task == "classify" else None
        self.config = self.config.model_copy(update={"task": network.task})  # what the network is, as it is
        self.step_count = 0
        self._take_snapshot()

    def _install(self, network: Network) -> None:
        self.model = MLP.from_network(network).to(self.device)
        self.optimizer = make_optimizer(self.config.optimizer, self.model.parameters(), self.config.lr,
                                        self.config.momentum)

    def apply_training(self, **changes) -> None:
        """Change training settings (core.settings.TrainingSettings) on the running network.

        Weights are kept. A new optimiser starts with empty state; the same optimiser keeps
        its state and takes the new learning rate and momentum.
        """
        config = RunConfig.model_validate({**self.config.model_dump(), **changes})
        new_optimizer = config.optimizer != self.config.optimizer
        self.config = config
        if new_optimizer:
            self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr, config.momentum)
            return
        for group in self.optimizer.param_groups:
            group["lr"] = config.lr
            if "momentum" in group and config.optimizer == "sgd_momentum":
                group["momentum"] = config.momentum

    def edit(self, edit: WeightEdit) -> None:
        """Write an edit by hand (core/handedits.py) into the network; EditRefused (naming the field)
        leaves it exactly as it was.

        The optimiser's momentum of the written numbers (Adam's first moment, SGD's momentum buffer)
        is set to 0, so training goes on from the new value rather than carrying the old one's
        velocity; the per-number scale (Adam's second moment, RMSprop's average) is kept, so the
        next step is no larger than before. Edits made at step 0 become the start ``reset`` returns to.
        """
        shapes = [tuple(linear.weight.shape) for linear in self.model.linears]
        value = check_edit(edit, shapes)
        linear = self.model.linears[edit.layer - 1]
        param = linear.weight if edit.kind == "weight" else linear.bias
        index = edited_mask(edit, tuple(param.shape))
        with torch.no_grad():
            param[index] = torch.as_tensor(value, dtype=param.dtype, device=param.device)
            state = self.optimizer.state.get(param, {})
            for key in ("exp_avg", "momentum_buffer"):
                if torch.is_tensor(state.get(key)):
                    state[key][index] = 0.0
        if self.step_count == 0:
            self._start = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self._take_snapshot()  # a divergence later goes back to the edited network, not before it

    # -- training -----------------------------------------------------------
    def step(self, n: int = 1) -> float:
        """Run ``n`` optimiser steps; returns the last batch loss. SettingError (field ``network``)
        for a run that only shows its network."""
        if self.untrainable:
            raise SettingError(f"this network cannot train here: {self.untrainable}", field="network")
        batch = self.config.effective_batch_size
        full = batch >= self.train_x.shape[0]
        loss_value = self.last_batch_loss
        for _ in range(n):
            if full:
                xb, yb = self.train_x, self.train_y
            else:
                idx = torch.randint(0, self.train_x.shape[0], (batch,), generator=self.batch_gen, device=self.device)
                xb, yb = self.train_x[idx], self.train_y[idx]
            loss = self._loss(self.model(xb), yb)
            loss_value = float(loss.item())
            if not math.isfinite(loss_value):
                failed_step = self.step_count + 1
                self._restore_snapshot()
                raise TrainingDiverged(
                    f"training diverged at step {failed_step} (loss is {loss_value}); "
                    f"the network was put back to step {self._snapshot_step}. "
                    "Try a smaller learning rate."
                )
            self.optimizer.zero_grad(set_to_none=True)
            if self.config.l1 or self.config.l2:
                loss = loss + self.penalty()
            loss.backward()
            self.optimizer.step()
            self.step_count += 1
        self.last_batch_loss = loss_value
        return loss_value

    def penalty(self) -> torch.Tensor:
        """l1 * sum |w| + l2/2 * sum w^2 over every weight matrix (biases are not penalised, as in
        TensorFlow Playground). Added to the loss that is minimised; reported losses stay the MSE."""
        total = torch.zeros((), device=self.device)
        for linear in self.model.linears:
            w = linear.weight
            if self.config.l1:
                total = total + self.config.l1 * w.abs().sum()
            if self.config.l2:
                total = total + 0.5 * self.config.l2 * (w * w).sum()
        return total

    @torch.no_grad()
    def losses(self) -> Losses:
        """Mean squared error (classify: cross-entropy, and accuracy) on all training and validation points;
        NaN for a run that only shows its network (it has no points)."""
        if self.untrainable:
            return Losses(math.nan, math.nan)
        train_out, val_out = self.model(self.train_x), self.model(self.val_x)
        train = float(self._loss(train_out, self.train_y).item())
        val = float(self._loss(val_out, self.val_y).item())
        if not (math.isfinite(train) and math.isfinite(val)):
            self._restore_snapshot()
            raise TrainingDiverged(
                f"training diverged by step {self.step_count}; the network was put back to step "
                f"{self._snapshot_step}. Try a smaller learning rate."
            )
        self._take_snapshot()
        if self.classes is None:
            return Losses(train, val)
        return Losses(train, val, _accuracy(train_out, self.train_y), _accuracy(val_out, self.val_y))

    def _take_snapshot(self) -> None:
        self._snapshot = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self._snapshot_step = self.step_count

    def _restore_snapshot(self) -> None:
        if self._snapshot is not None:
            self.model.load_state_dict(self._snapshot)
            self.step_count = self._snapshot_step
            # Adam/RMSprop moments are poisoned by the non-finite step: start them afresh.
            self.optimizer = make_optimizer(
                self.config.optimizer, self.model.parameters(), self.config.lr, self.config.momentum
            )

    # -- checkpoints --------------------------------------------------------
    def checkpoint(self) -> dict:
        buf = io.BytesIO()
        self.target.to_pil().save(buf, format="PNG")
        clip = {}
        if self.target.frames is not None:  # a clip keeps every frame, and the model takes (x, y, t)
            clip = {"target_frames_png": [_png(frame) for frame in self.target.frames],
                    "clip_duration_s": float(self.target.duration_s)}
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.model_dump(),
            "step": self.step_count,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "slopes": list(self.model.slopes),  # per hidden layer: a network from a file may mix them
            "optimizer": self.optimizer.state_dict(),
            "batch_generator": self.batch_gen.get_state().cpu(),
            "target_png": buf.getvalue(),
            **clip,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.checkpoint(), path)
        return path

    def checkpoint_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save(self.checkpoint(), buf)
        return buf.getvalue()


def network_config(config: RunConfig, network: Network) -> RunConfig:
    """``config`` (its picture, points, optimiser) with what defines ``network``: its layers, task,
    colour (3 outputs) and activation (leaky when any layer leaks; the first leaky slope when the
    settings can say it, per layer in the network itself)."""
    leaky = [s for s in network.slopes if s]
    update = {"layers": format_layers(network.widths), "task": network.task,
              "color": network.task == "regress" and network.out_dim == 3,
              "activation": "leaky_relu" if leaky else "relu", "init": "random"}
    if leaky and 0.0 < leaky[0] < 1.0:
        update["negative_slope"] = float(leaky[0])
    return config.model_copy(update=update)


def trainer_for_network(config: RunConfig, target: Target, network: Network, device: str | torch.device | None = None,
                        cannot_train: str | None = None) -> Trainer:
    """A run of a 2-input network opened from a file, on ``target``: it trains on from the network's
    weights when the picture fits it (1 output: gray, 3: colour, k class scores: a picture of k
    classes); otherwise (or with ``cannot_train``, the caller's reason) it only shows the network,
    and ``untrainable`` says why."""
    if network.task == "regress" and network.out_dim not in (1, 3):
        raise SettingError(f"a regression is drawn from 1 (gray) or 3 (colour) outputs; this network has "
                           f"{network.out_dim}: open it with task 'classify' to see its class scores", field="network")
    config = network_config(config, network)
    problem = cannot_train
    if problem is None:
        try:
            trainer = Trainer(config, target, device=device)
            problem = network_fits(network, target.in_dim, trainer.out_dim, config.task)
        except (SettingError, ValueError) as exc:  # the picture has no classes, too few labelled pixels, ...
            problem = str(exc)
        if problem is None:
            trainer.adopt(network)
            return trainer
    shown = Trainer(config.model_copy(update={"task": "regress", "color": target.channels == 3}), target, device=device)
    shown.view_only(network, problem)
    return shown


def network_fits(network: Network, in_dim: int, out_dim: int, task: str) -> str | None:
    """Why ``network`` cannot learn a target of these inputs, outputs and task, or None when it can."""
    if network.in_dim != in_dim:
        return (f"the network takes {network.in_dim} inputs; a picture gives {in_dim} (x, y), so it can be "
                "looked at but not trained on one")
    if network.task != task:
        return f"the network is a {'classifier' if network.task == 'classify' else 'regression'}, the run's task is '{task}'"
    if network.out_dim != out_dim:
        if task == "classify":
            return (f"the network has {network.out_dim} class scores; this picture has {out_dim} classes")
        return (f"the network has {network.out_dim} outputs; this picture needs {out_dim} "
                f"({'colour' if out_dim == 3 else 'gray'})")
    return None


def _accuracy(out: torch.Tensor, labels: torch.Tensor) -> float:
    return float((out.argmax(dim=1) == labels).double().mean().item())


def read_checkpoint(source: str | Path | bytes) -> dict:
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        ckpt = torch.load(stream, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"not a Polytope Lens checkpoint ({reason})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("not a Polytope Lens checkpoint (unknown format)")
    ckpt["config"] = {k: v for k, v in ckpt["config"].items() if k not in VIEW_FIELDS}  # older checkpoints kept the grid resolution
    return ckpt


def _mixed_slopes(ckpt: dict, slopes: tuple[float, ...]) -> bool:
    """The checkpoint's network has its own slope per layer (one opened from a file), not the config's."""
    saved = ckpt.get("slopes")
    return isinstance(saved, list) and len(saved) == len(slopes) and tuple(map(float, saved)) != tuple(slopes)


def _png(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame[:, :, 0] if frame.shape[2] == 1 else frame).save(buf, format="PNG")
    return buf.getvalue()


def _unpng(data: bytes) -> np.ndarray:
    arr = np.asarray(Image.open(io.BytesIO(data)), dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def checkpoint_target(ckpt: dict) -> Target:
    arr = _unpng(ckpt["target_png"]).astype(np.float32) / 255.0
    if ckpt.get("target_frames_png"):
        frames = np.stack([_unpng(data) for data in ckpt["target_frames_png"]])
        return Target(np.ascontiguousarray(arr), frames=frames, duration_s=float(ckpt.get("clip_duration_s", 0.0)))
    return Target(np.ascontiguousarray(arr))


def trainer_from_checkpoint(
    source: str | Path | bytes, overrides: dict | None = None, device: str | None = None
) -> Trainer:
    """Rebuild a trainer where a checkpoint left off. ``overrides`` may change optimizer/lr.

    The optimiser state is restored only when the optimiser is unchanged.
    """
    ckpt = read_checkpoint(source)
    config = RunConfig.model_validate({**ckpt["config"], **(overrides or {})})
    trainer = Trainer(config, checkpoint_target(ckpt), device=device)
    if _mixed_slopes(ckpt, trainer.model.slopes):
        trainer.model = MLP(config.widths, trainer.out_dim, trainer.model.negative_slope, trainer.target.in_dim,
                            config.task, layer_slopes=ckpt["slopes"]).to(trainer.device)
        trainer.optimizer = make_optimizer(config.optimizer, trainer.model.parameters(), config.lr, config.momentum)
    trainer.model.load_state_dict(ckpt["model"])
    trainer.step_count = int(ckpt["step"])
    if config.optimizer == ckpt["config"]["optimizer"]:
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
        trainer.apply_training(lr=config.lr, momentum=config.momentum)  # overrides win over the saved state
    if trainer.device.type == "cpu":
        trainer.batch_gen.set_state(ckpt["batch_generator"])
    trainer._take_snapshot()
    return trainer


def load_checkpoint_model(checkpoint_path: str | Path):
    """(model, config, step) from a checkpoint file; the model on CPU, in eval mode."""
    ckpt = read_checkpoint(Path(checkpoint_path))
    config = RunConfig.model_validate(ckpt["config"])
    out_dim = int(ckpt["model"][f"linears.{len(config.widths)}.bias"].shape[0])  # a classifier's: its classes
    model = build_mlp(config.widths, out_dim=out_dim, activation=config.activation,
                      negative_slope=config.negative_slope, in_dim=int(ckpt["model"]["linears.0.weight"].shape[1]),
                      task=config.task)
    if _mixed_slopes(ckpt, model.slopes):
        model = MLP(config.widths, out_dim, model.negative_slope, model.in_dim, config.task, layer_slopes=ckpt["slopes"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, config, int(ckpt["step"])


def warm_up() -> None:
    """Pay torch's one-time costs now (the first optimiser imports torch._dynamo: ~1-5 s), so the
    first network a person asks for starts at once. A server calls this before it accepts requests."""
    model = build_mlp([4], generator=torch.Generator().manual_seed(0))
    x = torch.zeros(8, 2)
    for name in ("adam", "sgd", "sgd_momentum", "rmsprop"):
        optimizer = make_optimizer(name, model.parameters(), 1e-3)
        loss = torch.mean(model(x) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
