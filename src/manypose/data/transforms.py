"""How a model sees an image: the input spec, and the geometry mapping image <-> network pixels
both ways (inference maps poses back, training maps annotations forward)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

RESIZE_MODES = ("letterbox", "stretch")
MAX_INPUT_SIZE = 4096  # long side; larger inputs cost gigabytes of activations for no gain
INTERPOLATIONS = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA,
                  "tf_legacy": None}  # numpy, see tf_legacy_resize
ANCHORS = ("center", "top_left")  # where a letterboxed image sits on its canvas


@dataclass(frozen=True)
class Letterbox:
    """Where the original image sits inside the network input: input = original * scale + pad.
    `scale_y`, when set, is the height's own scale (TensorFlow's legacy resize maps each side
    by its rounded size: pixel i of the input samples the image at i * height / resized height)."""

    scale: float
    pad_left: int
    pad_top: int
    input_width: int
    input_height: int
    scale_y: float | None = None

    @property
    def vertical_scale(self) -> float:
        return self.scale if self.scale_y is None else self.scale_y

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2+) input-pixel coordinates back onto the original image, in place."""
        xy[..., 0] = (xy[..., 0] - self.pad_left) / self.scale
        xy[..., 1] = (xy[..., 1] - self.pad_top) / self.vertical_scale
        return xy

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2+) original-image coordinates into the network input, in place."""
        xy[..., 0] = xy[..., 0] * self.scale + self.pad_left
        xy[..., 1] = xy[..., 1] * self.vertical_scale + self.pad_top
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


def bgr_triple(pad_value: int | tuple) -> tuple[int, int, int]:
    """A pad value, one grey level or a BGR triple, as the triple OpenCV's borders take."""
    return tuple(int(value) for value in np.broadcast_to(pad_value, 3))


def letterbox(image: np.ndarray, size: int = 640, stride: int = 32, pad_value: int | tuple = 114,
              minimal_padding: bool = True, interpolation: str = "linear",
              corner_aligned: bool = False, anchor: str = "center") -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio so the long side is `size`, then pad.

    With minimal padding the canvas is only rounded up to a multiple of `stride` (fewer pixels
    to process); otherwise it is size x size. `pad_value`: one grey level, or a BGR triple.
    `anchor`: the image centred on the canvas, or in its top left corner (padded at the bottom
    and right only).
    """
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    if interpolation == "tf_legacy":
        new_w, new_h = _tfjs_resized_size(width, height, size)
    else:
        # at least a pixel: a 1 x 32 strip shrunk to 16 would round its height to nothing
        new_w, new_h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    if minimal_padding:
        extra = 1 if corner_aligned else 0  # a multiple of the stride plus one
        canvas_w, canvas_h = _round_up(new_w - extra, stride) + extra, _round_up(new_h - extra, stride) + extra
    else:
        canvas_w = canvas_h = size
    if (new_w, new_h) != (width, height):
        image = resize(image, new_w, new_h, interpolation)
    if anchor == "top_left":
        left = top = 0
    else:
        left, top = centred_offset(new_w, canvas_w), centred_offset(new_h, canvas_h)
    right, bottom = canvas_w - new_w - left, canvas_h - new_h - top
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=bgr_triple(pad_value))
    if interpolation == "tf_legacy":  # each side scaled by its own rounded size (see Letterbox)
        return padded, Letterbox(new_w / width, left, top, canvas_w, canvas_h, scale_y=new_h / height)
    return padded, Letterbox(scale, left, top, canvas_w, canvas_h)


def centred_offset(content: int, canvas: int) -> int:
    """The whole pixels of padding before `content` centred on `canvas`; an odd one goes after."""
    return int(round((canvas - content) / 2 - 0.1))


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _tfjs_resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) as TensorFlow.js's pose-detection sizes them: the long side `size`, the
    short one Math.round(size * short / long), halves rounded up."""
    if width > height:
        return size, max(math.floor(size * height / width + 0.5), 1)
    return max(math.floor(size * width / height + 0.5), 1), size


