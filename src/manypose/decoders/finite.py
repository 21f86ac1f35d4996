"""Every decoder sees bounded, finite outputs and returns finite poses.

A network's outputs are untrusted numbers: a damaged or badly quantised model gives NaN,
infinities or values no image could mean, and the decoders index grids and heaps with them
(a NaN coordinate in numba code reads outside its arrays). Here they are bounded once, for all
methods, before decoding; what comes out is checked once more, since finite numbers near the
bound can still overflow in a decoder's arithmetic.
"""
from __future__ import annotations

import numpy as np

# far beyond any pixel coordinate, logit or scale a working network gives, far below overflow
OUTPUT_BOUND = 1e6


def bounded(values: np.ndarray) -> np.ndarray:
    """`values` itself when finite and within the bound (two reductions, no copy), else a copy
    with NaN as 0 and everything else clipped to +-OUTPUT_BOUND."""
    if values.size == 0:
        return values
    lowest, highest = values.min(), values.max()  # NaN anywhere makes both NaN: the test fails
    if -OUTPUT_BOUND <= lowest and highest <= OUTPUT_BOUND:
        return values
    return np.clip(np.nan_to_num(values, nan=0.0), -OUTPUT_BOUND, OUTPUT_BOUND).astype(values.dtype, copy=False)


def finite_people(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray):
    """The people whose box, score and keypoints are all finite."""
    finite = np.isfinite(scores) & np.isfinite(boxes).all(axis=1) & np.isfinite(keypoints).all(axis=(1, 2))
    if finite.all():
        return boxes, scores, keypoints
    return boxes[finite], scores[finite], keypoints[finite]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function; exp overflowing for logits below about -88 (float32) gives the
    right answer, 0, without a warning."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


class FiniteDecoder:
    """A decoder of one image's named outputs, made safe on any numbers."""

    def __init__(self, decode):
        self.decode = decode

    def __call__(self, outputs: dict[str, np.ndarray]):
        boxes, scores, keypoints = self.decode(_bounded(outputs))
        return finite_people(boxes, scores, keypoints)

    def with_keypoint_objects(self, outputs: dict[str, np.ndarray]):
        """As a call, with the keypoint objects of decoders that find them (KAPAO's), else None."""
        decode = getattr(self.decode, "with_keypoint_objects", None)
        if decode is None:
            return (*self(outputs), None)
        boxes, scores, keypoints, objects = decode(_bounded(outputs))
        return (*finite_people(boxes, scores, keypoints), objects)


def _bounded(outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: bounded(np.asarray(value)) for name, value in outputs.items()}
