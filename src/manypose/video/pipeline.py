"""A video run: frames in, tracked poses out, one output frame and one JSON line per frame read.

Three things overlap: a reader thread decodes the next frames, the estimator runs the network
(its own reader prepares the next input meanwhile), and a writer thread draws and encodes the
frames already done. Ctrl-C stops reading; the frames already run are written and the outputs
finished and published.
"""
from __future__ import annotations

import queue
import threading
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, NamedTuple, Optional

import cv2
import numpy as np
from tqdm import tqdm

from ..poses import Poses
from ..track_offline import OfflineOptions, refine_tracks
from .sources import Frame, FrameRange, FrameSource
from .writers import JsonLinesWriter, VideoWriter

UNREADABLE = np.zeros((0, 0, 3), np.uint8)  # stands in for a frame that failed to decode
READ_AHEAD = 8          # decoded frames waiting for the network
WRITES_IN_FLIGHT = 4    # finished frames waiting to be drawn and encoded
WINDOW = "manypose"
QUIT_KEYS = (ord("q"), 27)


class TrackedFrame(NamedTuple):
    index: int
    timestamp: float
    image: Optional[np.ndarray]
    poses: Poses
    error: Optional[str]

    def to_dict(self) -> dict:
        entry = {"frame": self.index, "timestamp": round(self.timestamp, 4), "poses": self.poses.to_dicts()}
        if self.error:
            entry["error"] = self.error
        return entry


def as_frames(items: Iterable, fps: float) -> Iterator[Frame]:
    """Frames from `Frame`s as they are, or from images (BGR arrays or paths) at `fps`."""
    for index, item in enumerate(items):
        yield item if isinstance(item, Frame) else Frame(index, index / fps, item)


def tracked_frames(estimator, frames: Iterable[Frame], tracker=None, full_images: bool = False) -> Iterator[TrackedFrame]:
    """The estimator's poses of each frame, in order, through `tracker.update` when given.
    Frames that cannot be read give no people and their error, and leave the tracker as it was.
    Large image files are decoded reduced (no picture to draw on) unless `full_images`."""
    waiting = deque()

    def images():
        for frame in frames:
            waiting.append(frame)
            yield UNREADABLE if frame.error else frame.image

    for result in estimator.stream(images(), full_images):
        frame = waiting.popleft()
        error = frame.error or (str(result.error) if result.error else None)
        if error:
            yield TrackedFrame(frame.index, frame.timestamp, None, Poses.empty(estimator.skeleton), error)
            continue
        poses = result.poses if tracker is None else tracker.update(result.poses, frame.timestamp, result.image)
        yield TrackedFrame(frame.index, frame.timestamp, result.image, poses, None)


def offline_tracked(estimator, frames: Iterable[Frame], options: OfflineOptions = OfflineOptions(),
                    progress=None) -> list[TrackedFrame]:
    """Every frame tracked, then the whole recording refined (see manypose.track_offline): the
    frames' poses are held, not their pictures. `progress` is called once per frame tracked.
    The online One-Euro filter stays off: the refinement smooths both ways, without its lag."""
    tracker = estimator.reconfigured(tracker=replace(estimator.config.tracker, smooth=False)).new_tracker()
    tracked = []
    for frame in tracked_frames(estimator, frames, tracker):
        tracked.append(frame._replace(image=None))
        if progress:
            progress()
    refined = refine_tracks([t.poses for t in tracked], [t.timestamp for t in tracked], tracker.appearances, options)
    return [frame._replace(poses=poses) for frame, poses in zip(tracked, refined)]


def read_ahead(items: Iterable, depth: int = READ_AHEAD) -> Iterator:
    """`items`, produced on a thread of its own up to `depth` ahead (video decoding overlaps the
    network). Closing the iterator stops the thread."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("end", done))
        except BaseException as error:  # handed to the consumer, raised there
            buffer.put(("error", error))

    thread = threading.Thread(target=produce, name="manypose-frame-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = buffer.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass
class VideoReport:
    frames: int = 0                 # frames read and written
    failed: int = 0                 # of them, frames that could not be read
    most_people: int = 0            # the most people in one frame
    track_ids: set = field(default_factory=set)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def add(self, tracked: TrackedFrame) -> None:
        self.frames += 1
        self.failed += tracked.error is not None
        self.most_people = max(self.most_people, len(tracked.poses))
        if tracked.poses.track_ids is not None:
            self.track_ids.update(int(i) for i in tracked.poses.track_ids)


class Outputs:
    """The annotated video and the JSON Lines log of a run. A frame that could not be read
    repeats the previous picture in the video (black before the first), so the video keeps the
    source's length and timing."""

    def __init__(self, video_path=None, json_path=None, fps: float = 30.0, size=None):
        self.video = VideoWriter(video_path, fps) if video_path else None
        self.json = JsonLinesWriter(json_path) if json_path else None
        self.size = size
        self.previous: Optional[np.ndarray] = None
        self.blanks: list[float] = []  # times of the unreadable frames before the first picture, written once its size is known

    def drawn(self, tracked: TrackedFrame) -> Optional[np.ndarray]:
        if tracked.image is None:
            return self.previous
        return tracked.poses.draw(tracked.image)

    def write(self, tracked: TrackedFrame, picture: Optional[np.ndarray] = None) -> None:
        if self.json:
            self.json.write(tracked.to_dict())
        if self.video:
            self._write_picture(tracked, picture if picture is not None else self.drawn(tracked))

    def _write_picture(self, tracked: TrackedFrame, picture: Optional[np.ndarray]) -> None:
        if picture is None and self.size is None:
            self.blanks.append(tracked.timestamp)
            return
        if picture is None:
            picture = np.zeros((self.size[1], self.size[0], 3), np.uint8)
        for timestamp in self.blanks:  # each black frame at its own time: the video keeps the source's timing
            self.video.write(np.zeros_like(picture), timestamp)
        self.blanks = []
        self.video.write(picture, tracked.timestamp)
        self.previous = picture

    def close(self) -> None:
        """Finish and publish both; each is closed even when the other fails."""
        try:
            if self.video:
                self.video.close()
        finally:
            if self.json:
                self.json.close()


