"""Run an exported model with OpenVINO on the CPU (optional: pip install 'manypose[openvino]').

By default (precision "auto") OpenVINO picks the fastest precision the CPU offers: bfloat16 on
CPUs with AMX / AVX512-BF16, float32 elsewhere; a codec whose results bfloat16 changes asks for
float32 (`Codec.needs_float32`), and "fp32" or "bf16" choose. bfloat16 keeps 8 significant
bits, so decoded coordinates (hundreds of pixels) would land on 2-4 pixel steps: where the
model's codec names a cut (networks that decode coordinates in the graph), the graph stops there
and the codec finishes in float32 numpy; networks that output fields (heatmaps, PAFs) run
whole. Each input shape is compiled once and kept; each calling thread gets its own infer
request, so one backend may be shared.
"""
from __future__ import annotations

import threading

import numpy as np
import openvino

from ..modelfile import reading_model_file
from . import Backend, named_outputs
from .devices import Device, cpu_only

MAX_COMPILED_SHAPES = 16
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}  # ours -> OpenVINO's INFERENCE_PRECISION_HINT


class OpenVinoBackend(Backend):
    name = "openvino"

    def __init__(self, onnx_path, codec, threads: int | None = None, precision: str = "auto",
                 device: Device = Device("cpu")):
        self.device = cpu_only(self.name, device)
        self.core = openvino.Core()
        self.codec = codec
        with reading_model_file(onnx_path, "unreadable ONNX model"):
            model = self.core.read_model(str(onnx_path))
        self.cut = codec.reduced_precision_cut(_graph_outputs(model))
        if self.cut is not None:
            outputs = [output for op in model.get_ordered_ops() for output in op.outputs()]
            model = openvino.Model([outputs[i] for i in self.cut], model.get_parameters(), "network")
        self.model = model
        batch = model.inputs[0].get_partial_shape()[0]
        self.fixed_batch = batch.get_length() if batch.is_static else None
        self.config = {"PERFORMANCE_HINT": "LATENCY"}
        requested = "fp32" if precision == "auto" and codec.needs_float32 else precision
        if requested == "auto":
            self.precision = _precision_name(self.core.get_property("CPU", "INFERENCE_PRECISION_HINT"))
        else:
            if requested == "bf16" and not has_bfloat16(self.core):
                raise ValueError("bf16: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX), and OpenVINO "
                                 "would compute in float32 instead; use --precision fp32 or auto")
            self.config["INFERENCE_PRECISION_HINT"] = PRECISION_HINTS[requested]
            self.precision = requested
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self.compiled: dict[tuple, object] = {}
        self._compiling = threading.Lock()
        self._per_thread = threading.local()

    def _request_for(self, shape: tuple):
        """An infer request of the calling thread's own: a request runs one input at a time, so
        threads sharing this backend each get theirs (for each input shape)."""
        requests = self._per_thread.__dict__.setdefault("requests", {})
        if shape not in requests:
            if len(requests) >= MAX_COMPILED_SHAPES:
                requests.pop(next(iter(requests)))
            requests[shape] = self._compiled_for(shape).create_infer_request()
        return requests[shape]

    def _compiled_for(self, shape: tuple):
        with self._compiling:
            if shape not in self.compiled:
                if len(self.compiled) >= MAX_COMPILED_SHAPES:
                    self.compiled.pop(next(iter(self.compiled)))
                model = self.model.clone()
                model.reshape({model.inputs[0].get_any_name(): list(shape)})
                self.compiled[shape] = self.core.compile_model(model, "CPU", self.config)
            return self.compiled[shape]

    def __call__(self, blob: np.ndarray) -> dict:
        request = self._request_for(blob.shape)
        request.infer({0: blob})
        values = [request.get_output_tensor(i).data for i in range(len(self.model.outputs))]
        if self.cut is None:  # the request's buffers are reused by its next run
            return named_outputs(self.codec.output_names, (value.copy() for value in values))
        return self.codec.outputs_from_cut(values)  # computes new arrays from the buffers


def has_bfloat16(core=None) -> bool:
    """Whether OpenVINO's CPU plugin computes in bfloat16 on this CPU (it does not emulate it)."""
    return "BF16" in (core or openvino.Core()).get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _precision_name(element_type) -> str:
    """OpenVINO's default inference precision as ours (its Type prints as 'bfloat16', 'f32', ...)."""
    return "bf16" if "bf16" in str(element_type) or "bfloat16" in str(element_type) else "fp32"


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
