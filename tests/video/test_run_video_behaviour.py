"""What `run_video` does with a source: the frames of the range, in order, at their times; the
report's counts; unreadable frames (a JSON line with the error, the previous picture again in the
video, black before the first) so the video keeps the source's length; tracked and untracked
runs; the progress bar; the writer thread; Ctrl-C with the outputs published.

Most tests run a stand-in estimator on tiny pictures (exact, fast); those about the network's
pictures and tracking run the bundled model."""
from __future__ import annotations

import dataclasses
import json
import os
import threading
import time

import cv2
import numpy as np
import pytest

from manypose.data.images import ImageReadError
from manypose.estimator import StreamResult
from manypose.poses import Poses
from manypose.skeleton import COCO17
from manypose.video import Frame, FrameRange, FrameSource, Outputs, open_source, run_video, tracked_frames
from manypose.video import pipeline
from manypose.video.pipeline import WRITES_IN_FLIGHT, TrackedFrame
from manypose.video.sources import ImageSequence
from manypose.zoo import DEMO_IMAGE

from test_video_writers import frames_of

WIDTH, HEIGHT = 40, 24  # the stand-in pictures: not square, so width and height cannot swap unseen


def picture(people: int, shade: int) -> np.ndarray:
    """A flat picture whose first pixel's blue value says how many people the stand-in finds."""
    image = np.full((HEIGHT, WIDTH, 3), shade, np.uint8)
    image[0, 0, 0] = people
    return image


def people_in(image: np.ndarray) -> Poses:
    """The stand-in's people: person i a box at x 8i+2..8i+8 with 17 keypoints down its middle."""
    count = int(image[0, 0, 0])
    keypoints = np.zeros((count, 17, 3), np.float32)
    for person in range(count):
        keypoints[person, :, 0] = 8 * person + 5
        keypoints[person, :, 1] = np.linspace(3, 20, 17)
        keypoints[person, :, 2] = 0.9
    boxes = np.array([[8 * p + 2, 2, 8 * p + 8, 21] for p in range(count)], np.float32).reshape(-1, 4)
    return Poses(keypoints, np.full(count, 0.75, np.float32), boxes, COCO17, (image.shape[1], image.shape[0]))


class FakeTracker:
    """Numbers the people of each frame 1, 2, ... and notes the times and frames it was given."""

    def __init__(self):
        self.times, self.images = [], []

    def update(self, poses: Poses, timestamp: float, image=None) -> Poses:
        self.times.append(timestamp)
        self.images.append(image)
        return dataclasses.replace(poses, track_ids=np.arange(1, len(poses) + 1))


class FakeEstimator:
    """Stands in for a PoseEstimator: `stream` gives each image's `people_in`, in order, one at a
    time; paths are read with OpenCV, and what cannot be read is an ImageReadError."""

    skeleton = COCO17

    def __init__(self):
        self.for_tracking_asked = False
        self.trackers = []
        self.full_images = []
        self.yielded = 0

    def for_tracking(self):
        self.for_tracking_asked = True
        return self

    def new_tracker(self):
        self.trackers.append(FakeTracker())
        return self.trackers[-1]

    def stream(self, images, full_images: bool = False):
        self.full_images.append(full_images)
        for index, item in enumerate(images):
            path = item if isinstance(item, (str, os.PathLike)) else None
            image = cv2.imread(str(item), cv2.IMREAD_COLOR) if path else item
            if image is None or image.size == 0:
                yield StreamResult(index, path, None, None, ImageReadError(f"{path or 'frame'}: not an image"))
                continue
            self.yielded += 1
            yield StreamResult(index, path, image, people_in(image), None)


