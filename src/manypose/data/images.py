"""Reading images robustly: one clear error naming the file for anything unreadable."""
from __future__ import annotations

import os
import struct
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif"}
CODEC_NOISE = ("Corrupt JPEG data", "Premature end of JPEG", "Warning:", "libpng warning", "libpng error")
_STDERR_CAPTURE = threading.Lock()  # one capture of the process's stderr at a time
PNG_START = b"\x89PNG\r\n\x1a\n"
DEFAULT_MAX_PIXELS = 1 << 28  # 16384 x 16384: 0.8 GB as BGR, before resizing
MAX_PIXELS_ENV = "MANYPOSE_MAX_IMAGE_PIXELS"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pbm", ".pgm", ".ppm"}
JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"


class ImageReadError(ValueError):
    """An image file is missing, unreadable, truncated or not an image."""


def read_image(path) -> np.ndarray:
    """Read an image file as 8-bit BGR (grey, alpha and 16-bit images are converted)."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a directory, not an image")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageReadError(f"{path}: cannot read ({error.strerror or error})") from None
    if not data:
        raise ImageReadError(f"{path}: empty file")
    if data.startswith(JPEG_START) and JPEG_END not in data[-4096:]:
        raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker)")
    check_declared_size(path, data)
    image, noise = decode_quietly(data)
    for line in noise:
        warnings.warn(f"{path}: {line.rstrip('.')} (the image was decoded all the same)", stacklevel=2)
    if image is None and path.suffix.lower() in VIDEO_SUFFIXES:
        raise ImageReadError(f"{path}: a video, not an image (prediction here takes still images; "
                             "pass its frames as arrays to estimator.stream)")
    if image is None:
        raise ImageReadError(f"{path}: not an image, or a corrupt one (cannot decode; "
                             "OpenCV also refuses images over 2^30 pixels)")
    return as_bgr(image, source=str(path))


def decode_quietly(data: bytes):
    """cv2.imdecode, with what the codec libraries print on the process's stderr (libjpeg's
    "Corrupt JPEG data: ...", libpng's warnings) captured: (image or None, their lines). Other
    text written to stderr meanwhile is passed on."""
    if not hasattr(os, "dup2") or sys.stderr is None:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), []
    with _STDERR_CAPTURE, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        lines = captured.read().decode(errors="replace").splitlines()
    noise = [line for line in lines if line.startswith(CODEC_NOISE)]
    others = [line for line in lines if not line.startswith(CODEC_NOISE)]
    if others:
        print("\n".join(others), file=sys.stderr)
    return image, noise


def max_image_pixels() -> int:
    """The decoded-size cap: $MANYPOSE_MAX_IMAGE_PIXELS (the CLI's --max-image-pixels), or the default."""
    value = os.environ.get(MAX_PIXELS_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_PIXELS


def check_declared_size(path: Path, data: bytes) -> None:
    """Refuse, before decoding, an image whose header declares more pixels than the cap: a
    small file can declare gigapixels (a decompression bomb)."""
    size, cap = declared_size(data), max_image_pixels()
    if size and size[0] * size[1] > cap:
        raise ImageReadError(f"{path}: {size[0]}x{size[1]} pixels is over the cap of {cap} "
                             f"(raise it with --max-image-pixels or ${MAX_PIXELS_ENV})")


def declared_size(data: bytes):
    """(width, height) from a PNG, JPEG or BMP header; None for other formats or odd headers."""
    if data.startswith(PNG_START) and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data.startswith(JPEG_START):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes):
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = struct.unpack(">H", data[position + 2:position + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return width, height
        position += 2 + length
    return None


def as_bgr(image: np.ndarray, source: str = "image") -> np.ndarray:
    """Any 2-D or 3-D image array as contiguous 8-bit BGR (HxWx3)."""
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.size == 0 or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ImageReadError(f"{source}: expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {image.shape}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = np.clip(image * (255.0 if image.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageReadError(f"{source}: unsupported pixel type {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def expand_image_paths(inputs: Iterable) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to process and (input, error) for inputs that give none: missing paths, empty folders."""
    files, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                errors.append((str(path), f"{path}: no images in this directory"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            errors.append((str(path), f"{path}: no such file or directory"))
    return files, errors