def resize(image: np.ndarray, width: int, height: int, interpolation: str = "linear") -> np.ndarray:
    if interpolation == "tf_legacy":
        return tf_legacy_resize(image, width, height)
    return cv2.resize(image, (width, height), interpolation=INTERPOLATIONS[interpolation])


def tf_legacy_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """TensorFlow's bilinear resize without half-pixel centres (TF1's only mode, TensorFlow.js's
    default) of an (H, W, C) uint8 image: output pixel i samples the input at i * in / out. In
    float32 and in XNNPACK's order (across, then down), truncated to uint8 as the original
    casts to int32: the same bytes as TensorFlow.js's wasm backend."""
    rows, columns, channels = image.shape
    (top, bottom), down = _legacy_samples(rows, height)
    (left, right), across = _legacy_samples(columns, width)
    pixels = image.reshape(-1, channels)
    # 2-D (height, width * channels) arrays: numpy's loops run long rows, not 3-channel pixels
    across = np.repeat(across, channels)[None, :]

    def corner(row_indices, column_indices):
        taken = np.take(pixels, (row_indices[:, None] * columns + column_indices).ravel(), axis=0)
        return taken.reshape(height, width * channels).astype(np.float32)

    upper = _lerp(corner(top, left), corner(top, right), across)
    lower = _lerp(corner(bottom, left), corner(bottom, right), across)
    return _lerp(upper, lower, down[:, None]).astype(np.uint8).reshape(height, width, channels)


