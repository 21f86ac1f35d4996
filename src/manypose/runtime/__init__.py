"""Inference backends behind one small interface: `backend(blob) -> output`.

A backend takes a float32 (B, 3, H, W) input blob and returns the network's decoded output as
a numpy array; pre- and post-processing stay in numpy, shared by every backend. ONNX Runtime
is the default: it needs no torch once a model is exported (the bundled model ships exported).
OpenVINO (optional) runs the same ONNX files, in bfloat16 on CPUs that have it.
"""
from __future__ import annotations

import os

BACKENDS = ("onnxruntime", "openvino", "torch")
DEFAULT_BACKEND = "onnxruntime"


class Backend:
    """`backend(blob) -> output`, and how to run several images at once (see `parallel_runner`)."""

    name = ""

    def __call__(self, blob):
        raise NotImplementedError

    def parallel_runner(self):
        """A callable that several threads may call at once, and how many images to run at once
        to use the cores best. By default images run one at a time, on this backend."""
        return self, 1


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def create_backend(model_file, head, name: str = DEFAULT_BACKEND, threads: int | None = None,
                   int8: bool = False, calibration_images=None):
    """A backend running `model_file`; `head` is its head metadata (see heads.py)."""
    from ..optional import require

    if name == "onnxruntime":
        from .exported import onnx_model_path
        from .onnx_backend import OnnxBackend

        return OnnxBackend(onnx_model_path(model_file, int8, calibration_images), threads=threads)
    if name == "openvino":
        require("openvino", "the openvino backend")
        from .exported import onnx_model_path
        from .openvino_backend import OpenVinoBackend

        return OpenVinoBackend(onnx_model_path(model_file, int8, calibration_images), head, threads=threads)
    if name == "torch":
        if int8:
            raise ValueError("INT8 runs with the onnxruntime backend only")
        require("torch", "the torch backend")
        from .torch_backend import TorchBackend

        return TorchBackend(model_file, threads=threads)
    raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
