"""`manypose video` and `estimator.track` end to end: one output frame and one JSON line per
frame read, ids, unreadable frames, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from manypose.cli import main
from manypose.zoo import DEMO_IMAGE

from conftest import shared_path
from test_video_writers import frames_of

FAST = ["--input-size", "320", "--quiet"]


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def walking_frames(count: int, size=(480, 360)):
    """The demo astronaut sliding across a grey background."""
    person = cv2.resize(cv2.imread(str(DEMO_IMAGE)), (200, 240))
    for index in range(count):
        frame = np.full((size[1], size[0], 3), 90, np.uint8)
        x = 10 + index * (size[0] - 220) // max(count - 1, 1)
        frame[60:300, x:x + 200] = person
        yield frame


def test_the_classroom_gif_gets_every_frame_with_ids_and_its_times(tmp_path, capsys):
    gif = shared_path("data/videos/classroom.gif")
    video, log = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    assert main(["video", str(gif), "--video-output", str(video), "--json-output", str(log)] + FAST) == 0
    entries = lines_of(log)
    images, _ = frames_of(video)
    assert len(entries) == len(images) == 45 and images[0].shape == (270, 480, 3)
    assert [e["frame"] for e in entries] == list(range(45))
    source_times = [round(f.timestamp, 4) for f in __import__("manypose").video.open_source(gif).frames()]
    assert [e["timestamp"] for e in entries] == source_times
    people = [len(e["poses"]) for e in entries]
    ids = {p["track_id"] for e in entries for p in e["poses"]}
    assert max(people) >= 3 and 3 <= len(ids) <= 6  # four seated people
    assert "45 frames" in capsys.readouterr().err


def test_a_range_of_the_street_clip_in_and_out(tmp_path):
    clip = shared_path("data/videos/one-by-one-person-detection.mp4")
    video, log = tmp_path / "part.avi", tmp_path / "part.jsonl"
    assert main(["video", str(clip), "--start", "30s", "--max-frames", "12", "--frame-stride", "2",
                 "--video-output", str(video), "--json-output", str(log)] + FAST) == 0
    entries = lines_of(log)
    images, fps = frames_of(video)
    assert [e["frame"] for e in entries] == list(range(300, 324, 2)) and len(images) == 12
    assert fps == pytest.approx(5.0) and images[0].shape == (432, 768, 3)
    assert all("track_id" in p for e in entries for p in e["poses"])


def test_an_unreadable_frame_is_a_line_and_a_frame_of_its_own(tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(walking_frames(8)):
        cv2.imwrite(str(folder / f"{index:03d}.jpg"), frame)
    (folder / "003.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    video, log = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    code = main(["video", str(folder), "--fps", "8", "--video-output", str(video), "--json-output", str(log)] + FAST)
    entries = lines_of(log)
    images, fps = frames_of(video)
    assert code == 1 and len(entries) == len(images) == 8 and fps == pytest.approx(8.0)
    assert "error" in entries[3] and entries[3]["poses"] == [] and "error" not in entries[4]
    def change(a, b):
        return np.abs(images[a].astype(int) - images[b]).mean()

    assert change(3, 2) < 0.2 * change(4, 2)  # the previous picture stands in
    assert {p["track_id"] for e in entries for p in e["poses"]} == {1}  # the gap does not break the track
    err = capsys.readouterr().err
    assert "003.jpg" in err and "skipped" in err and "1 frames could not be read" in err


def test_track_on_arrays_fills_track_ids(estimator):
    tracked = list(estimator.track(walking_frames(6), fps=10))
    assert len(tracked) == 6
    assert all(p.track_ids is not None and len(p.track_ids) == len(p) for p in tracked)
    assert [int(p.track_ids[p.scores.argmax()]) for p in tracked] == [1] * 6  # the astronaut keeps id 1
    assert "track_id" in tracked[0].to_dicts()[0]


def test_the_api_tracks_as_the_command_line_does(tmp_path):
    """The same options give the same ids and keypoints, frame by frame, from Python and the CLI
    (the CLI's decoder settings for tracking are the configuration's, not its own)."""
    import manypose
    from manypose.video import FrameRange, open_source

    gif = shared_path("data/videos/classroom.gif")
    log = tmp_path / "out.jsonl"
    assert main(["video", str(gif), "--max-frames", "20", "--json-output", str(log)] + FAST) == 0
    frames = open_source(gif).frames(FrameRange(max_frames=20))
    tracked = list(manypose.load(input_size=320).track(frames))
    entries = lines_of(log)
    assert len(entries) == len(tracked) == 20 and sum(len(p) for p in tracked) > 20
    for entry, poses in zip(entries, tracked):
        assert [p["track_id"] for p in entry["poses"]] == poses.track_ids.tolist()
        cli_keypoints = np.array([p["keypoints"] for p in entry["poses"]]).reshape(-1, 17, 3)
        assert np.allclose(cli_keypoints[..., :2], poses.keypoints[..., :2], atol=0.01)


def test_without_tracking_there_are_no_ids(tmp_path):
    log = tmp_path / "out.jsonl"
    gif = shared_path("data/videos/classroom.gif")
    assert main(["video", str(gif), "--no-track", "--max-frames", "3", "--json-output", str(log)] + FAST) == 0
    entries = lines_of(log)
    assert len(entries) == 3 and entries[0]["poses"] and "track_id" not in entries[0]["poses"][0]


@pytest.mark.parametrize("arguments, message", [
    (["missing.mp4"], "missing.mp4: no such file"),
    (["99"], "camera 99: the camera did not open"),
    ([str(DEMO_IMAGE)], "still image"),
    (["CLIP", "--video-output", "out.gif"], "needs a file name ending in"),
    (["CLIP", "--show"], "--show needs a display"),
])
def test_bad_sources_and_outputs_are_one_line(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clip = str(shared_path("data/videos/classroom.gif"))
    assert main(["video"] + [clip if a == "CLIP" else a for a in arguments] + FAST) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_bad_position_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["video", "clip.mp4", "--start", "soon"])
    assert exit.value.code == 2 and "frame number (120) or seconds (4.5s)" in capsys.readouterr().err


def test_ctrl_c_finishes_the_outputs_up_to_the_last_frame(tmp_path):
    clip = shared_path("data/videos/one-by-one-person-detection.mp4")
    video, log = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    run = subprocess.Popen([sys.executable, "-m", "manypose.cli", "video", str(clip), "--video-output", str(video),
                            "--json-output", str(log)] + FAST, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"},
                           preexec_fn=_default_ctrl_c)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _growing_lines(tmp_path) < 10:
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    entries = lines_of(log)
    images, _ = frames_of(video)
    assert 10 <= len(entries) < 1394 and len(images) == len(entries)
    assert [e["frame"] for e in entries] == list(range(len(entries)))
    assert "stopped early" in err and sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.mp4"]


def _default_ctrl_c() -> None:
    """In the child: Ctrl-C as on a terminal, even when this run ignores it (a job started in the
    background or under nohup passes SIGINT ignored on, and Python then keeps ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _growing_lines(folder) -> int:
    hidden = list(folder.glob(".out.jsonl.*"))
    return len(hidden[0].read_text().splitlines()) if hidden else 0
