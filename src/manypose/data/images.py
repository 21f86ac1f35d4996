"""Reading images robustly: one clear error naming the file for anything unreadable, and photos
turned as their EXIF orientation says they are displayed."""
from __future__ import annotations

import os
import struct
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Iterable, NamedTuple

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif"}
CODEC_NOISE = ("Corrupt JPEG data", "Premature end of JPEG", "Warning:", "libpng warning", "libpng error")
_STDERR_CAPTURE = threading.Lock()  # one capture of the process's stderr at a time
PNG_START = b"\x89PNG\r\n\x1a\n"
STORED_PIXELS = cv2.IMREAD_UNCHANGED  # alpha and 16 bits kept, and the EXIF orientation not applied
DEFAULT_MAX_PIXELS = 1 << 28  # 16384 x 16384: 0.8 GB as BGR, before resizing
MAX_PIXELS_ENV = "MANYPOSE_MAX_IMAGE_PIXELS"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pbm", ".pgm", ".ppm"}
JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
JPEG_APP1, JPEG_START_OF_SCAN = 0xE1, 0xDA
WEBP_START = b"RIFF"
EXIF_START = b"Exif\x00\x00"  # how a JPEG's APP1 segment (and some WebP EXIF chunks) open
EXIF_ORIENTATION_TAG, EXIF_SHORT = 0x0112, 3  # the tag and the type of its value (16 bits)
# how each EXIF orientation turns the stored pixels into the displayed ones: (swap the axes,
# then flip the rows, then flip the columns); 1 is as stored, 6 a quarter turn clockwise
ORIENTATION_TURNS = {1: (False, False, False), 2: (False, False, True), 3: (False, True, True),
                     4: (False, True, False), 5: (True, False, False), 6: (True, False, True),
                     7: (True, True, True), 8: (True, True, False)}


# libjpeg decodes at 1/2, 1/4 or 1/8 scale in its inverse DCT, far faster than the full image
REDUCED_JPEG_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


class ImageReadError(ValueError):
    """An image file is missing, unreadable, truncated or not an image."""


class DecodedImage(NamedTuple):
    """An image as displayed, possibly decoded at a reduced scale: `pixels` (BGR) hold one
    pixel per `reduction` x `reduction` pixels of the full picture, whose (width, height) is
    `size`; a point (x, y) of `pixels` is (x * reduction, y * reduction) there."""

    pixels: np.ndarray
    reduction: int
    size: tuple[int, int]


def read_image(path) -> np.ndarray:
    """Read an image file as 8-bit BGR (grey, alpha and 16-bit images are converted), turned
    as its EXIF orientation says it is displayed: results on it are in the picture people see."""
    return decode_image_bytes(read_image_bytes(Path(path)), str(path))