class FakeSource(FrameSource):
    """Frames as given, whatever the range; Ctrl-C (KeyboardInterrupt) after `interrupt_after`."""

    def __init__(self, frames, fps=10.0, size=None, description="fake source", interrupt_after=None):
        self.listed, self.fps, self.size, self.description = list(frames), fps, size, description
        self.frame_count, self.files = len(self.listed), []
        self.interrupt_after = interrupt_after
        self.closed = False

    def frames(self, frame_range=FrameRange()):
        for position, frame in enumerate(self.listed):
            if position == self.interrupt_after:
                raise KeyboardInterrupt
            yield frame

    def close(self):
        self.closed = True


def frames_at(fps: float, *images, errors=()):
    """Frames 0, 1, ... at index / fps; those in `errors` could not be decoded."""
    return [Frame(i, i / fps, None, f"clip.mp4: frame {i} could not be decoded") if i in errors
            else Frame(i, i / fps, image) for i, image in enumerate(images)]


class RecordedVideo:
    """Stands in for the VideoWriter: what was written, when, on which thread, how many at once."""

    def __init__(self, path, fps):
        self.path, self.fps = path, fps
        self.pictures, self.times, self.threads = [], [], []
        self.busy, self.most_at_once = 0, 0
        self.closed = False
        self.hold = None  # an Event the first write waits for
        self.pause = 0.0
        self.lock = threading.Lock()

    def write(self, image, timestamp):
        with self.lock:
            self.busy += 1
            self.most_at_once = max(self.most_at_once, self.busy)
        try:
            if self.hold is not None and not self.pictures:
                assert self.hold.wait(10)
            time.sleep(self.pause)
            self.pictures.append(image.copy())
            self.times.append(timestamp)
            self.threads.append(threading.current_thread())
        finally:
            with self.lock:
                self.busy -= 1

    def close(self):
        self.closed = True


@pytest.fixture
def videos(monkeypatch):
    """The videos Outputs opens, recorded instead of encoded."""
    made = []
    monkeypatch.setattr(pipeline, "VideoWriter", lambda path, fps: made.append(RecordedVideo(path, fps)) or made[-1])
    return made


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def drawn(image, track_ids=None) -> np.ndarray:
    poses = people_in(image)
    if track_ids is not None:
        poses = dataclasses.replace(poses, track_ids=np.array(track_ids))
    return poses.draw(image)


def shade(index: int) -> int:
    return 20 + 20 * index


def image_folder(folder, count: int, corrupt=()):
    """`count` lossless stand-in pictures, 1 person each, of `shade(index)`; `corrupt` ones not images."""
    folder.mkdir()
    for index in range(count):
        path = folder / f"frame{index}.png"
        if index in corrupt:
            path.write_bytes(b"\x89PNG not really")
        else:
            cv2.imwrite(str(path), picture(1, shade(index)))
    return folder


def difference(a, b) -> float:
    return float(np.abs(a.astype(int) - b).mean())


# --- frame ranges and times ----------------------------------------------------------------------

@pytest.mark.parametrize("frame_range, indices", [
    (FrameRange(start=2, end=9, stride=3), [2, 5, 8]),
    (FrameRange(start=1.0, max_frames=2), [3, 4]),      # one second in at 3 fps: frame 3
    (FrameRange(stride=4), [0, 4, 8]),
])
def test_the_frames_of_the_range_are_run_in_order_at_their_times(tmp_path, frame_range, indices):
    source = open_source(image_folder(tmp_path / "frames", 10), fps=3)
    log = tmp_path / "out.jsonl"
    report = run_video(FakeEstimator(), source, frame_range, track=False, outputs=Outputs(json_path=log),
                       progress=False)
    entries = lines_of(log)
    assert [e["frame"] for e in entries] == indices and report.frames == len(indices)
    assert [e["timestamp"] for e in entries] == [round(i / 3, 4) for i in indices]  # 1/3 s steps, to 0.1 ms
    assert all(len(e["poses"]) == 1 and "error" not in e for e in entries)


# --- the report ----------------------------------------------------------------------------------

