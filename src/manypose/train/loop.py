"""`manypose train`: a plain torch loop. Fine-tunes a model (or trains one from its initialised
weights) on a COCO-format keypoint data set, evaluates the moving average of its weights after
every epoch, and keeps `last` and `best` as model folders that `--model` accepts.

Family-free: the heads' codec fits them to the data set's keypoints and states what training
them takes (heads.training: targets, loss, named terms), so a new head kind trains unchanged.

Safe on small data by default: SGD with Nesterov momentum (AdamW on request) at a fine-tuning
rate when starting from trained weights, a linear warm-up from zero for every parameter (no high
warm-up rate for biases, which wrecks a trained head within a few steps), gradients clipped, and
the batch norms' running statistics kept as trained (a few small augmented batches pull them off).
"""
from __future__ import annotations

import contextlib
import copy
import itertools
import math
import re
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

from ..data.augment import AugmentedDataset, draw_sample
from ..data.coco import KeypointDataset
from ..decoders.options import DecoderOptions
from ..estimator import PoseEstimator
from ..evaluate import evaluate
from ..heads import codec_for
from ..models import build_network, folded, load_matching_weights
from ..predict import write_overlay
from ..runtime.torch_backend import TorchBackend
from ..zoo import find_model
from .batches import TrainingImages, batches
from .distributed import World, join_world, leave_world
from .options import DEFAULT_LR, TrainOptions
from .state import (ExponentialMovingAverage, Schedule, append_log, load_training_state, options_dict, plot_curves,
                    read_log, save_checkpoint, seed_for)

WEIGHT_DECAY = 5e-4
MOMENTUM = 0.937
MAX_GRADIENT_NORM = 10.0
EVAL_SCORE_THRESHOLD = 0.01
SAMPLES_TO_SAVE = 16
RUN_FOLDERS = ("last", "best")  # an earlier run's, kept unless resumed or replaced (force)


@dataclass
class TrainResult:
    network: torch.nn.Module    # the weights trained (not averaged)
    ema: ExponentialMovingAverage
    log: list[dict]
    last: Path
    best: Optional[Path]


