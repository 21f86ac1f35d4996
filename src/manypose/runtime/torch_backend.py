"""Run a torch network (built and folded before, see manypose.loading) on the CPU or a CUDA GPU."""
from __future__ import annotations

import numpy as np
import torch

from . import Backend, named_outputs
from .devices import Device, torch_device


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, network: torch.nn.Module, output_names, threads: int | None = None,
                 device: Device = Device("cpu")):
        if threads:
            torch.set_num_threads(threads)
        self.device = torch_device(device, torch)
        self.network = network.to(self.device)
        self.output_names = tuple(output_names)

    def __call__(self, blob: np.ndarray) -> dict:
        with torch.inference_mode():
            outputs = self.network(torch.from_numpy(blob).to(self.device))
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        return named_outputs(self.output_names, (output.cpu().numpy() for output in outputs))