def read_reduced_image(path, reduction_for) -> DecodedImage:
    """An image file as displayed, a JPEG decoded at the largest reduction `reduction_for(width,
    height)` allows for its displayed size (1, 2, 4 or 8; 1 for other formats), its EXIF
    orientation applied to the reduced pixels."""
    path = Path(path)
    data = read_image_bytes(path)
    stored = declared_size(data) if data.startswith(JPEG_START) else None
    orientation = exif_orientation(data)
    if stored is not None and stored[0] > 0 and stored[1] > 0:
        size = stored[::-1] if ORIENTATION_TURNS[orientation][0] else stored
        reduction = reduction_for(*size)
        if reduction in REDUCED_JPEG_FLAGS:
            _check_before_decoding(path, data)
            pixels = _decoded_telling(path, data, REDUCED_JPEG_FLAGS[reduction] | cv2.IMREAD_IGNORE_ORIENTATION)
            expected = tuple(-(-side // reduction) for side in stored)  # libjpeg rounds up
            if pixels is not None and (pixels.shape[1], pixels.shape[0]) == expected:
                return DecodedImage(apply_orientation(pixels, orientation), reduction, tuple(size))
    image = decode_image_bytes(data, str(path))
    return DecodedImage(image, 1, (image.shape[1], image.shape[0]))


def _decoded_telling(path: Path, data: bytes, flags: int):
    """cv2.imdecode's image or None, what the codec libraries said as warnings naming the file."""
    image, noise = decode_quietly(data, flags)
    for line in noise:
        warnings.warn(f"{path}: {line.rstrip('.')} (the image was decoded all the same)", stacklevel=4)
    return image


def decode_image_bytes(data: bytes, source: str) -> np.ndarray:
    """An image file's bytes (an upload, a camera frame) as displayed 8-bit BGR, checked as a
    file is; errors name `source`."""
    path = Path(source)
    return apply_orientation(_stored_pixels(path, data), exif_orientation(data))


def read_annotated_image(path, annotated_size) -> np.ndarray:
    """An annotation file's image in the pixels its annotations are in: turned as displayed
    when `annotated_size`, the file's (width, height) for it, is the displayed size and not the
    stored one; as stored otherwise, also where the size cannot tell (no size, mirrored or
    upside-down photos, square ones): files made on pixels read as stored keep them."""
    image, orientation = read_stored_image(path)
    displayed = apply_orientation(image, orientation)
    if annotated_size is not None and _is_size(displayed, annotated_size) and not _is_size(image, annotated_size):
        return displayed
    return image


def _is_size(image: np.ndarray, size) -> bool:
    return (image.shape[1], image.shape[0]) == tuple(size)


def read_stored_image(path) -> tuple[np.ndarray, int]:
    """An image file's pixels as stored, as 8-bit BGR, and its EXIF orientation (1: as stored)."""
    path = Path(path)
    data = read_image_bytes(path)
    return _stored_pixels(path, data), exif_orientation(data)


def _stored_pixels(path: Path, data: bytes) -> np.ndarray:
    _check_before_decoding(path, data)
    image = _decoded_telling(path, data, STORED_PIXELS)
    if image is None and path.suffix.lower() in VIDEO_SUFFIXES:
        raise ImageReadError(f"{path}: a video, not an image (prediction here takes still images; "
                             "pass its frames as arrays to estimator.stream)")
    if image is None:
        raise ImageReadError(f"{path}: not an image, or a corrupt one (cannot decode; "
                             "OpenCV also refuses images over 2^30 pixels)")
    return as_bgr(image, source=str(path))


def _check_before_decoding(path: Path, data: bytes) -> None:
    if data.startswith(JPEG_START) and JPEG_END not in data[-4096:]:
        raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker)")
    check_declared_size(path, data)


def read_image_bytes(path: Path) -> bytes:
    """A file's bytes, or an ImageReadError saying why there are none."""
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
    return data


def file_orientation(path) -> int:
    """The EXIF orientation of an image file; 1 for a file that cannot be read."""
    try:
        return exif_orientation(Path(path).read_bytes())
    except OSError:
        return 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels turned as the EXIF orientation (1 to 8) says they are displayed; other
    values leave them as stored."""
    swap_axes, flip_rows, flip_columns = ORIENTATION_TURNS.get(orientation, ORIENTATION_TURNS[1])
    if swap_axes:
        image = image.swapaxes(0, 1)
    if flip_rows:
        image = image[::-1]
    if flip_columns:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def exif_orientation(data: bytes) -> int:
    """The orientation (1 to 8) in the EXIF data of a JPEG, PNG or WebP file's bytes; 1 (as
    stored) without one, for other formats, and for damaged or odd EXIF data."""
    exif = _exif_block(data)
    try:
        orientation = _tiff_orientation(exif.removeprefix(EXIF_START))
    except struct.error:  # the block ends inside the entry it points to
        return 1
    return orientation if orientation in ORIENTATION_TURNS else 1


def _exif_block(data: bytes) -> bytes:
    """The EXIF data a JPEG's APP1 segment, a PNG's eXIf chunk or a WebP's EXIF chunk holds; b"" if none."""
    if data.startswith(JPEG_START):
        blocks = (payload for marker, payload in _jpeg_segments(data)
                  if marker == JPEG_APP1 and payload.startswith(EXIF_START))
    elif data.startswith(PNG_START):
        blocks = (payload for kind, payload in _png_chunks(data) if kind == b"eXIf")
    elif data.startswith(WEBP_START) and data[8:12] == b"WEBP":
        blocks = (payload for kind, payload in _riff_chunks(data) if kind == b"EXIF")
    else:
        return b""
    return next(blocks, b"")


def _png_chunks(data: bytes):
    """(type, payload) of each chunk of a PNG file."""
    position = len(PNG_START)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        yield kind, data[position + 8:position + 8 + length]
        position += 12 + length  # length, type, payload, checksum


def _riff_chunks(data: bytes):
    """(type, payload) of each chunk of a RIFF file (WebP)."""
    position = 12  # after "RIFF", the file's length and "WEBP"
    while position + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[position:position + 8])
        yield kind, data[position + 8:position + 8 + length]
        position += 8 + length + length % 2  # payloads are padded to an even length


def _tiff_orientation(exif: bytes) -> int:
    """The orientation entry of the first directory (IFD0) of TIFF-structured EXIF data; 1 if none."""
    byte_order = {b"II": "<", b"MM": ">"}.get(exif[:2])
    if byte_order is None:
        return 1
    directory = struct.unpack(byte_order + "I", exif[4:8])[0]
    entries = struct.unpack(byte_order + "H", exif[directory:directory + 2])[0]
    for index in range(entries):
        start = directory + 2 + 12 * index
        tag, value_type = struct.unpack(byte_order + "HH", exif[start:start + 4])
        if tag == EXIF_ORIENTATION_TAG:
            return struct.unpack(byte_order + "H", exif[start + 8:start + 10])[0] if value_type == EXIF_SHORT else 1
    return 1


def decode_quietly(data: bytes, flags: int = STORED_PIXELS):
    """cv2.imdecode (by default of the pixels as stored), with what the codec libraries print on the
    process's stderr (libjpeg's "Corrupt JPEG data: ...", libpng's warnings) captured: (image or
    None, their lines). Other text written to stderr meanwhile is passed on."""
    if not hasattr(os, "dup2") or sys.stderr is None:
        return _decoded(data, flags), []
    with _STDERR_CAPTURE, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            image = _decoded(data, flags)
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


def _decoded(data: bytes, flags: int):
    """cv2.imdecode, None where it cannot decode, also where OpenCV raises instead (a width or
    height over its own limits, under our pixel cap)."""
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None


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
    for marker, payload in _jpeg_segments(data):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and len(payload) >= 5:  # a start of frame
            height, width = struct.unpack(">HH", payload[1:5])
            return width, height
    return None


def _jpeg_segments(data: bytes):
    """(marker, payload) of each segment of a JPEG's header, up to its image data."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == JPEG_START_OF_SCAN:
            return
        length = struct.unpack(">H", data[position + 2:position + 4])[0]
        yield marker, data[position + 4:position + 2 + length]
        position += 2 + length


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
