"""Geometric transforms shared by inference and training."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Letterbox:
    """Where the original image sits inside the network input: input = original * scale + pad."""

    scale: float
    pad_left: int
    pad_top: int
    input_width: int
    input_height: int

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2+) input-pixel coordinates back onto the original image, in place."""
        xy[..., 0] = (xy[..., 0] - self.pad_left) / self.scale
        xy[..., 1] = (xy[..., 1] - self.pad_top) / self.scale
        return xy


def letterbox(image: np.ndarray, size: int = 640, stride: int = 32, pad_value: int = 114,
              minimal_padding: bool = True) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio so the long side is `size`, then pad.

    With minimal padding the canvas is only rounded up to a multiple of `stride` (fewer pixels
    to process); otherwise it is size x size.
    """
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = int(round(width * scale)), int(round(height * scale))
    if minimal_padding:
        canvas_w, canvas_h = _round_up(new_w, stride), _round_up(new_h, stride)
    else:
        canvas_w = canvas_h = size
    if (new_w, new_h) != (width, height):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_w, pad_h = (canvas_w - new_w) / 2, (canvas_h - new_h) / 2
    left, top = int(round(pad_w - 0.1)), int(round(pad_h - 0.1))
    right, bottom = canvas_w - new_w - left, canvas_h - new_h - top
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=(pad_value,) * 3)
    return padded, Letterbox(scale, left, top, canvas_w, canvas_h)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass(frozen=True)
class Stretch:
    """The image resized to a fixed input size, aspect ratio not kept."""

    scale_x: float
    scale_y: float

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        xy[..., 0] /= self.scale_x
        xy[..., 1] /= self.scale_y
        return xy


INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}


def stretch(image: np.ndarray, width: int, height: int, interpolation: str = "linear"):
    resized = cv2.resize(image, (width, height), interpolation=INTERPOLATIONS[interpolation])
    return resized, Stretch(width / image.shape[1], height / image.shape[0])


def network_input(image: np.ndarray, spec: dict, minimal_padding: bool = True):
    """The float32 (1, 3, H, W) input blob for a BGR image as a model's input description
    `spec` asks (letterbox or stretch, channel order, (pixel - pixel_mean) * scale), and the
    geometry mapping input pixels back onto the image."""
    if spec.get("resize") == "stretch":
        width, height = spec["size"]
        resized, geometry = stretch(image, width, height, spec.get("interpolation", "linear"))
    else:
        resized, geometry = letterbox(image, spec["size"], spec["stride"], spec["pad_value"], minimal_padding)
    blob = cv2.dnn.blobFromImage(resized, spec["scale"], mean=tuple(spec.get("pixel_mean", (0, 0, 0))),
                                 swapRB=spec["channels"] == "RGB")
    return blob, geometry
