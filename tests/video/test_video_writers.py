"""The annotated video and the JSON Lines log: formats, sizes, timing, publication."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from manypose.video.writers import JsonLinesWriter, VideoWriter


def frames_of(path):
    capture = cv2.VideoCapture(str(path))
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            return images, capture.get(cv2.CAP_PROP_FPS)
        images.append(image)


def gradient(shape, shift: int):
    height, width = shape
    return np.uint8((np.add.outer(np.arange(height), np.arange(width)) * 2 + shift) % 256)[..., None].repeat(3, 2)


@pytest.mark.parametrize("name, codec", [("out.mp4", "H.264"), ("out.mkv", "H.264"),
                                         ("out.avi", "MPEG-4 (OpenCV)")])
def test_videos_keep_size_rate_and_frame_count(tmp_path, name, codec):
    pytest.importorskip("av")
    writer = VideoWriter(tmp_path / name, fps=12.5)
    for index in range(15):
        writer.write(gradient((96, 128), index * 8), index / 12.5)
    writer.close()
    assert writer.codec == codec
    images, fps = frames_of(tmp_path / name)
    assert len(images) == 15 and images[0].shape == (96, 128, 3) and fps == pytest.approx(12.5, abs=0.01)
    assert np.abs(images[7].astype(int) - gradient((96, 128), 56)).mean() < 6  # the picture, not noise
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_h264_keeps_variable_frame_times(tmp_path):
    av = pytest.importorskip("av")
    times = [0.0, 0.07, 0.13, 0.2, 0.27, 0.33, 0.5, 0.56]
    writer = VideoWriter(tmp_path / "vfr.mp4", fps=15)
    for index, time in enumerate(times):
        writer.write(gradient((48, 64), index * 20), time)
    writer.close()
    with av.open(str(tmp_path / "vfr.mp4")) as container:
        stamps = [float(frame.time) for frame in container.decode(video=0)]
    assert np.allclose(stamps, times, atol=0.002)


def test_odd_sizes_get_an_edge_more_and_other_sizes_are_scaled(tmp_path):
    pytest.importorskip("av")
    writer = VideoWriter(tmp_path / "odd.mp4", fps=10)
    writer.write(gradient((47, 63), 0), 0.0)
    with pytest.warns(UserWarning, match="scaled to 63x47"):
        writer.write(cv2.resize(gradient((47, 63), 0), (126, 94)), 0.1)
    writer.close()
    images, _ = frames_of(tmp_path / "odd.mp4")
    assert [i.shape for i in images] == [(48, 64, 3)] * 2
    assert np.abs(images[1][:47, :63].astype(int) - gradient((47, 63), 0)).mean() < 8


def test_nothing_is_published_without_frames_and_unknown_formats_are_refused(tmp_path):
    VideoWriter(tmp_path / "none.mp4", fps=10).close()
    JsonLinesWriter(tmp_path / "none.jsonl").close()
    assert list(tmp_path.iterdir()) == []  # no empty file, no temporary left
    with pytest.raises(ValueError, match=r"\.avi"):
        VideoWriter(tmp_path / "out.gif", fps=10)
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(OSError, match="is a directory"):
        VideoWriter(tmp_path / "folder.mp4", fps=10)


def test_json_lines_appear_complete_under_their_name_when_closed(tmp_path):
    target = tmp_path / "log.jsonl"
    target.write_text("the previous run\n")
    writer = JsonLinesWriter(target)
    writer.write({"frame": 0})
    writer.write({"frame": 1, "poses": []})
    assert target.read_text() == "the previous run\n"  # until closed
    writer.close()
    assert [json.loads(line) for line in target.read_text().splitlines()] == [{"frame": 0}, {"frame": 1, "poses": []}]


def test_opencv_says_when_it_cannot_keep_a_varying_rate(tmp_path):
    writer = VideoWriter(tmp_path / "out.avi", fps=10)
    with pytest.warns(UserWarning, match="frame rate varies"):
        for time in (0.0, 0.1, 0.2, 0.5, 0.6):
            writer.write(np.zeros((48, 64, 3), np.uint8), time)
    writer.close()