def test_the_report_counts_frames_failures_the_most_people_and_the_ids():
    source = FakeSource(frames_at(10, picture(1, 50), picture(3, 60), None, picture(0, 70), picture(2, 80),
                                  errors={2}))
    errors = []
    before = time.perf_counter()
    report = run_video(FakeEstimator(), source, progress=False, on_error=errors.append)
    wall = time.perf_counter() - before
    assert (report.frames, report.failed, report.most_people) == (5, 1, 3)
    assert report.track_ids == {1, 2, 3} and not report.interrupted
    assert 0 < report.seconds <= wall and report.fps == pytest.approx(5 / report.seconds)
    assert errors == ["clip.mp4: frame 2 could not be decoded; skipped"]
    assert source.closed


def test_a_frame_the_source_could_not_decode_is_a_warning_by_default(tmp_path):
    source = FakeSource(frames_at(10, picture(1, 50), None, errors={1}))
    with pytest.warns(UserWarning, match="frame 1 could not be decoded; skipped"):
        report = run_video(FakeEstimator(), source, progress=False)
    assert (report.frames, report.failed) == (2, 1)


# --- JSON Lines -----------------------------------------------------------------------------------

def test_json_lines_hold_each_frames_index_time_people_and_error(tmp_path):
    frames = [Frame(7, 0.123456, picture(2, 50)), Frame(8, 0.2, None, "clip.mp4: frame 8 could not be decoded"),
              Frame(9, 1 / 3, picture(1, 60))]
    log = tmp_path / "out.jsonl"
    run_video(FakeEstimator(), FakeSource(frames), outputs=Outputs(json_path=log), progress=False,
              on_error=lambda message: None)
    entries = lines_of(log)
    assert [(e["frame"], e["timestamp"]) for e in entries] == [(7, 0.1235), (8, 0.2), (9, 0.3333)]
    assert entries[1] == {"frame": 8, "timestamp": 0.2, "poses": [],
                          "error": "clip.mp4: frame 8 could not be decoded"}
    assert "error" not in entries[0] and "error" not in entries[2]
    first, second = entries[0]["poses"]
    assert (first["track_id"], second["track_id"]) == (1, 2) and entries[2]["poses"][0]["track_id"] == 1
    assert first["box"] == [2.0, 2.0, 8.0, 21.0] and second["box"] == [10.0, 2.0, 16.0, 21.0]
    assert first["score"] == 0.75 and first["keypoints"][0] == [5.0, 3.0, 0.9]


def test_an_unreadable_file_is_a_line_naming_it_and_leaves_the_tracker_alone(tmp_path):
    folder = image_folder(tmp_path / "frames", 4, corrupt={1})
    log = tmp_path / "out.jsonl"
    estimator = FakeEstimator()
    errors = []
    report = run_video(estimator, open_source(folder, fps=4), outputs=Outputs(json_path=log), progress=False,
                       on_error=errors.append)
    entries = lines_of(log)
    assert [e["frame"] for e in entries] == [0, 1, 2, 3] and report.failed == 1
    assert entries[1]["poses"] == [] and "frame1.png" in entries[1]["error"]
    assert len(errors) == 1 and "frame1.png" in errors[0] and errors[0].endswith("; skipped")
    assert estimator.trackers[0].times == [0.0, 0.5, 0.75]  # frame 1 (at 0.25 s) never reached it


# --- the video: one picture per frame read --------------------------------------------------------

def test_unreadable_frames_repeat_the_previous_picture_and_are_black_before_the_first(videos):
    a, b = picture(1, 60), picture(2, 200)
    source = FakeSource(frames_at(10, None, None, a, None, b, errors={0, 1, 3}))  # size unknown before a picture
    report = run_video(FakeEstimator(), source, track=False, outputs=Outputs("out.mp4", fps=10), progress=False,
                       on_error=lambda message: None)
    (video,) = videos
    assert report.frames == len(video.pictures) == 5 and video.closed
    black = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for index, expected in enumerate([black, black, drawn(a), drawn(a), drawn(b)]):
        assert video.pictures[index].dtype == np.uint8
        np.testing.assert_array_equal(video.pictures[index], expected, err_msg=f"picture {index}")
    assert all(isinstance(t, float) for t in video.times) and video.times == sorted(video.times)


