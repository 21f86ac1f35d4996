"""Where the network runs: `cpu`, `cuda` (the first GPU), `cuda:N`, or `auto` (a GPU when the
backend can bind one, else the CPU).

A GPU asked for by name that cannot be used is an error saying why, never a silent fall back
to the CPU (ONNX Runtime falls back when its CUDA libraries fail to load; that is checked after
the session opens). Only `auto` may end on the CPU, and the device bound is logged.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"

log = logging.getLogger("manypose")


class DeviceUnavailable(RuntimeError):
    """The device asked for cannot run this backend here."""


@dataclass(frozen=True)
class Device:
    kind: str  # "auto", "cpu" or "cuda"
    index: int = 0

    @classmethod
    def parse(cls, text) -> "Device":
        match = re.fullmatch(r"(auto|cpu|cuda)(?::(\d+))?", str(text).strip().lower())
        if not match or (match[2] is not None and match[1] != "cuda"):
            raise ValueError(f"device {text!r}: expected {', '.join(DEVICE_CHOICES)}")
        return cls(match[1], int(match[2] or 0))

    def __str__(self) -> str:
        return f"cuda:{self.index}" if self.kind == "cuda" else self.kind


def check_device(text) -> None:
    Device.parse(text)


def onnx_providers(device: Device, available) -> list:
    """ONNX Runtime's providers for `device`; asking for CUDA where the installed ONNX Runtime
    has no CUDA provider is an error (auto: the CPU)."""
    if device.kind == "cpu" or (device.kind == "auto" and CUDA_PROVIDER not in available):
        return [CPU_PROVIDER]
    if CUDA_PROVIDER not in available:
        raise DeviceUnavailable(
            f"{device}: the installed onnxruntime has no CUDA provider (it offers {', '.join(available)}); "
            "install onnxruntime-gpu in place of onnxruntime, or use --device cpu")
    return [(CUDA_PROVIDER, {"device_id": device.index}), CPU_PROVIDER]


def bound_onnx_device(device: Device, bound_providers) -> str:
    """The device an ONNX Runtime session runs on; CUDA asked for by name and not bound (its
    libraries failed to load, ONNX Runtime said why in its log) is an error."""
    on_gpu = bool(bound_providers) and bound_providers[0] == CUDA_PROVIDER
    if device.kind == "cuda" and not on_gpu:
        raise DeviceUnavailable(
            f"{device}: onnxruntime could not bind its CUDA provider (bound: {', '.join(bound_providers)}); "
            "check the CUDA and cuDNN libraries onnxruntime-gpu needs (its log above says which failed)")
    name = str(Device("cuda", device.index)) if on_gpu else "cpu"
    log.info("onnxruntime runs on %s (providers %s)", name, ", ".join(bound_providers))
    return name


def torch_device(device: Device, torch) -> str:
    """torch's device name for `device`; CUDA asked for by name must be usable."""
    if device.kind == "cpu" or (device.kind == "auto" and not torch.cuda.is_available()):
        name = "cpu"
    else:
        _check_torch_cuda(device, torch)
        name = str(Device("cuda", device.index))
    log.info("torch runs on %s", name)
    return name


def _check_torch_cuda(device: Device, torch) -> None:
    if torch.version.cuda is None:
        raise DeviceUnavailable(f"{device}: torch {torch.__version__} is a CPU build; install a CUDA build "
                                "of torch, or use --device cpu")
    count = torch.cuda.device_count()
    if count == 0:
        raise DeviceUnavailable(f"{device}: torch sees no CUDA device (driver missing, or CUDA_VISIBLE_DEVICES "
                                "hides them); use --device cpu")
    if device.index >= count:
        raise DeviceUnavailable(f"{device}: torch sees {count} CUDA device{'s' if count > 1 else ''} "
                                f"(cuda:0 to cuda:{count - 1})")


def cpu_only(backend: str, device: Device) -> str:
    """Backends that run on the CPU only here."""
    if device.kind == "cuda":
        raise DeviceUnavailable(f"{device}: the {backend} backend runs on the CPU only; use --backend "
                                "onnxruntime (with onnxruntime-gpu) or torch for CUDA")
    log.info("%s runs on cpu", backend)
    return "cpu"
