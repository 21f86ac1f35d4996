"""Frame sources: files, GIFs, image sequences, cameras and streams; frame ranges; clear errors."""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from manypose.video import FrameRange, VideoSourceError, open_source, parse_position

from conftest import shared_path


def write_frames(folder, count: int, size=(64, 48)) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"frame{index}.png"
        cv2.imwrite(str(path), np.full((size[1], size[0], 3), index * 10 % 256, np.uint8))
        paths.append(path)
    return paths


def write_video(path, count: int, fps: float = 10.0, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(count):
        writer.write(np.full((size[1], size[0], 3), index * 5 % 256, np.uint8))
    writer.release()
    return path


def test_a_folder_is_read_in_natural_order_at_the_given_rate(tmp_path):
    write_frames(tmp_path / "seq", 12)
    frames = list(open_source(tmp_path / "seq", fps=4).frames())
    assert [f.image.name for f in frames[:3]] + [frames[-1].image.name] == \
        ["frame0.png", "frame1.png", "frame2.png", "frame11.png"]
    assert [f.timestamp for f in frames[:3]] == [0.0, 0.25, 0.5]


def test_a_glob_takes_the_matching_files(tmp_path):
    write_frames(tmp_path, 5)
    (tmp_path / "notes.txt").write_text("not a frame")
    frames = list(open_source(str(tmp_path / "frame*.png")).frames())
    assert len(frames) == 5 and frames[1].timestamp == pytest.approx(1 / 30)


def test_a_video_file_gives_its_frames_with_container_times(tmp_path):
    source = open_source(write_video(tmp_path / "clip.mp4", 20, fps=10))
    frames = list(source.frames())
    assert (source.frame_count, source.fps, source.size, source.live) == (20, 10.0, (64, 48), False)
    assert [f.index for f in frames] == list(range(20))
    assert np.allclose([f.timestamp for f in frames], np.arange(20) / 10)
    assert frames[0].image.shape == (48, 64, 3)


def test_a_gif_keeps_its_variable_frame_times():
    gif = shared_path("data/videos/classroom.gif")
    frames = list(open_source(gif).frames())
    steps = np.round(np.diff([f.timestamp for f in frames]), 3)
    assert len(frames) == 45 and frames[0].image.shape == (270, 480, 3)
    assert set(steps) == {0.06, 0.07}  # the GIF's own delays, not a nominal rate


@pytest.mark.parametrize("frame_range, expected", [
    (FrameRange(start=5), list(range(5, 20))),
    (FrameRange(start=5, end=9), [5, 6, 7, 8]),
    (FrameRange(start=0.5, end=1.0), [5, 6, 7, 8, 9]),          # seconds
    (FrameRange(start=2, stride=5), [2, 7, 12, 17]),
    (FrameRange(stride=3, max_frames=4), [0, 3, 6, 9]),
])
def test_frame_ranges_take_what_they_say_and_expect_as_many(tmp_path, frame_range, expected):
    source = open_source(write_video(tmp_path / "clip.mp4", 20, fps=10))
    assert [f.index for f in source.frames(frame_range)] == expected
    assert frame_range.expected(20, 10.0) == len(expected)


def test_positions_are_frames_or_seconds():
    assert parse_position("120") == 120 and parse_position("4.5s") == 4.5
    with pytest.raises(ValueError, match="frame number"):
        parse_position("soon")
    with pytest.raises(ValueError, match="stride"):
        FrameRange(stride=0)


def test_a_truncated_video_ends_with_a_warning(tmp_path):
    data = shared_path("data/videos/one-by-one-person-detection.mp4").read_bytes()  # its index comes first
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) // 4])
    with pytest.warns(UserWarning, match="ended after .* its header declares 1394"):
        frames = list(open_source(truncated).frames())
    assert 100 < len(frames) < 1394


def test_a_truncated_video_without_its_index_is_refused(tmp_path):
    data = write_video(tmp_path / "clip.mp4", 50).read_bytes()  # OpenCV writes the index last
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoSourceError, match="corrupt"):
        open_source(tmp_path / "cut.mp4")


def test_the_end_of_a_stream_is_said(tmp_path):
    url = f"file://{write_video(tmp_path / 'clip.mp4', 5)}"
    source = open_source(url)
    assert source.live and source.frame_count is None
    with pytest.warns(UserWarning, match="no more frames after 5 .the stream ended"):
        assert len(list(source.frames())) == 5


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: _written(d / "empty.mp4", b""), "empty file"),
    (lambda d: _written(d / "noise.mp4", bytes(range(256)) * 8), "not a video"),
    (lambda d: _written(d / "photo.jpg", b"\xff\xd8"), "still image"),
    (lambda d: (d / "nothing").mkdir() or d / "nothing", "no images"),
    (lambda d: str(d / "*.png"), "no files match"),
])
def test_unreadable_sources_are_refused_with_a_reason(tmp_path, make, message):
    with pytest.raises(VideoSourceError, match=message):
        open_source(make(tmp_path))


def test_a_camera_that_does_not_open_says_so():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(VideoSourceError, match="camera 99: the camera did not open"):
            open_source("99")


def _written(path, data: bytes):
    path.write_bytes(data)
    return path