def test_black_frames_before_the_first_picture_keep_their_own_times(videos):
    # they were written at the first picture's time: an H.264 video lost their duration
    source = FakeSource(frames_at(10, None, None, picture(1, 60), errors={0, 1}))
    run_video(FakeEstimator(), source, track=False, outputs=Outputs("out.mp4", fps=10), progress=False,
              on_error=lambda message: None)
    assert videos[0].times == [0.0, 0.1, 0.2]


@pytest.mark.parametrize("readable_after", [0, 1])
def test_a_source_of_known_size_is_black_at_that_size_until_its_first_picture(videos, readable_after):
    images = [None, None] + [picture(1, 90)] * readable_after
    source = FakeSource(frames_at(10, *images, errors={0, 1}), size=(WIDTH, HEIGHT))
    run_video(FakeEstimator(), source, track=False, outputs=Outputs("out.mp4", fps=10, size=(WIDTH, HEIGHT)),
              progress=False, on_error=lambda message: None)
    (video,) = videos
    assert len(video.pictures) == len(images)  # also when no frame at all could be read
    for index in (0, 1):
        assert video.pictures[index].shape == (HEIGHT, WIDTH, 3) and video.pictures[index].dtype == np.uint8
        assert not video.pictures[index].any()
    assert all(isinstance(t, float) for t in video.times)


def test_a_video_file_keeps_the_sources_length_around_unreadable_files(tmp_path):
    folder = image_folder(tmp_path / "frames", 6, corrupt={0, 3})
    video, log = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    source = open_source(folder, fps=5)
    report = run_video(FakeEstimator(), source, track=False, outputs=Outputs(video, log, fps=5, size=source.size),
                       progress=False, on_error=lambda message: None)
    images, _ = frames_of(video)
    assert report.frames == len(images) == len(lines_of(log)) == 6 and report.failed == 2
    assert images[0].shape == (HEIGHT, WIDTH, 3) and images[0].max() < 10  # black before the first picture
    for index, shown in [(1, 1), (2, 2), (3, 2), (4, 4), (5, 5)]:  # frame 3: frame 2's picture again
        assert difference(images[index], drawn(picture(1, shade(shown)))) < 8, index
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "out.jsonl", "out.mp4"]