def check_display() -> None:
    """`--show` needs a screen and an OpenCV built with a GUI (not opencv-python-headless)."""
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        raise RuntimeError("--show needs a display and OpenCV with GUI support (pip install opencv-python "
                           "instead of opencv-python-headless); write a --video-output instead") from None


def run_video(estimator, source: FrameSource, frame_range: FrameRange = FrameRange(), track: bool = True,
              outputs: Optional[Outputs] = None, show: bool = False, progress: bool = True,
              on_error=None, report: Optional[VideoReport] = None,
              offline: Optional[OfflineOptions] = None) -> VideoReport:
    """Run the estimator over the source's frames in the range, tracking people as
    `estimator.track` does when `track`, writing each frame to the outputs. Frames that cannot
    be read are passed to `on_error` (a message; default: a warning). Returns what was done (in
    `report` where given, which another thread may watch grow); Ctrl-C ends the run early with
    the outputs finished. With `offline` options, the recording is tracked whole first, refined
    (manypose.track_offline), then read again to draw: files and image sequences only."""
    started = time.perf_counter()
    outputs = outputs or Outputs()
    report = report if report is not None else VideoReport()
    if track:
        estimator = estimator.for_tracking()
    expected = frame_range.expected(source.frame_count, source.fps)
    if offline is not None:
        source, frames, results = _offline_results(estimator, source, frame_range, offline, outputs, expected, progress)
    else:
        frames = read_ahead(source.frames(frame_range))
        results = tracked_frames(estimator, frames, estimator.new_tracker() if track else None,
                                 full_images=bool(outputs.video) or show)
    bar = tqdm(total=expected, unit="frame", desc=source.description[-40:], disable=not progress,
               dynamic_ncols=True)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="manypose-writer") as writer:
            _write_all(results, outputs, writer, report, bar, show, on_error or warnings.warn)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        results.close()
        frames.close()
        bar.close()
        report.seconds = time.perf_counter() - started
        source.close()
        outputs.close()
    return report


def _offline_results(estimator, source: FrameSource, frame_range: FrameRange, options: OfflineOptions,
                     outputs: Outputs, expected, progress: bool):
    """The source and the frames' reader to close at the end, and the refined frames, with the
    pictures of a second reading where a video is written."""
    with tqdm(total=expected, unit="frame", desc="tracking", disable=not progress, dynamic_ncols=True) as bar:
        refined = offline_tracked(estimator, read_ahead(source.frames(frame_range)), options, bar.update)
    if not outputs.video:
        return source, read_ahead(()), (frame for frame in refined)
    source.close()
    again = source.reopened()
    pictures = read_ahead(again.frames(frame_range))
    return again, pictures, (frame._replace(image=picture.image) for frame, picture in zip(refined, pictures))


def _write_all(results, outputs: Outputs, writer: ThreadPoolExecutor, report: VideoReport, bar,
               show: bool, on_error) -> None:
    """Hand each finished frame to the writer thread, until the end or the user quits the window."""
    pending, shown = deque(), None
    try:
        for tracked in results:
            if tracked.error:
                on_error(f"{tracked.error}; skipped")
            # shown: the last picture drawn here (the writer thread's may lag behind)
            picture = (shown if tracked.image is None else outputs.drawn(tracked)) if show else None
            shown = picture
            pending.append(writer.submit(outputs.write, tracked, picture))
            report.add(tracked)
            bar.update()
            if show and picture is not None and _shown_and_quit(picture):
                return
            while len(pending) > WRITES_IN_FLIGHT:
                pending.popleft().result()
    finally:
        for write in pending:  # frames already run are written, also on Ctrl-C
            write.result()


def _shown_and_quit(picture: np.ndarray) -> bool:
    cv2.imshow(WINDOW, picture)
    return cv2.waitKey(1) & 0xFF in QUIT_KEYS