def _lerp(start: np.ndarray, end: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """start + (end - start) * weight, in place (fresh arrays cost more than the arithmetic)."""
    end -= start
    end *= weight
    start += end
    return start


def _legacy_samples(size_in: int, size_out: int):
    """For each output index: the two input indices it blends, and the second one's weight."""
    positions = np.arange(size_out, dtype=np.float32) * (np.float32(size_in) / np.float32(size_out))
    first = positions.astype(np.int64)  # the floor: positions are not negative
    second = np.minimum(first + 1, size_in - 1)
    return (first, second), positions - first.astype(np.float32)


def stretch(image: np.ndarray, width: int, height: int, interpolation: str = "linear"):
    resized = resize(image, width, height, interpolation)
    return resized, Stretch(width / image.shape[1], height / image.shape[0])


@dataclass(frozen=True)
class InputSpec:
    """A model's input: how the image is resized, and how pixels become the float blob the
    network sees, (pixel - pixel_mean) * scale in `channels` order. `scale` and `pad_value` are
    one number for every channel, or one per channel in `channels` order (ImageNet's
    per-channel normalization: scale = 1 / (255 std), pad value = the mean colour).

    letterbox: the long side becomes `size`, the aspect ratio is kept and the canvas padded
    with `pad_value` to a multiple of `stride` (any input size that is such a multiple runs);
    stretch: the image is resized to exactly `size` = (width, height), a fixed input.
    corner_aligned: the network's grid cell i sits on input pixel stride * i (PoseNet), so its
    inputs are a multiple of the stride plus one.
    anchor: where a letterboxed image sits on its canvas, centred or top left (MoveNet).
    square: letterbox onto a size x size canvas, as training inputs are, instead of the minimal
    padding (for a model that knows only its training geometry, e.g. one fitted to a few images).
    interpolation: OpenCV's linear, cubic or area resize, or tf_legacy, TensorFlow's resize
    without half-pixel centres, truncated to whole pixel values (MoveNet's original input).
    """

    size: int | tuple[int, int] = 640
    resize: str = "letterbox"
    stride: int = 32
    channels: str = "RGB"
    scale: float | tuple[float, float, float] = 1 / 255.0
    pixel_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pad_value: int | tuple[int, int, int] = 114
    interpolation: str = "linear"
    corner_aligned: bool = False
    anchor: str = "center"
    square: bool = False

    def __post_init__(self):
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"input resize {self.resize!r}: expected one of {', '.join(RESIZE_MODES)}")
        if self.channels not in ("RGB", "BGR"):
            raise ValueError(f"input channels {self.channels!r}: expected RGB or BGR")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"input interpolation {self.interpolation!r}: expected one of {', '.join(INTERPOLATIONS)}")
        if self.anchor not in ANCHORS:
            raise ValueError(f"input anchor {self.anchor!r}: expected one of {', '.join(ANCHORS)}")
        if self.resize == "stretch" and (isinstance(self.size, int) or len(self.size) != 2):
            raise ValueError(f"a stretched input needs size [width, height], not {self.size!r}")
        if self.resize == "letterbox" and not isinstance(self.size, int):
            raise ValueError(f"a letterboxed input needs one size (the long side), not {self.size!r}")
        for name in ("scale", "pad_value"):
            value = getattr(self, name)
            if isinstance(value, tuple) and len(value) != 3:
                raise ValueError(f"input {name} {list(value)}: expected one number or one per channel (3)")

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
        stride (plus one on corner-aligned grids), from the smallest such size up to MAX_INPUT_SIZE."""
        if self.fixed_shape:
            raise ValueError(f"this model has a fixed input size {list(self.size)}")
        extra = self.size_remainder
        smallest = self.stride + extra
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not \
                smallest <= size <= MAX_INPUT_SIZE:
            raise ValueError(f"input size must be a whole number of pixels from {smallest} to "
                             f"{MAX_INPUT_SIZE}, not {size!r}")
        if (size - extra) % self.stride:
            lower = (size - extra) // self.stride * self.stride + extra
            nearest = " or ".join(str(s) for s in (lower, lower + self.stride) if s <= MAX_INPUT_SIZE)
            kind = "a multiple of the model's stride" + (" plus one" if extra else "")
            raise ValueError(f"input size {size} is not {kind} {self.stride} (try {nearest})")
        return replace(self, size=int(size))

    def decode_reduction(self, width: int, height: int, enlargement: float = 1.0) -> int:
        """The largest JPEG decoding reduction (1, 2, 4 or 8) that leaves an image of this size
        at least the pixels the input takes from it, `enlargement` times this input (test-time
        scales): the network sees the same picture, filtered by the decoder instead of the resize.
        Always 1 for tf_legacy inputs: they reproduce the original's resize of the whole image."""
        if self.interpolation == "tf_legacy":
            return 1
        if self.resize == "stretch":
            kept = max(self.size[0] / width, self.size[1] / height)
        else:
            kept = min(self.size / width, self.size / height)
        kept *= enlargement
        return next((reduction for reduction in (8, 4, 2) if reduction * kept <= 1), 1)

    def prepare(self, image: np.ndarray, minimal_padding: bool = True):
        """The float32 (1, 3, H, W) blob for a BGR image, and the geometry mapping between the
        image's and the network input's pixels. Without minimal padding (or on a square input) a
        letterbox is square."""
        if self.resize == "stretch":
            resized, geometry = stretch(image, *self.size, self.interpolation)
        else:
            resized, geometry = letterbox(image, self.size, self.stride, self.bgr_pad_value,
                                          minimal_padding and not self.square,
                                          self.interpolation, self.corner_aligned, self.anchor)
        per_channel = isinstance(self.scale, tuple)
        blob = cv2.dnn.blobFromImage(resized, 1.0 if per_channel else self.scale, mean=tuple(self.pixel_mean),
                                     swapRB=self.channels == "RGB")
        if per_channel:
            blob *= np.asarray(self.scale, np.float32).reshape(1, 3, 1, 1)
        return blob, geometry

    @property
    def bgr_pad_value(self):
        """The pad value as letterbox takes it: for the BGR image, before any channel swap."""
        if not isinstance(self.pad_value, tuple):
            return self.pad_value
        return self.pad_value[::-1] if self.channels == "RGB" else self.pad_value

    def to_dict(self) -> dict:
        data = asdict(self)
        data["size"] = self.size if isinstance(self.size, int) else list(self.size)
        data["pixel_mean"] = list(self.pixel_mean)
        for name in ("scale", "pad_value"):
            if isinstance(data[name], tuple):
                data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "InputSpec":
        values = dict(data)
        if isinstance(values.get("size"), list):
            values["size"] = tuple(int(v) for v in values["size"])
        if "pixel_mean" in values:
            values["pixel_mean"] = tuple(float(v) for v in values["pixel_mean"])
        for name in ("scale", "pad_value"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values)
