"""Run a model with PyTorch on the CPU (batch norms folded for speed)."""
from __future__ import annotations

import numpy as np
import torch

from ..models import build_network, load_weights


class TorchBackend:
    name = "torch"

    def __init__(self, model_file, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        network = build_network(model_file.architecture)
        self.network = load_weights(network, model_file.weights).eval().fold_batch_norms()

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.network(torch.from_numpy(blob)).numpy()
