"""The times frames are tracked at: arrays and paths at index / fps, `Frame`s at their own
timestamps; the tracker's smoothing and velocity are in seconds, so they follow those times."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from manypose.estimator import PoseEstimator
from manypose.track import PoseTracker
from manypose.video import Frame
from manypose.video.pipeline import as_frames
from manypose.zoo import DEMO_IMAGE

STEP = 12  # pixels the astronaut moves right per frame


@pytest.fixture(scope="module")
def clip():
    """Four small frames of the demo astronaut walking right, so that smoothing shows."""
    person = cv2.resize(cv2.imread(str(DEMO_IMAGE)), (256, 256))
    frames = []
    for index in range(4):
        canvas = np.full((256, 320, 3), 114, np.uint8)
        canvas[:, index * STEP:index * STEP + 256] = person
        frames.append(canvas)
    return frames


@pytest.fixture(scope="module")
def raw_poses(estimator, clip):
    """Each frame's poses as tracking decodes them, before the tracker."""
    tracking = estimator.for_tracking()
    poses = [tracking(image) for image in clip]
    high = estimator.config.tracker.high_score
    assert [int((p.scores >= high).sum()) for p in poses] == [1] * len(clip)  # one person to track
    return poses


def tracked_by_hand(estimator, raw_poses, timestamps, clip):
    """What a PoseTracker with the estimator's options reports when fed these times (and the
    frames, for appearance) directly."""
    tracker = PoseTracker(estimator.skeleton, estimator.config.tracker, estimator.keypoint_threshold)
    return [tracker.update(poses, time, image) for poses, time, image in zip(raw_poses, timestamps, clip)]


def assert_same_tracking(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.track_ids.tolist() == b.track_ids.tolist()
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)


def test_as_frames_times_arrays_and_paths_by_position_over_fps():
    items = [np.zeros((2, 2, 3), np.uint8), "b.png", np.ones((2, 2, 3), np.uint8), "d.jpg"]
    frames = list(as_frames(items, fps=25))
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.04, 0.08, 0.12])  # 25 fps: 40 ms apart
    assert all(f.image is item and f.error is None for f, item in zip(frames, items))


def test_as_frames_keeps_frames_as_they_are():
    # a video source's frames: indices from 10, irregular times; fps plays no part
    frames = [Frame(10, 0.5, np.zeros((2, 2, 3), np.uint8)), Frame(11, 0.52, None, "unreadable")]
    assert all(a is b for a, b in zip(as_frames(frames, fps=25), frames))


@pytest.mark.parametrize("fps", [10.0, 30.0])
def test_arrays_are_tracked_at_index_over_fps(estimator, clip, raw_poses, fps):
    got = list(estimator.track(clip, fps=fps))
    assert_same_tracking(got, tracked_by_hand(estimator, raw_poses, [i / fps for i in range(len(clip))], clip))


def test_the_same_frames_at_a_lower_rate_are_smoothed_less(estimator, clip, raw_poses):
    # the One-Euro cutoff is in hertz: a longer time between frames lets a sample weigh more,
    # so the reported keypoints stay nearer the raw ones at 10 fps than at 30
    slow, fast = list(estimator.track(clip, fps=10)), list(estimator.track(clip, fps=30))
    for index in range(1, len(clip)):
        raw = raw_poses[index].keypoints[np.argmax(raw_poses[index].scores), :, :2]
        slow_lag = np.abs(slow[index].keypoints[0, :, :2] - raw).mean()
        fast_lag = np.abs(fast[index].keypoints[0, :, :2] - raw).mean()
        assert slow_lag + 0.5 < fast_lag, index


def test_the_default_rate_is_30_fps(estimator, clip, raw_poses):
    got = list(estimator.track(clip))
    assert_same_tracking(got, tracked_by_hand(estimator, raw_poses, [i / 30 for i in range(len(clip))], clip))


def test_paths_are_tracked_like_the_arrays_they_hold(estimator, clip, raw_poses, tmp_path):
    paths = []
    for index, image in enumerate(clip):
        paths.append(tmp_path / f"{index}.png")  # lossless: the same pixels as the array
        cv2.imwrite(str(paths[-1]), image)
    got = list(estimator.track(paths, fps=10))
    assert_same_tracking(got, tracked_by_hand(estimator, raw_poses, [i / 10 for i in range(len(clip))], clip))


def test_frames_are_tracked_at_their_own_timestamps_whatever_the_fps(estimator, clip, raw_poses):
    times = [0.0, 0.02, 0.3, 0.35]  # irregular, as a variable-rate video gives
    frames = [Frame(20 + i, time, image) for i, (time, image) in enumerate(zip(times, clip))]
    expected = tracked_by_hand(estimator, raw_poses, times, clip)
    for fps in (10, 30):
        assert_same_tracking(list(estimator.track(frames, fps=fps)), expected)


def test_the_tracks_velocity_is_in_pixels_per_second_of_the_frames_times(estimator, clip, raw_poses, monkeypatch):
    # the keypoints' median step times fps: the first step as it is, then a running mean with each next
    trackers = []
    new_tracker = PoseEstimator.new_tracker
    monkeypatch.setattr(PoseEstimator, "new_tracker", lambda self: trackers.append(new_tracker(self)) or trackers[-1])
    people = [p.keypoints[np.argmax(p.scores)].astype(np.float64) for p in raw_poses]  # as the tracker takes them
    threshold = estimator.keypoint_threshold

    def step(before, after):
        both = (before[:, 2] >= threshold) & (after[:, 2] >= threshold)
        return np.median(after[both, :2] - before[both, :2], axis=0)

    for fps in (10, 30):
        list(estimator.track(clip, fps=fps))
        velocity = step(people[0], people[1]) * fps
        for before, after in zip(people[1:], people[2:]):
            velocity = 0.5 * (velocity + step(before, after) * fps)
        np.testing.assert_allclose(trackers[-1].tracks[0].velocity, velocity, rtol=1e-5)
        assert velocity[0] == pytest.approx(STEP * fps, rel=0.1)  # the astronaut's own speed
