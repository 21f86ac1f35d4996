"""Run an exported model with ONNX Runtime, on the CPU or (onnxruntime-gpu) a CUDA GPU; torch is
never imported."""
from __future__ import annotations

from functools import partial

import numpy as np
import onnxruntime

from ..modelfile import reading_model_file
from . import Backend, named_outputs, usable_cores
from .devices import Device, bound_onnx_device, onnx_providers

MAX_PARALLEL_IMAGES = 4


class OnnxBackend(Backend):
    name = "onnxruntime"

    def __init__(self, onnx_path, output_names, threads: int | None = None, device: Device = Device("cpu")):
        self.onnx_path = str(onnx_path)
        self.output_names = tuple(output_names)
        self.threads = threads
        self.session = _open_session(self.onnx_path, threads, onnx_providers(device, onnxruntime.get_available_providers()))
        self.device = bound_onnx_device(device, self.session.get_providers())
        self.input_name = self.session.get_inputs()[0].name
        self.fixed_batch = _fixed_batch(self.session)
        self._parallel_run = None

    def __call__(self, blob: np.ndarray) -> dict:
        return _run(self.session, self.input_name, self.output_names, blob)

    def parallel_runner(self):
        """One image per thread: ONNX Runtime spreads a small network over the cores less well
        than it runs several images side by side (on 2 cores: 1.15x the throughput in float,
        1.4x in INT8, whose element-wise kernels hardly use a second thread). The second
        session, with the threads split between the images, opens on first use."""
        threads = self.threads or usable_cores()
        count = min(threads, MAX_PARALLEL_IMAGES)
        if count < 2 or self.device != "cpu":
            return self, 1
        if self._parallel_run is None:
            session = _open_session(self.onnx_path, threads // count, self.session.get_providers())
            self._parallel_run = partial(_run, session, self.input_name, self.output_names)
        return self._parallel_run, count


def _open_session(onnx_path: str, threads: int | None, providers):
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with reading_model_file(onnx_path, "unreadable ONNX model"):
        return onnxruntime.InferenceSession(onnx_path, options, providers=providers)


def _fixed_batch(session) -> int | None:
    """The batch size a network was exported with, where its batch axis is not dynamic."""
    size = session.get_inputs()[0].shape[0]
    return size if isinstance(size, int) and size > 0 else None


def _run(session, input_name: str, output_names, blob: np.ndarray) -> dict:
    # by position: files exported by earlier releases name their one output "output"
    return named_outputs(output_names, session.run(None, {input_name: blob}))