def test_outputs_write_the_picture_they_are_given_and_only_what_was_asked(tmp_path, videos, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outputs = Outputs("out.mp4")  # no JSON Lines
    image = picture(1, 100)
    shown = np.full_like(image, 7)  # e.g. the picture already drawn for the window
    outputs.write(TrackedFrame(0, 0.0, image, people_in(image), None), shown)
    outputs.write(TrackedFrame(1, 0.1, image, people_in(image), None))
    outputs.close()
    (video,) = videos
    np.testing.assert_array_equal(video.pictures[0], shown)
    np.testing.assert_array_equal(video.pictures[1], drawn(image))
    assert video.fps == 30 and video.closed  # the default rate
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_outputs_only_reports():
    report = run_video(FakeEstimator(), FakeSource(frames_at(10, picture(2, 50), picture(1, 60))), progress=False)
    assert (report.frames, report.most_people) == (2, 2)


# --- tracking ----------------------------------------------------------------------------------------

def test_runs_are_tracked_by_default_at_the_frames_times(tmp_path):
    estimator = FakeEstimator()
    log = tmp_path / "out.jsonl"
    frames = [Frame(0, 0.0, picture(2, 50)), Frame(1, 0.04, picture(1, 60)), Frame(2, 0.1, picture(2, 70))]
    run_video(estimator, FakeSource(frames), outputs=Outputs(json_path=log), progress=False)
    assert estimator.for_tracking_asked and len(estimator.trackers) == 1
    assert estimator.trackers[0].times == [0.0, 0.04, 0.1]
    assert [int(image[1, 1, 0]) for image in estimator.trackers[0].images] == [50, 60, 70]  # each its own frame
    assert [[p["track_id"] for p in e["poses"]] for e in lines_of(log)] == [[1, 2], [1], [1, 2]]


def test_untracked_runs_have_no_tracker_and_no_ids(tmp_path):
    estimator = FakeEstimator()
    log = tmp_path / "out.jsonl"
    report = run_video(estimator, FakeSource(frames_at(10, picture(2, 50))), track=False,
                       outputs=Outputs(json_path=log), progress=False)
    assert not estimator.for_tracking_asked and estimator.trackers == []
    assert report.track_ids == set() and all("track_id" not in p for p in lines_of(log)[0]["poses"])


def astronaut_frames(count: int):
    person = cv2.resize(cv2.imread(str(DEMO_IMAGE)), (256, 256))
    frames = []
    for index in range(count):
        canvas = np.full((256, 320, 3), 114, np.uint8)
        canvas[:, index * 12:index * 12 + 256] = person
        frames.append(canvas)
    return frames


def test_a_tracked_run_is_what_estimator_track_gives(estimator, tmp_path):
    images = astronaut_frames(3)
    log = tmp_path / "out.jsonl"
    report = run_video(estimator, FakeSource(frames_at(10, *images)), outputs=Outputs(json_path=log), progress=False)
    expected = list(estimator.track(images, fps=10))
    entries = lines_of(log)
    assert report.track_ids == {1} and report.most_people == max(len(p) for p in expected)
    for entry, poses in zip(entries, expected):
        assert [p["track_id"] for p in entry["poses"]] == poses.track_ids.tolist()
        np.testing.assert_allclose([p["keypoints"] for p in entry["poses"]], poses.keypoints, atol=0.01)


def test_an_untracked_run_is_what_the_estimator_finds_in_each_frame(estimator, tmp_path):
    images = astronaut_frames(2)
    log = tmp_path / "out.jsonl"
    report = run_video(estimator, FakeSource(frames_at(10, *images)), track=False, outputs=Outputs(json_path=log),
                       progress=False)
    assert report.track_ids == set()
    for entry, image in zip(lines_of(log), images):
        poses = estimator(image)
        assert all("track_id" not in p for p in entry["poses"]) and len(entry["poses"]) == len(poses)
        np.testing.assert_allclose([p["keypoints"] for p in entry["poses"]], poses.keypoints, atol=0.01)


# --- pictures to draw on: large image files are decoded reduced unless a picture is wanted ---------------

@pytest.fixture
def large_jpegs(tmp_path, estimator):
    """Two photos large enough for the estimator to decode them reduced."""
    folder = tmp_path / "large"
    folder.mkdir()
    photo = cv2.resize(cv2.imread(str(DEMO_IMAGE)), (1600, 1200))
    assert estimator.decode_reduction(1600, 1200) > 1
    for index in range(2):
        cv2.imwrite(str(folder / f"{index}.jpg"), photo)
    return folder


def test_tracked_frames_decode_large_files_reduced_unless_full_images_are_asked(estimator, large_jpegs):
    frames = [Frame(0, 0.0, large_jpegs / "0.jpg")]
    (reduced,) = tracked_frames(estimator, frames)
    (full,) = tracked_frames(estimator, frames, full_images=True)
    assert reduced.image is None and len(reduced.poses) >= 1  # people found all the same
    assert full.image.shape == (1200, 1600, 3)


def test_a_video_output_gets_full_pictures_of_large_files(estimator, large_jpegs, videos):
    report = run_video(estimator, open_source(large_jpegs), track=False, outputs=Outputs("out.mp4"), progress=False)
    (video,) = videos
    assert report.frames == len(video.pictures) == 2
    assert all(p.shape == (1200, 1600, 3) for p in video.pictures)


# --- the progress bar -----------------------------------------------------------------------------------

LONG_NAME = "/data/recordings/2024/march/the-long-afternoon-session/camera-7.mp4"


def ten_frames(tmp_path):
    folder = image_folder(tmp_path / "frames", 10)
    return ImageSequence(sorted(folder.iterdir()), LONG_NAME, 10.0)


def test_the_progress_bar_counts_frames_of_the_range_under_the_sources_last_40_characters(tmp_path, capsys):
    run_video(FakeEstimator(), ten_frames(tmp_path), FrameRange(stride=3), track=False)  # progress by default
    err = capsys.readouterr().err
    assert "4/4" in err  # frames 0, 3, 6 and 9 of 10 expected
    assert "frame/s" in err
    assert f"{LONG_NAME[-40:]}:" in err and LONG_NAME[-41:] not in err


def test_no_progress_bar_when_not_asked(tmp_path, capsys):
    report = run_video(FakeEstimator(), ten_frames(tmp_path), FrameRange(stride=3), track=False, progress=False)
    assert report.frames == 4 and capsys.readouterr().err == ""


# --- the writer thread ------------------------------------------------------------------------------------

def test_frames_are_written_one_at_a_time_in_order_on_one_writer_thread(videos):
    images = [picture(1, 10 * i) for i in range(1, 9)]
    outputs = Outputs("out.mp4", fps=10)
    outputs.video.pause = 0.01
    run_video(FakeEstimator(), FakeSource(frames_at(10, *images)), track=False, outputs=outputs, progress=False)
    (video,) = videos
    assert video.times == [i / 10 for i in range(8)] and video.most_at_once == 1
    assert len({t.ident for t in video.threads}) == 1
    assert video.threads[0] is not threading.current_thread()
    assert video.threads[0].name.startswith("manypose-writer")  # as a stack dump names it


def test_the_network_runs_at_most_a_few_frames_ahead_of_a_stalled_writer(videos):
    estimator = FakeEstimator()
    outputs = Outputs("out.mp4", fps=10)
    outputs.video.hold = threading.Event()
    source = FakeSource(frames_at(10, *[picture(1, 10 * i) for i in range(1, 13)]))
    reports = []
    run = threading.Thread(target=lambda: reports.append(run_video(estimator, source, track=False, outputs=outputs,
                                                                   progress=False)))
    run.start()
    try:
        seen, deadline = -1, time.monotonic() + 5
        while estimator.yielded != seen and time.monotonic() < deadline:
            seen = estimator.yielded
            time.sleep(0.3)
        # the frame being written, and WRITES_IN_FLIGHT more waiting for it
        assert estimator.yielded == 1 + WRITES_IN_FLIGHT
    finally:
        outputs.video.hold.set()
        run.join(10)
    assert reports[0].frames == len(videos[0].pictures) == 12


# --- Ctrl-C ------------------------------------------------------------------------------------------------

def test_ctrl_c_ends_the_run_with_the_frames_done_written_and_published(tmp_path):
    video, log = tmp_path / "out.avi", tmp_path / "out.jsonl"
    pictures = [picture(1, shade(i)) for i in range(6)]
    source = FakeSource(frames_at(10, *pictures), interrupt_after=3)
    report = run_video(FakeEstimator(), source, track=False, outputs=Outputs(video, log, fps=10), progress=False)
    assert report.interrupted is True and report.frames == 3 and source.closed
    assert [e["frame"] for e in lines_of(log)] == [0, 1, 2]
    images, _ = frames_of(video)
    assert len(images) == 3 and difference(images[2], drawn(pictures[2])) < 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.avi", "out.jsonl"]  # published, nothing left over
