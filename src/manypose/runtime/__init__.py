"""Inference backends behind one small interface: `backend(blob) -> {output name: array}`.

A backend takes a float32 (B, 3, H, W) input blob and returns every network output, named as
the model's heads name them; pre- and post-processing stay in numpy, shared by every backend.
Backends run files or networks prepared before them (see manypose.loading) and know nothing of
model families: what depends on a head's layout comes from the model's codec. ONNX Runtime is
the default: it needs no torch once a model is exported (the bundled model ships exported).
OpenVINO (optional) runs the same ONNX files, in bfloat16 on CPUs that have it.
"""
from __future__ import annotations

import os
import warnings

BACKENDS = ("onnxruntime", "openvino", "torch")
DEFAULT_BACKEND = "onnxruntime"
INT8_BACKENDS = ("onnxruntime", "openvino")
# auto: the backend's fastest precision that keeps the model's results (bfloat16 on OpenVINO on
# CPUs that have it, unless the model's codec needs float32); fp32 and bf16 as said
PRECISIONS = ("auto", "fp32", "bf16")
BF16_BACKENDS = ("openvino",)


class Backend:
    """`backend(blob) -> {name: output}`, and how to run several images at once (see `parallel_runner`)."""

    name = ""
    precision = "fp32"  # what the network computes in
    device = "cpu"      # where it runs (see runtime.devices)
    fixed_batch = None  # the one batch size a network takes, where its batch axis is not dynamic

    def __call__(self, blob) -> dict:
        raise NotImplementedError

    def parallel_runner(self):
        """A callable that several threads may call at once, and how many images to run at once
        to use the cores best. By default images run one at a time, on this backend."""
        return self, 1


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_threads(threads) -> None:
    """1 to 4 threads per usable core; more threads than cores only slow the network down."""
    if threads is None:
        return
    cores = usable_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 4 * cores:
        raise ValueError(f"threads must be a whole number from 1 to {4 * cores} (4 per core), not {threads!r}")
    if threads > cores:
        warnings.warn(f"{threads} threads on {cores} cores: the network runs slower than with {cores}",
                      stacklevel=3)


def named_outputs(names, values) -> dict:
    """Outputs in the network's order, named as the codec names them."""
    values = list(values)
    if len(values) != len(names):
        raise ValueError(f"the network gives {len(values)} outputs, the model's heads expect {len(names)} "
                         f"({', '.join(names)})")
    return dict(zip(names, values))


def open_backend(name: str, runnable, codec, threads: int | None = None, precision: str = "auto",
                 device: str = "cpu") -> Backend:
    """A backend running `runnable`: an ONNX file (onnxruntime, openvino) or a torch network, on
    `device` (see runtime.devices)."""
    check_precision(name, precision)
    from ..optional import require
    from .devices import Device

    where = Device.parse(device)
    if name == "onnxruntime":
        from .onnx_backend import OnnxBackend

        return OnnxBackend(runnable, codec.output_names, threads=threads, device=where)
    if name == "openvino":
        require("openvino", "the openvino backend")
        from .openvino_backend import OpenVinoBackend

        return OpenVinoBackend(runnable, codec, threads=threads, precision=precision, device=where)
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(runnable, codec.output_names, threads=threads, device=where)
    raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")


def check_precision(backend: str, precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected {', '.join(PRECISIONS)}")
    if precision == "bf16" and backend not in BF16_BACKENDS:
        raise ValueError(f"bfloat16 runs on the {' and '.join(BF16_BACKENDS)} backend, not {backend}")


def check_backend(name: str, int8: bool) -> None:
    """Refuse what no backend of that name runs, before anything is prepared for it."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
    if int8 and name not in INT8_BACKENDS:
        raise ValueError(f"INT8 runs on the {' and '.join(INT8_BACKENDS)} backends, not {name}")
