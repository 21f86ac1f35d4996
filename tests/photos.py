"""Photo files written byte by byte for tests: pixels stored turned, with the EXIF orientation
(JPEG, PNG, WebP) that shows them upright again."""
import struct
import zlib

import cv2
import numpy as np

# the stored pixels of a photo displayed as `upright`, per orientation: the opposite of the
# turn the orientation asks for (6 is shown a quarter turn clockwise, so it is stored a
# quarter turn anticlockwise)
STORED_FROM_UPRIGHT = {
    1: lambda image: image,
    2: lambda image: cv2.flip(image, 1),
    3: lambda image: cv2.rotate(image, cv2.ROTATE_180),
    4: lambda image: cv2.flip(image, 0),
    5: lambda image: cv2.transpose(image),
    6: lambda image: cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE),
    7: lambda image: cv2.rotate(cv2.transpose(image), cv2.ROTATE_180),
    8: lambda image: cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE),
}
ORIENTATION_TAG, SHORT, LONG = 0x0112, 3, 4


def tiff_block(orientation: int, byte_order: str = "<", value_type: int = SHORT) -> bytes:
    """EXIF data as TIFF: a header and one directory, its orientation entry after another entry."""
    mark = b"II" if byte_order == "<" else b"MM"
    header = mark + struct.pack(byte_order + "HI", 42, 8)
    software = struct.pack(byte_order + "HHI4s", 0x0131, 2, 4, b"me\0\0")
    value = struct.pack(byte_order + "HH", orientation, 0) if value_type == SHORT else \
        struct.pack(byte_order + "I", orientation)
    entry = struct.pack(byte_order + "HHI", ORIENTATION_TAG, value_type, 1) + value
    return header + struct.pack(byte_order + "H", 2) + software + entry + struct.pack(byte_order + "I", 0)


def jpeg_with_exif(jpeg: bytes, exif: bytes) -> bytes:
    """The JPEG with an APP1 segment of EXIF data right after its start, as cameras write it."""
    payload = b"Exif\0\0" + exif
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def png_with_exif(png: bytes, exif: bytes) -> bytes:
    """The PNG with an eXIf chunk after its header chunk."""
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", zlib.crc32(b"eXIf" + exif))
    header_end = 8 + 25  # signature, then IHDR: length, type, 13 bytes, checksum
    return png[:header_end] + chunk + png[header_end:]


def webp_with_exif(webp: bytes, exif: bytes, size) -> bytes:
    """A simple-format WebP turned extended (a VP8X chunk flagging EXIF) with an EXIF chunk at its end."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return kind + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)

    canvas = b"".join((side - 1).to_bytes(3, "little") for side in size)
    flags = chunk(b"VP8X", bytes([0x08, 0, 0, 0]) + canvas)  # 0x08: has EXIF
    body = b"WEBP" + flags + webp[12:] + chunk(b"EXIF", exif)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def encoded(suffix: str, image: np.ndarray, params=()) -> bytes:
    ok, data = cv2.imencode(suffix, image, list(params))
    assert ok
    return data.tobytes()


def photo_file(folder, upright: np.ndarray, orientation: int, exif=None, quality: int = 95):
    """A JPEG storing `upright` turned, with the orientation that shows it upright again."""
    stored = STORED_FROM_UPRIGHT[orientation](upright)
    data = jpeg_with_exif(encoded(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, quality]),
                          tiff_block(orientation) if exif is None else exif)
    path = folder / f"photo-{orientation}.jpg"
    path.write_bytes(data)
    return path
