"""Run a model with PyTorch on the CPU (batch norms folded for speed)."""
from __future__ import annotations

import numpy as np
import torch

from ..models import inference_network
from . import Backend


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, model_file, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.network = inference_network(model_file)

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.network(torch.from_numpy(blob)).numpy()
