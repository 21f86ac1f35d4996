"""Run an exported model with OpenVINO on the CPU (optional: pip install 'manypose[openvino]').

OpenVINO picks the fastest precision the CPU offers: bfloat16 on CPUs with AMX / AVX512-BF16,
float32 elsewhere. bfloat16 keeps 8 significant bits, so decoded coordinates (hundreds of
pixels) would land on 2-4 pixel steps: networks that decode coordinates in the graph (poses as
objects) are cut before their decoding, which runs in float32 numpy instead; networks that
output fields (heatmaps, PAFs) run whole. Each input shape is compiled once and kept.
"""
from __future__ import annotations

import numpy as np
import openvino

from ..decoders.yolo_pose_fields import REG_MAX, decode_levels
from ..heads import PoseObjectsHead
from . import Backend

MAX_COMPILED_SHAPES = 16


class OpenVinoBackend(Backend):
    name = "openvino"

    def __init__(self, onnx_path, head, threads: int | None = None):
        self.core = openvino.Core()
        self.head = head
        model = self.core.read_model(str(onnx_path))
        self.decodes_in_graph = isinstance(head, PoseObjectsHead)
        self.model = self._cut_before_decoding(model) if self.decodes_in_graph else model
        self.config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self.requests: dict[tuple, object] = {}

    def _cut_before_decoding(self, model):
        """Keep only the network up to the per-level head outputs (box, score and keypoint maps)."""
        channels = 4 * REG_MAX + self.head.num_classes + 3 * len(self.head.skeleton)
        levels = [op.output(0) for op in model.get_ordered_ops()
                  if op.get_type_name() == "Concat" and op.output(0).get_partial_shape().rank.get_length() == 4
                  and op.output(0).get_partial_shape()[1].is_static
                  and op.output(0).get_partial_shape()[1].get_length() == channels]
        if len(levels) != len(self.head.strides):
            raise ValueError(f"cannot find the {len(self.head.strides)} head outputs in the ONNX model "
                             f"(found {len(levels)} with {channels} channels)")
        return openvino.Model(levels, model.get_parameters(), "network")

    def _request_for(self, shape: tuple):
        if shape not in self.requests:
            if len(self.requests) >= MAX_COMPILED_SHAPES:
                self.requests.pop(next(iter(self.requests)))
            model = self.model.clone()
            model.reshape({model.inputs[0].get_any_name(): list(shape)})
            self.requests[shape] = self.core.compile_model(model, "CPU", self.config).create_infer_request()
        return self.requests[shape]

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        request = self._request_for(blob.shape)
        request.infer({0: blob})
        if not self.decodes_in_graph:
            return request.get_output_tensor(0).data.copy()
        levels = [request.get_output_tensor(i).data for i in range(len(self.head.strides))]
        return decode_levels(levels, self.head.strides, self.head.num_classes, (len(self.head.skeleton), 3))
