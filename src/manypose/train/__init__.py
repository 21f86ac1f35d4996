"""Training: `train(TrainOptions(...))` or `manypose train` (see loop.py)."""
from .loop import TrainResult, Trainer, train
from .options import TrainOptions

__all__ = ["TrainOptions", "TrainResult", "Trainer", "train"]
