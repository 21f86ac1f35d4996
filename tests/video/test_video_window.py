"""`--show`: the annotated frames in a resizable window, each the picture the video gets; q or Esc
ends the run with the frames so far written; without a display, one line saying what to do.

OpenCV's window functions are replaced by a stand-in for an OpenCV built with a GUI (the test
machines have none and no screen)."""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from manypose.video import Outputs, open_source, run_video
from manypose.video.pipeline import check_display

from test_run_video_behaviour import (FakeEstimator, FakeSource, drawn, frames_at, large_jpegs, lines_of, picture,
                                      videos)

__all__ = ["large_jpegs", "videos"]  # fixtures, used here by name

NO_KEY = -1  # what waitKey gives when no key was pressed meanwhile


class Screen:
    """OpenCV's window functions as on a desktop: `keys[i]` is pressed while frame i is shown."""

    def __init__(self, keys=()):
        self.windows, self.shown, self.delays = [], [], []
        self.keys = list(keys)

    def namedWindow(self, name, flags=cv2.WINDOW_AUTOSIZE):
        self.windows.append((name, flags))

    def imshow(self, name, picture):
        assert isinstance(picture, np.ndarray) and picture.ndim == 3, picture
        if name not in [window for window, _ in self.windows]:
            self.windows.append((name, cv2.WINDOW_AUTOSIZE))  # OpenCV opens a fixed-size one
        self.shown.append((name, picture.copy()))

    def waitKey(self, delay=0):
        # 0 (or None, taken as the default 0) would wait for a key at every frame
        assert isinstance(delay, int) and delay > 0, delay
        self.delays.append(delay)
        return self.keys.pop(0) if self.keys else NO_KEY


@pytest.fixture
def screen(monkeypatch):
    screen = Screen()
    for name in ("namedWindow", "imshow", "waitKey"):
        monkeypatch.setattr(cv2, name, getattr(screen, name))
    return screen


def test_check_display_opens_a_resizable_window(screen):
    check_display()
    assert screen.windows == [("manypose", cv2.WINDOW_NORMAL)]


def test_without_a_display_show_is_refused_in_one_line_that_says_what_to_do(monkeypatch):
    def no_gui(*args):
        raise cv2.error("The function is not implemented. Rebuild the library with Windows, GTK+ 2.x or Cocoa support")

    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    with pytest.raises(RuntimeError) as refused:
        check_display()
    message = str(refused.value)
    assert message.startswith("--show needs a display and OpenCV with GUI support ")
    assert "(pip install opencv-python instead of opencv-python-headless)" in message
    assert message.endswith("; write a --video-output instead") and "\n" not in message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__  # no OpenCV traceback


def test_each_frame_is_shown_in_the_window_as_the_video_gets_it(screen, videos):
    images = [picture(1, 40), picture(2, 90), picture(0, 140), picture(1, 190)]
    check_display()
    report = run_video(FakeEstimator(), FakeSource(frames_at(10, *images)), track=False,
                       outputs=Outputs("out.mp4", fps=10), show=True, progress=False)
    assert report.frames == 4 and not report.interrupted
    assert [name for name, _ in screen.shown] == ["manypose"] * 4
    assert screen.windows == [("manypose", cv2.WINDOW_NORMAL)]  # the one check_display made
    for (_, shown), written, image in zip(screen.shown, videos[0].pictures, images):
        np.testing.assert_array_equal(shown, drawn(image))
        np.testing.assert_array_equal(written, shown)
    assert len(screen.delays) == 4


def test_no_window_unless_asked(screen, tmp_path):
    report = run_video(FakeEstimator(), FakeSource(frames_at(10, picture(1, 40), picture(1, 80))), progress=False)
    assert report.frames == 2 and screen.shown == [] and screen.delays == []


@pytest.mark.parametrize("key", [ord("q"), 27, 0x100000 | ord("q")])  # q, Esc, q with NumLock on (GTK)
def test_q_or_esc_in_the_window_ends_the_run_with_the_frames_so_far_written(screen, videos, tmp_path, key):
    images = [picture(1, 30 * i) for i in range(1, 7)]
    screen.keys = [NO_KEY, ord("a"), key]  # any other key goes on
    source = FakeSource(frames_at(10, *images))
    log = tmp_path / "out.jsonl"
    report = run_video(FakeEstimator(), source, track=False, outputs=Outputs("out.mp4", log, fps=10), show=True,
                       progress=False)
    assert report.frames == 3 and not report.interrupted and source.closed
    assert len(screen.shown) == 3 and len(videos[0].pictures) == 3 and videos[0].closed
    assert [e["frame"] for e in lines_of(log)] == [0, 1, 2]


def test_the_window_shows_large_files_at_full_size_also_without_a_video(screen, estimator, large_jpegs):
    report = run_video(estimator, open_source(large_jpegs), track=False, show=True, progress=False)
    assert report.frames == len(screen.shown) == 2
    assert all(shown.shape == (1200, 1600, 3) for _, shown in screen.shown)


def test_an_unreadable_frame_repeats_the_last_picture_even_while_the_writer_lags(screen, videos, monkeypatch):
    # the picture shown for an unreadable frame was the writer thread's last, which may be older
    writes = Outputs.write
    started = threading.Event()

    def lagging(self, tracked, picture=None):
        if started.is_set():
            time.sleep(0.3)  # the writer falls behind the frames being shown
        started.set()
        writes(self, tracked, picture)

    monkeypatch.setattr(Outputs, "write", lagging)
    first, second = picture(1, 40), picture(2, 120)
    source = FakeSource(frames_at(10, first, second, None, errors={2}))
    run_video(FakeEstimator(), source, track=False, outputs=Outputs("out.mp4", fps=10), show=True, progress=False,
              on_error=lambda message: None)
    shown = [image for _, image in screen.shown]
    np.testing.assert_array_equal(shown[-1], drawn(second))
    np.testing.assert_array_equal(videos[0].pictures[-1], drawn(second))
