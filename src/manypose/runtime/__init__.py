"""Inference backends behind one small interface: `backend(blob) -> output`.

A backend takes a float32 (B, 3, H, W) input blob and returns the network's decoded output as
a numpy array; pre- and post-processing stay in numpy, shared by every backend.
"""
from __future__ import annotations

BACKENDS = ("torch",)


def create_backend(model_file, name: str = "torch", threads: int | None = None):
    if name == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(model_file, threads=threads)
    raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
