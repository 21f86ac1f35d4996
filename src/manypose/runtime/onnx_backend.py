"""Run an exported model with ONNX Runtime on the CPU; torch is never imported."""
from __future__ import annotations

import numpy as np
import onnxruntime


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, onnx_path, threads: int | None = None):
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: blob})[0]
