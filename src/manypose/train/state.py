"""What a training run keeps between steps and across a restart: the EMA of the weights, the
learning-rate schedule, and the checkpoint folders (`last`, `best`), each a model folder that
`--model` accepts plus the optimizer's state for `--resume`."""
from __future__ import annotations

import copy
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import modelfile

STATE_FILE = "training_state.pt"  # tensors and plain values only: read with weights_only=True


class ExponentialMovingAverage:
    """An average of the weights over recent steps, the model that is evaluated and saved: it
    moves slowly, so a few noisy steps on a small data set cannot wreck it. The decay ramps up
    from 0 over the first `ramp_steps` updates (early weights are not worth keeping)."""

    def __init__(self, network: torch.nn.Module, decay: float = 0.9999, ramp_steps: float = 2000.0):
        self.network = copy.deepcopy(network).eval()
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)
        self.decay = decay
        self.ramp_steps = ramp_steps
        self.updates = 0

    def current_decay(self) -> float:
        return self.decay * (1 - math.exp(-self.updates / self.ramp_steps))

    @torch.no_grad()
    def update(self, network: torch.nn.Module) -> None:
        self.updates += 1
        decay = self.current_decay()
        source = network.state_dict()
        for name, value in self.network.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(decay).add_(source[name].detach(), alpha=1 - decay)
            else:
                value.copy_(source[name])

    def state_dict(self) -> dict:
        return {"weights": self.network.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.network.load_state_dict(state["weights"])
        self.updates = int(state["updates"])


@dataclass(frozen=True)
class Schedule:
    """Linear warm-up from zero (no high warm-up bias rate: it wrecks a trained head in a few
    steps), then a cosine decay from `lr` to `lr * final_fraction`."""

    lr: float
    total_steps: int
    warmup_steps: int
    final_fraction: float = 0.1

    def rate(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return self.lr * (self.final_fraction + (1 - self.final_fraction) * cosine)


def save_checkpoint(folder: Path, description: dict, network: torch.nn.Module, training_state: dict | None) -> Path:
    """Write a model folder (and the training state) next to `folder`, then swap it in, so a
    crash leaves the previous checkpoint whole."""
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.writing")
    shutil.rmtree(staging, ignore_errors=True)
    weights = {k: v.detach().float().cpu().numpy() if v.dtype.is_floating_point else v.cpu().numpy()
               for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    modelfile.save(staging, description, weights, dtype="float32")
    if training_state is not None:
        torch.save(training_state, staging / STATE_FILE)
    retired = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    if folder.exists():
        os.replace(folder, retired)
    os.replace(staging, folder)
    shutil.rmtree(retired, ignore_errors=True)
    return folder


def load_training_state(folder: Path) -> dict:
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no {STATE_FILE} to resume from (was the run started with this "
                                "--output?)")
    return torch.load(path, map_location="cpu", weights_only=True)


def append_log(path: Path, entry: dict) -> None:
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def read_log(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_curves(log: list[dict], path: Path) -> bool:
    """Loss items and validation AP per epoch as a PNG; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = [entry["epoch"] for entry in log]
    figure, (losses, accuracy) = plt.subplots(1, 2, figsize=(10, 4))
    for name in log[0]["loss"]:
        losses.plot(epochs, [entry["loss"][name] for entry in log], marker="o", label=name)
    losses.set(title="training loss (per image)", xlabel="epoch")
    losses.legend()
    aps = [(entry["epoch"], entry["AP"]) for entry in log if entry.get("AP") is not None]
    if aps:
        accuracy.plot(*zip(*aps), marker="o", color="tab:green")
    accuracy.set(title="validation AP (COCO OKS)", xlabel="epoch")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return True


def options_dict(options) -> dict:
    """A dataclass of options as JSON values (paths as strings, nested options as dicts)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}


def seed_for(*parts: int) -> int:
    """A seed from the run's seed, the epoch and an index: the same data order and augmentation
    after a resume, whatever the worker processes."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])
