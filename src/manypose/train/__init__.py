"""Training: `train(TrainOptions(...))` or `manypose train` (see loop.py)."""
from .loop import TrainOptions, TrainResult, Trainer, train

__all__ = ["TrainOptions", "TrainResult", "Trainer", "train"]
