"""Where tracked frames go: an annotated video and a JSON Lines log, both published under their
names when closed (also after Ctrl-C), holding every frame written until then."""
from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..atomic_files import STDOUT, GrowingFile
from .library_logs import pyav_logs_when_debugging, quiet_opencv

OPENCV_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}
H264_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv"}
TIME_BASE = Fraction(1, 90000)  # MPEG's clock: frame times kept to 11 microseconds


def h264_available() -> bool:
    """Browsers play H.264 mp4 files; OpenCV's wheels write MPEG-4 part 2, which they do not.
    PyAV (the `av` extra) brings an H.264 encoder."""
    return importlib.util.find_spec("av") is not None


class VideoWriter:
    """An annotated video of the source's size and frame rate. H.264 through PyAV where it is
    installed (and the container takes it), else OpenCV's MPEG-4 (MJPG for .avi; OpenCV crops
    odd sizes by a pixel). It opens at the first frame, whose size it keeps; later frames of
    another size are scaled to it."""

    def __init__(self, path, fps: float):
        suffix = Path(path).suffix.lower()
        if str(path) == STDOUT or suffix not in OPENCV_CODECS:
            raise ValueError(f"{path}: the video output needs a file name ending in "
                             f"{', '.join(sorted(OPENCV_CODECS))}")
        self.file = GrowingFile(path, "the video output")
        self.fps = fps
        self.size: Optional[tuple[int, int]] = None
        self.encoder = None
        self.frames = 0
        self.h264 = suffix in H264_SUFFIXES and h264_available()
        self.first_time = None
        self.warned = set()

    def write(self, image: np.ndarray, timestamp: float) -> None:
        if self.encoder is None:
            self._open(image.shape[1], image.shape[0])
            self.first_time = timestamp
        if (image.shape[1], image.shape[0]) != self.size:
            self._warn_once("size", f"{self.file.target}: frames of another size than the first "
                                    f"({image.shape[1]}x{image.shape[0]}) are scaled to {self.size[0]}x{self.size[1]}")
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        if not self.h264 and abs(timestamp - self.first_time - self.frames / self.fps) > 1.5 / self.fps:
            self._warn_once("rate", f"{self.file.target}: the source's frame rate varies and OpenCV writes a "
                                    f"constant {self.fps:g} fps; for the source's timing install PyAV "
                                    "(pip install 'manypose[video]') and write .mp4 or .mkv")
        self.encoder.write(image, timestamp)
        self.frames += 1

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            warnings.warn(message)

    def _open(self, width: int, height: int) -> None:
        self.size = (width, height)
        encoder = _PyAvH264 if self.h264 else _OpenCvEncoder
        self.encoder = encoder(self.file.path, self.fps, self.size)

    def close(self) -> None:
        """Finish the file and publish it; nothing is published without a frame."""
        if self.encoder is None:
            self.file.discard()
            return
        self.encoder.close()
        self.file.publish()

    @property
    def codec(self) -> str:
        return "H.264" if self.h264 else "MPEG-4 (OpenCV)"


class _OpenCvEncoder:
    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        quiet_opencv()
        fourcc = cv2.VideoWriter_fourcc(*OPENCV_CODECS[Path(path).suffix.lower()])
        self.writer = cv2.VideoWriter(str(path), fourcc, fps, size)
        if not self.writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot write this video format")

    def write(self, image: np.ndarray, timestamp: float) -> None:
        self.writer.write(image)

    def close(self) -> None:
        self.writer.release()


class _PyAvH264:
    """H.264 in yuv420p with each frame at its source timestamp, so variable frame rates keep
    their timing. Odd sizes get one edge row or column more."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        import av

        pyav_logs_when_debugging(av)
        self.av = av
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self.odd = (size[0] % 2, size[1] % 2)  # 4:2:0 sampling needs even sizes: an edge row or column more
        self.stream.width, self.stream.height = size[0] + self.odd[0], size[1] + self.odd[1]
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = self.stream.codec_context.time_base = TIME_BASE  # else times snap to 1/fps
        self.stream.options = {"preset": "veryfast", "crf": "23"}
        self.last_pts = -1

    def write(self, image: np.ndarray, timestamp: float) -> None:
        if any(self.odd):
            image = cv2.copyMakeBorder(image, 0, self.odd[1], 0, self.odd[0], cv2.BORDER_REPLICATE)
        frame = self.av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = max(int(round(timestamp / TIME_BASE)), self.last_pts + 1)
        frame.time_base = TIME_BASE
        self.last_pts = frame.pts
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()


class JsonLinesWriter:
    """One JSON object per line, flushed as written; `-` writes to stdout."""

    def __init__(self, path):
        self.to_stdout = str(path) == STDOUT
        self.file = None if self.to_stdout else GrowingFile(path, "the JSON Lines output")
        self.stream = None
        self.lines = 0

    def write(self, entry: dict) -> None:
        if self.stream is None:
            self.stream = sys.stdout if self.to_stdout else open(self.file.path, "w", encoding="utf-8")
        self.stream.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self.stream.flush()
        self.lines += 1

    def close(self) -> None:
        if self.to_stdout:
            return
        if self.stream is None:
            self.file.discard()
            return
        self.stream.close()
        self.file.publish()
