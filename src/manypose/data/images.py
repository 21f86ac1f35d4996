"""Reading images robustly: one clear error naming the file for anything unreadable."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif"}
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
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None and path.suffix.lower() in VIDEO_SUFFIXES:
        raise ImageReadError(f"{path}: a video, not an image (prediction here takes still images; "
                             "pass its frames as arrays to estimator.stream)")
    if image is None:
        raise ImageReadError(f"{path}: not an image, or a corrupt one (cannot decode; "
                             "OpenCV also refuses images over 2^30 pixels)")
    return as_bgr(image, source=str(path))


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
