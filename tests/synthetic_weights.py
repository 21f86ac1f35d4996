"""Deterministic stand-in weights for parity tests against original implementations.

Each tensor is drawn from a generator seeded by the CRC32 of its state-dict key, so a state
dict of any layout can be rebuilt from its key names and shapes alone: the test data holds
only those names, the inputs and the original code's outputs.
"""
from __future__ import annotations

import zlib

import numpy as np


def synthetic_weight(key: str, shape) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    if key.endswith("num_batches_tracked"):
        return np.zeros(shape, np.int64)
    if key.endswith("running_var"):
        return (1.0 + 0.2 * rng.random(shape)).astype(np.float32)
    if key.endswith("running_mean") or key.endswith("bias"):
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)
    if len(shape) == 1:  # batch-norm scale
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def synthetic_state_dict(shapes: dict) -> dict[str, np.ndarray]:
    return {key: synthetic_weight(key, shape) for key, shape in shapes.items()}
