"""How a model sees an image: the input spec, and the geometry mapping image <-> network pixels
both ways (inference maps poses back, training maps annotations forward)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

RESIZE_MODES = ("letterbox", "stretch")
MAX_INPUT_SIZE = 4096  # long side; larger inputs cost gigabytes of activations for no gain
INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}


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

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2+) original-image coordinates into the network input, in place."""
        xy[..., 0] = xy[..., 0] * self.scale + self.pad_left
        xy[..., 1] = xy[..., 1] * self.scale + self.pad_top
        return xy


@dataclass(frozen=True)
class Stretch:
    """The image resized to a fixed input size, aspect ratio not kept."""

    scale_x: float
    scale_y: float

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        xy[..., 0] /= self.scale_x
        xy[..., 1] /= self.scale_y
        return xy

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        xy[..., 0] *= self.scale_x
        xy[..., 1] *= self.scale_y
        return xy


def letterbox(image: np.ndarray, size: int = 640, stride: int = 32, pad_value: int = 114,
              minimal_padding: bool = True, interpolation: str = "linear",
              corner_aligned: bool = False) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio so the long side is `size`, then pad.

    With minimal padding the canvas is only rounded up to a multiple of `stride` (fewer pixels
    to process); otherwise it is size x size.
    """
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = int(round(width * scale)), int(round(height * scale))
    if minimal_padding:
        extra = 1 if corner_aligned else 0  # a multiple of the stride plus one
        canvas_w, canvas_h = _round_up(new_w - extra, stride) + extra, _round_up(new_h - extra, stride) + extra
    else:
        canvas_w = canvas_h = size
    if (new_w, new_h) != (width, height):
        image = cv2.resize(image, (new_w, new_h), interpolation=INTERPOLATIONS[interpolation])
    pad_w, pad_h = (canvas_w - new_w) / 2, (canvas_h - new_h) / 2
    left, top = int(round(pad_w - 0.1)), int(round(pad_h - 0.1))
    right, bottom = canvas_w - new_w - left, canvas_h - new_h - top
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=(pad_value,) * 3)
    return padded, Letterbox(scale, left, top, canvas_w, canvas_h)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def stretch(image: np.ndarray, width: int, height: int, interpolation: str = "linear"):
    resized = cv2.resize(image, (width, height), interpolation=INTERPOLATIONS[interpolation])
    return resized, Stretch(width / image.shape[1], height / image.shape[0])


@dataclass(frozen=True)
class InputSpec:
    """A model's input: how the image is resized, and how pixels become the float blob the
    network sees, (pixel - pixel_mean) * scale in `channels` order.

    letterbox: the long side becomes `size`, the aspect ratio is kept and the canvas padded
    with `pad_value` to a multiple of `stride` (any input size that is such a multiple runs);
    stretch: the image is resized to exactly `size` = (width, height), a fixed input.
    corner_aligned: the network's grid cell i sits on input pixel stride * i (PoseNet), so its
    inputs are a multiple of the stride plus one.
    """

    size: int | tuple[int, int] = 640
    resize: str = "letterbox"
    stride: int = 32
    channels: str = "RGB"
    scale: float = 1 / 255.0
    pixel_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pad_value: int = 114
    interpolation: str = "linear"
    corner_aligned: bool = False

    def __post_init__(self):
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"input resize {self.resize!r}: expected one of {', '.join(RESIZE_MODES)}")
        if self.channels not in ("RGB", "BGR"):
            raise ValueError(f"input channels {self.channels!r}: expected RGB or BGR")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"input interpolation {self.interpolation!r}: expected one of {', '.join(INTERPOLATIONS)}")
        if self.resize == "stretch" and (isinstance(self.size, int) or len(self.size) != 2):
            raise ValueError(f"a stretched input needs size [width, height], not {self.size!r}")
        if self.resize == "letterbox" and not isinstance(self.size, int):
            raise ValueError(f"a letterboxed input needs one size (the long side), not {self.size!r}")

    @property
    def size_remainder(self) -> int:
        """What input sizes leave over a multiple of the stride: 1 for corner-aligned grids."""
        return 1 if self.corner_aligned else 0

    @property
    def fixed_shape(self) -> tuple[int, int] | None:
        """(height, width) of a fixed-size input; None when any multiple of the stride runs."""
        return (self.size[1], self.size[0]) if self.resize == "stretch" else None

    def with_size(self, size: int) -> "InputSpec":
        """The same input with another long side (letterboxed models only): a multiple of the
        stride, from one stride up to MAX_INPUT_SIZE."""
        if self.fixed_shape:
            raise ValueError(f"this model has a fixed input size {list(self.size)}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not \
                self.stride <= size <= MAX_INPUT_SIZE:
            raise ValueError(f"input size must be a whole number of pixels from {self.stride} to "
                             f"{MAX_INPUT_SIZE}, not {size!r}")
        extra = self.size_remainder
        if (size - extra) % self.stride:
            lower = (size - extra) // self.stride * self.stride + extra
            kind = "a multiple of the model's stride" + (" plus one" if extra else "")
            raise ValueError(f"input size {size} is not {kind} {self.stride} "
                             f"(try {max(lower, self.stride + extra)} or {lower + self.stride})")
        return replace(self, size=int(size))

    def prepare(self, image: np.ndarray, minimal_padding: bool = True):
        """The float32 (1, 3, H, W) blob for a BGR image, and the geometry mapping between the
        image's and the network input's pixels. Without minimal padding a letterbox is square."""
        if self.resize == "stretch":
            resized, geometry = stretch(image, *self.size, self.interpolation)
        else:
            resized, geometry = letterbox(image, self.size, self.stride, self.pad_value, minimal_padding,
                                          self.interpolation, self.corner_aligned)
        blob = cv2.dnn.blobFromImage(resized, self.scale, mean=tuple(self.pixel_mean),
                                     swapRB=self.channels == "RGB")
        return blob, geometry

    def to_dict(self) -> dict:
        data = asdict(self)
        data["size"] = self.size if isinstance(self.size, int) else list(self.size)
        data["pixel_mean"] = list(self.pixel_mean)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "InputSpec":
        values = dict(data)
        if isinstance(values.get("size"), list):
            values["size"] = tuple(int(v) for v in values["size"])
        if "pixel_mean" in values:
            values["pixel_mean"] = tuple(float(v) for v in values["pixel_mean"])
        return cls(**values)