class Trainer:
    def __init__(self, options: TrainOptions):
        self.options = options
        self.output = Path(options.output)
        self._refuse_an_earlier_run()  # before any work
        self.device = torch.device(options.device)
        self.world = join_world(self.device)
        self.base = find_model(options.model, untrained=True)
        self.data = KeypointDataset(options.train_annotations, options.train_images)
        self.heads = codec_for(self.base.heads).retarget(self.data.skeleton)
        self.codec = codec_for(self.heads)
        self.contract = self.codec.training()
        self.contract.loss.to(self.device)
        self.architecture = changed_architecture(self.base.architecture, options.architecture)
        with torch.random.fork_rng(devices=[]):  # the caller's random state left as it was
            torch.manual_seed(self.options.seed)  # the same seed, the same initialised weights
            self.network = build_network(self.architecture, self.heads).to(self.device)
        self.initialised = load_matching_weights(self.network, self.base.weights)
        self.trained_parameters = _train_only(self.network, options.train_only)
        self.from_trained_weights = len(self.initialised) < len(self.network.state_dict()) // 2
        self.frozen_statistics = options.batch_norm == "frozen" or (options.batch_norm == "auto"
                                                                    and self.from_trained_weights)
        augment = replace(options.augment, pad_value=self.base.input_spec.bgr_pad_value)  # padded as inference pads
        self.augmented = AugmentedDataset(self.data, augment, options.seed, options.repeats)
        self.images = TrainingImages(self.augmented, self.base.input_spec, self.contract.targets)
        self.steps_per_epoch = self._steps_per_epoch()
        total = self.steps_per_epoch * options.epochs
        warmup = options.warmup_steps if options.warmup_steps is not None else min(300, max(1, total // 10))
        self.schedule = Schedule(options.lr or self._default_lr(), total, warmup)
        self.optimizer = _optimizer(options.optimizer, self.network, self.schedule.lr)
        self.ema = ExponentialMovingAverage(self.network, options.ema_decay)
        self.epoch, self.step, self.best_ap = 0, 0, -math.inf  # without validation, minus a loss ranks: unbounded

    def _default_lr(self) -> float:
        return DEFAULT_LR[self.options.optimizer, self.from_trained_weights]

    def _steps_per_epoch(self) -> int:
        per_rank = len(self.world.shard(list(range(len(self.images)))))
        steps = -(-per_rank // self.options.batch_size)
        return min(steps, self.options.max_steps) if self.options.max_steps else steps

    def resume(self) -> None:
        state = load_training_state(self.output / "last")
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.ema.load_state_dict(state["ema"])
        self.epoch, self.step, self.best_ap = int(state["epoch"]), int(state["step"]), float(state["best_ap"])

    def run(self, progress: bool = True) -> TrainResult:
        options = self.options
        if options.resume:
            self.resume()
        elif self.world.leader:
            self._start_output()
        trainable = _distributed(self.network, self.world, self.device)
        best = self.output / "best" if (self.output / "best").exists() else None
        while self.epoch < options.epochs:
            started = time.perf_counter()
            items = self._train_epoch(trainable, progress)
            entry = {"epoch": self.epoch + 1, "step": self.step, "lr": self.schedule.rate(self.step - 1),
                     "loss": dict(zip(self.contract.term_names, items)), "seconds": time.perf_counter() - started}
            self.epoch += 1
            if self.world.leader:
                best = self._end_epoch(entry) or best
            self.world.barrier()
        leave_world(self.world)
        return TrainResult(self.network, self.ema, read_log(self.output / "log.jsonl"), self.output / "last", best)

    def _refuse_an_earlier_run(self) -> None:
        if self.options.resume or self.options.force:
            return
        if any((self.output / name).exists() for name in RUN_FOLDERS):
            raise FileExistsError(f"{self.output}: holds a run already; --resume continues it, --force replaces it, "
                                  "or choose another --output")

    def _start_output(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        (self.output / "log.jsonl").unlink(missing_ok=True)

    def _train_epoch(self, trainable, progress: bool) -> list[float]:
        options = self.options
        self.augmented.set_epoch(self.epoch)
        order = torch.randperm(len(self.images), generator=torch.Generator().manual_seed(
            seed_for(options.seed, self.epoch))).tolist()
        loader = batches(self.images, self.world.shard(order), options.batch_size, options.workers)
        self.network.train()
        if self.frozen_statistics:
            _freeze_batch_norm_statistics(self.network)
        totals, count = np.zeros(len(self.contract.terms)), 0
        # the epoch's steps taken from the loader (not broken off inside the loop, which leaves the bar a step short)
        bar = tqdm(itertools.islice(loader, self.steps_per_epoch), total=self.steps_per_epoch,
                   desc=f"epoch {self.epoch + 1}/{options.epochs}", unit="batch",
                   disable=not (progress and self.world.leader), dynamic_ncols=True)
        for images, targets in bar:
            items = self._train_step(trainable, images.to(self.device), targets)
            totals, count = totals + items, count + 1
            bar.set_postfix(loss=f"{items.sum():.3f}", lr=f"{self.schedule.rate(self.step - 1):.2g}")
        bar.close()
        self.world.share_buffers(self.network, self.ema.network)
        return [self.world.mean(v) for v in totals / max(count, 1)]

    def _train_step(self, trainable, images: torch.Tensor, targets) -> np.ndarray:
        for group in self.optimizer.param_groups:
            group["lr"] = self.schedule.rate(self.step)
        with _autocast(self.device, self.options.amp):
            raw = trainable(images)
        total, items = self.contract([output.float() for output in raw], targets)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), MAX_GRADIENT_NORM)
        self.optimizer.step()
        self.ema.update(self.network)
        self.step += 1
        return items.cpu().numpy()

    def _end_epoch(self, entry: dict) -> Optional[Path]:
        """Evaluate, log, plot and save; returns the best checkpoint when this epoch made it."""
        if self.options.val_annotations:
            entry["AP"] = self._validation_ap()
        append_log(self.output / "log.jsonl", entry)
        plot_curves(read_log(self.output / "log.jsonl"), self.output / "curves.png")
        ranking = -sum(entry["loss"][name] for name in self.contract.ranking_terms)
        ap = float(entry.get("AP", ranking))  # plain: the state loads weights-only
        improved = ap >= self.best_ap
        self.best_ap = max(ap, self.best_ap)
        state = {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "ema": self.ema.state_dict(), "epoch": self.epoch, "step": self.step, "best_ap": self.best_ap}
        description = self._description()
        save_checkpoint(self.output / "last", description, self.ema.network, state)
        if improved:
            return save_checkpoint(self.output / "best", {**description, "name": f"{description['name']}-best"},
                                   self.ema.network, None)
        return None

    def _validation_ap(self) -> float:
        network = folded(copy.deepcopy(self.ema.network).cpu().eval())
        backend = TorchBackend(network, self.codec.output_names)
        decoder = self.codec.decoder(DecoderOptions.from_given(score_threshold=EVAL_SCORE_THRESHOLD))
        estimator = PoseEstimator(self.output.name, self.base.input_spec, backend, self.codec, decoder)
        stats, _, _ = evaluate(estimator, self.options.val_annotations, self.options.val_images, progress=False)
        return stats["AP"]

    def _description(self) -> dict:
        """The base model's description with the trained keypoint set and where it came from."""
        kept = {k: v for k, v in self.base.description.items() if k not in ("format", "format_version", "weights")}
        return {**kept, "name": self.output.name, "architecture": self.architecture,
                "skeleton": self.heads[0].skeleton.to_dict(), "heads": [head.to_dict() for head in self.heads],
                "provenance": {"trained_from": self.base.name, "base_provenance": self.base.description.get("provenance"),
                               "epochs": self.epoch, "steps": self.step,
                               "training": options_dict(self.options), "loss_weights": self.contract.term_weights}}

    def save_samples(self, folder: Path, count: int = SAMPLES_TO_SAVE) -> list[Path]:
        """Augmented samples of the first epoch with their boxes and keypoints drawn."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for index in range(min(count, len(self.data))):
            path = folder / f"sample_{index:03d}.jpg"
            # written anew: a hard link under the name is replaced, not written into
            write_overlay(path, draw_sample(self.augmented[index], self.data.skeleton))
            written.append(path)
        return written


def changed_architecture(architecture: dict, changes: dict) -> dict:
    """The architecture description with `changes`, which may only set keys it has."""
    unknown = sorted(changes.keys() - architecture.keys())
    if unknown:
        raise ValueError(f"the {architecture.get('family')} architecture has no {', '.join(unknown)} to change")
    return {**architecture, **changes}


def _optimizer(name: str, network: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum or AdamW; no weight decay on biases and batch-norm weights
    (decaying them only shifts activations)."""
    learnt = [p for p in network.parameters() if p.requires_grad]
    groups = [{"params": [p for p in learnt if p.ndim > 1], "weight_decay": WEIGHT_DECAY},
              {"params": [p for p in learnt if p.ndim <= 1], "weight_decay": 0.0}]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=(MOMENTUM, 0.999))
    return torch.optim.SGD(groups, lr=lr, momentum=MOMENTUM, nesterov=True)


def _train_only(network: torch.nn.Module, pattern: Optional[str]) -> list[str]:
    """Names of the parameters that learn: those `pattern` matches (all without one); the others
    stop taking gradients. A pattern that matches none is refused: it would train nothing."""
    names = [name for name, _ in network.named_parameters()]
    if pattern is None:
        return names
    trained = [name for name in names if re.search(pattern, name)]
    if not trained:
        raise ValueError(f"--train-only {pattern!r} matches none of the network's parameters "
                         f"(they are named as {names[0]!r} ... {names[-1]!r})")
    for name, parameter in network.named_parameters():
        parameter.requires_grad_(name in trained)
    return trained


def _freeze_batch_norm_statistics(network: torch.nn.Module) -> None:
    """Batch norms normalize with their running statistics and leave them as they are; their
    scale and shift still learn."""
    for module in network.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


class _RawOutputs(torch.nn.Module):
    """The network's raw (undecoded) outputs, which the loss reads, as its forward, so that
    DistributedDataParallel syncs them."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images):
        return self.network.raw_outputs(images)


def _distributed(network: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    trainable = _RawOutputs(network)
    if world.size == 1:
        return trainable
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(trainable, device_ids=[world.local_rank] if device.type == "cuda" else None)


def _autocast(device: torch.device, enabled: bool):
    """bfloat16 (its range needs no loss scaling) on CPUs and on GPUs that have it."""
    if not enabled:
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        warnings.warn("--amp: this GPU has no bfloat16; training in float32")
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def train(options: TrainOptions, progress: bool = True) -> TrainResult:
    return Trainer(options).run(progress)
