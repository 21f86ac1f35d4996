"""What a training run is asked to do, checked before any work, and the defaults that make it
safe for fine-tuning small data sets."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..data.augment import AugmentOptions

# (optimizer, from trained weights) -> learning rate. SGD from trained weights at 1e-4: chosen on
# coco-mini train folds A/B (trained on A: 10 epochs 0.475 -> 0.525 AP there, B 0.561 -> 0.559;
# 1e-3 lost 0.08 on A itself in 2 epochs, 3e-4 lost 0.06 on B in 10), see benchmarks/finetune.py
DEFAULT_LR = {
    ("sgd", True): 1e-4, ("sgd", False): 1e-2, ("adamw", True): 1e-4, ("adamw", False): 1e-3}
BATCH_NORM_MODES = ("auto", "frozen", "updated")


@dataclass(frozen=True)
class TrainOptions:
    train_annotations: Path
    train_images: Path
    output: Path
    model: Optional[str] = None          # name or folder; None: the bundled default
    val_annotations: Optional[Path] = None
    val_images: Optional[Path] = None
    epochs: int = 10
    batch_size: int = 8
    optimizer: str = "sgd"               # sgd (steps in proportion to the gradients: gentle on trained weights) or adamw
    lr: Optional[float] = None           # None: DEFAULT_LR by optimizer and starting point
    warmup_steps: Optional[int] = None   # None: a tenth of the run, at most 300 steps
    ema_decay: float = 0.9999
    amp: bool = False
    resume: bool = False
    force: bool = False                  # a new run in an output holding one: replaces its last and best
    seed: int = 0
    workers: int = 2
    device: str = "cpu"
    repeats: int = 1                     # passes over the data per epoch (small data sets: fewer checkpoints)
    max_steps: Optional[int] = None      # stop each epoch early (smoke tests)
    # batch-norm running statistics: "frozen" keeps the trained ones (a few small augmented batches
    # pull them off what the weights were trained with), "updated" learns them; "auto": frozen
    # when starting from trained weights, updated from scratch
    batch_norm: str = "auto"
    augment: AugmentOptions = field(default_factory=AugmentOptions)
    # changes to the model's architecture description (e.g. {"refinement_stages": 3}): the
    # weights whose names and shapes still fit load, the others start initialised
    architecture: dict = field(default_factory=dict)
    # a regular expression: only the parameters whose names it matches (re.search) learn, the
    # others keep their weights (a new branch taught without moving what is trained)
    train_only: Optional[str] = None

    def __post_init__(self):
        if min(self.epochs, self.batch_size, self.repeats) < 1 or self.workers < 0:
            raise ValueError("epochs, batch size and repeats must be 1 or more, workers 0 or more")
        if self.batch_norm not in BATCH_NORM_MODES:
            raise ValueError(f"batch_norm {self.batch_norm!r}: expected {', '.join(BATCH_NORM_MODES)}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer {self.optimizer!r}: expected sgd or adamw")
        if self.lr is not None and not 0 < self.lr < 1:
            raise ValueError(f"the learning rate must be between 0 and 1, not {self.lr}")
        if (self.val_annotations is None) != (self.val_images is None):
            raise ValueError("validation needs both --val-annotations and --val-images")
        if self.train_only is not None:
            try:
                re.compile(self.train_only)
            except re.error as error:
                raise ValueError(f"--train-only {self.train_only!r}: {error}") from None
        if self.resume and self.force:
            raise ValueError("--resume continues the run in --output, --force replaces it: not both")
