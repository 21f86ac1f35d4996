"""Run an exported model with OpenVINO on the CPU (optional: pip install 'manypose[openvino]').

OpenVINO picks the fastest precision the CPU offers: bfloat16 on CPUs with AMX / AVX512-BF16,
float32 elsewhere. bfloat16 keeps 8 significant bits, so decoded coordinates (hundreds of
pixels) would land on 2-4 pixel steps: where the model's codec names a cut (networks that
decode coordinates in the graph), the graph stops there and the codec finishes in float32
numpy; networks that output fields (heatmaps, PAFs) run whole. Each input shape is compiled
once and kept.
"""
from __future__ import annotations

import numpy as np
import openvino

from . import Backend, named_outputs

MAX_COMPILED_SHAPES = 16


class OpenVinoBackend(Backend):
    name = "openvino"

    def __init__(self, onnx_path, codec, threads: int | None = None):
        self.core = openvino.Core()
        self.codec = codec
        model = self.core.read_model(str(onnx_path))
        self.cut = codec.reduced_precision_cut(_graph_outputs(model))
        if self.cut is not None:
            outputs = [output for op in model.get_ordered_ops() for output in op.outputs()]
            model = openvino.Model([outputs[i] for i in self.cut], model.get_parameters(), "network")
        self.model = model
        self.config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self.requests: dict[tuple, object] = {}

    def _request_for(self, shape: tuple):
        if shape not in self.requests:
            if len(self.requests) >= MAX_COMPILED_SHAPES:
                self.requests.pop(next(iter(self.requests)))
            model = self.model.clone()
            model.reshape({model.inputs[0].get_any_name(): list(shape)})
            self.requests[shape] = self.core.compile_model(model, "CPU", self.config).create_infer_request()
        return self.requests[shape]

    def __call__(self, blob: np.ndarray) -> dict:
        request = self._request_for(blob.shape)
        request.infer({0: blob})
        values = [request.get_output_tensor(i).data.copy() for i in range(len(self.model.outputs))]
        if self.cut is None:
            return named_outputs(self.codec.output_names, values)
        return self.codec.outputs_from_cut(values)


def _graph_outputs(model) -> list[tuple[str, tuple | None]]:
    """Every operation's outputs in topological order, as (operation type, static shape with None
    for dynamic dimensions, or None for a dynamic rank)."""
    found = []
    for op in model.get_ordered_ops():
        for output in op.outputs():
            shape = output.get_partial_shape()
            dims = None if shape.rank.is_dynamic else tuple(
                d.get_length() if d.is_static else None for d in shape)
            found.append((op.get_type_name(), dims))
    return found
