"""Where frames come from: video files, animated GIFs, folders or globs of images, cameras and
streams, each giving `Frame`s with timestamps in seconds (from the container where it has them,
so variable frame rates keep their timing)."""
from __future__ import annotations

import glob
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple, Optional, Union

import cv2
import numpy as np

from ..data.images import IMAGE_SUFFIXES
from .library_logs import quiet_opencv

DEFAULT_FPS = 30.0  # for image sequences, which carry no timing, and containers that declare none
GLOB_CHARACTERS = re.compile(r"[*?\[]")


class Frame(NamedTuple):
    index: int          # position in the source, counting every frame, also the skipped ones
    timestamp: float    # seconds since the source's first frame
    image: Union[np.ndarray, Path, None]  # BGR pixels, or an image file the estimator reads
    error: Optional[str] = None           # why the frame could not be read


class VideoSourceError(OSError):
    pass


Position = Union[int, float]  # a frame index (int) or a time in seconds (float)


@dataclass(frozen=True)
class FrameRange:
    """Which frames to take: from `start` up to `end` (excluded), each `stride`-th, at most
    `max_frames` of them."""

    start: Position = 0
    end: Optional[Position] = None
    max_frames: Optional[int] = None
    stride: int = 1

    def __post_init__(self):
        if self.stride < 1 or (self.max_frames is not None and self.max_frames < 1):
            raise ValueError("the frame stride and the most frames must be 1 or more")
        if self.start < 0 or (self.end is not None and self.end < 0):
            raise ValueError("the start and end of the frame range cannot be negative")

    def taken(self, frames: Iterator[tuple[int, float]]) -> Iterator[tuple[int, int, float]]:
        """(position in the range, index, timestamp) of the frames to take from (index, timestamp)
        pairs; stops at the end of the range."""
        since_start, taken = 0, 0
        for index, timestamp in frames:
            if not _reached(self.start, index, timestamp):
                continue
            if (self.end is not None and _reached(self.end, index, timestamp)) or taken == self.max_frames:
                return
            since_start += 1
            if (since_start - 1) % self.stride == 0:
                yield taken, index, timestamp
                taken += 1

    def expected(self, frame_count: Optional[int], fps: float) -> Optional[int]:
        """How many frames the range takes from a source of this length (None: unknown)."""
        if frame_count is None:
            return self.max_frames
        start = _as_index(self.start, fps)
        end = frame_count if self.end is None else min(frame_count, _as_index(self.end, fps))
        count = max(0, -(-(end - start) // self.stride))
        return count if self.max_frames is None else min(count, self.max_frames)


def _reached(position: Position, index: int, timestamp: float) -> bool:
    return index >= position if isinstance(position, int) else timestamp >= position - 1e-6


def _as_index(position: Position, fps: float) -> int:
    return position if isinstance(position, int) else int(np.ceil(position * fps - 1e-6))


def parse_position(text: str) -> Position:
    """'120' is frame 120, '4.5s' is 4.5 seconds in."""
    try:
        return float(text[:-1]) if text.endswith("s") else int(text)
    except ValueError:
        raise ValueError(f"{text!r}: expected a frame number (120) or seconds (4.5s)") from None


class FrameSource:
    """Frames of one source. `fps` is the nominal rate (the writer's), `frame_count` None for
    live sources; `frames(frame_range)` reads the frames the range takes, once."""

    description: str
    fps: float
    frame_count: Optional[int]
    size: Optional[tuple[int, int]]  # width, height where known before the first frame
    files: list[Path]                # what the frames are read from; none for cameras and streams
    live: bool = False

    def frames(self, frame_range: FrameRange = FrameRange()) -> Iterator[Frame]:
        raise NotImplementedError

    def reopened(self) -> "FrameSource":
        """The same source from its start, for a second reading (offline tracking)."""
        raise VideoSourceError(f"{self.description}: a camera or stream cannot be read twice; offline "
                               "tracking needs a recording (a file or images)")

    def close(self) -> None:
        pass


def open_source(spec, fps: Optional[float] = None) -> FrameSource:
    """A camera index ('0'), a stream URL (rtsp://, http://...), a folder or glob of images, or a
    video file or animated GIF. `fps` sets the rate of image sequences (default 30)."""
    text = str(spec)
    quiet_opencv()
    if text.isdigit():
        return CaptureSource(cv2.VideoCapture(int(text)), f"camera {text}", live=True)
    if "://" in text:
        return CaptureSource(cv2.VideoCapture(text), text, live=True)
    path = Path(text)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                       key=_natural_key)
        if not files:
            raise VideoSourceError(f"{path}: no images in this directory")
        return ImageSequence(files, str(path), fps or DEFAULT_FPS)
    if not path.exists() and GLOB_CHARACTERS.search(text):
        files = sorted((Path(p) for p in glob.glob(text) if Path(p).is_file()), key=_natural_key)
        if not files:
            raise VideoSourceError(f"{text}: no files match")
        return ImageSequence(files, text, fps or DEFAULT_FPS)
    return _open_video_file(path)


def _open_video_file(path: Path) -> "CaptureSource":
    if not path.exists():
        raise VideoSourceError(f"{path}: no such file, camera or stream")
    if path.suffix.lower() in IMAGE_SUFFIXES - {".gif"}:
        raise VideoSourceError(f"{path}: a still image; give its folder for a sequence, or use "
                               "`manypose predict` for images")
    with open(path, "rb") as f:  # a readable file, so a failure to open is about its content
        if not f.read(16):
            raise VideoSourceError(f"{path}: empty file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoSourceError(f"{path}: not a video OpenCV can read (unknown format or corrupt file)")
    return CaptureSource(capture, str(path), live=False)


def _natural_key(path: Path):
    """frame2 before frame10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class ImageSequence(FrameSource):
    def __init__(self, files: list[Path], description: str, fps: float):
        if fps <= 0:
            raise ValueError(f"the frame rate must be positive, not {fps}")
        self.files, self.description, self.fps = files, description, fps
        self.frame_count, self.size = len(files), None

    def reopened(self) -> "ImageSequence":
        return ImageSequence(self.files, self.description, self.fps)

    def frames(self, frame_range: FrameRange = FrameRange()) -> Iterator[Frame]:
        timing = ((index, index / self.fps) for index in range(len(self.files)))
        for _, index, timestamp in frame_range.taken(timing):
            yield Frame(index, timestamp, self.files[index])


class CaptureSource(FrameSource):
    """An OpenCV capture: a file, GIF, camera or stream."""

    def __init__(self, capture: cv2.VideoCapture, description: str, live: bool):
        if not capture.isOpened():
            what = "the camera" if description.startswith("camera") else "the stream"
            raise VideoSourceError(f"{description}: {what} did not open (not connected, in use, or "
                                   "no permission)")
        self.capture, self.description, self.live = capture, description, live
        self.files = [] if live else [Path(description)]
        self.camera = description.startswith("camera")
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else DEFAULT_FPS
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = None if live or count <= 0 else count
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.size = (width, height) if width > 0 and height > 0 else None
        self.grabbed = 0
        self.exhausted = False  # the capture gave no more frames (rather than the range ending)

    def reopened(self) -> FrameSource:
        if self.live:
            return super().reopened()
        return _open_video_file(Path(self.description))

    def frames(self, frame_range: FrameRange = FrameRange()) -> Iterator[Frame]:
        for _, index, timestamp in frame_range.taken(self._grabbed()):
            ok, image = self.capture.retrieve()
            if ok and image is not None and image.size:
                yield Frame(index, timestamp, image)
            else:
                yield Frame(index, timestamp, None, f"{self.description}: frame {index} could not be decoded")
        self._report_early_end()

    def _grabbed(self) -> Iterator[tuple[int, float]]:
        started, previous = time.monotonic(), -1.0
        while self.capture.grab():
            timestamp = self._timestamp(started, previous)
            previous = timestamp
            yield self.grabbed, timestamp
            self.grabbed += 1
        self.exhausted = True

    def _timestamp(self, started: float, previous: float) -> float:
        """The container's time of the frame just grabbed; the clock for cameras, and for streams
        and files whose container gives no increasing time (files: the nominal rate)."""
        stamp = -1.0 if self.camera else self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if stamp > previous:
            return stamp
        if self.live:
            return time.monotonic() - started
        return max(previous + 1.0 / self.fps, self.grabbed / self.fps)

    def _report_early_end(self) -> None:
        if not self.exhausted:
            return
        if self.live:
            warnings.warn(f"{self.description}: no more frames after {self.grabbed} (the "
                          f"{'camera' if self.camera else 'stream'} ended)")
        elif self.frame_count and self.grabbed < self.frame_count - 1:
            warnings.warn(f"{self.description}: the video ended after {self.grabbed} frames; its header "
                          f"declares {self.frame_count} (a truncated or damaged file)")

    def close(self) -> None:
        self.capture.release()
