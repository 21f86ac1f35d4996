"""Offline refinement of a tracked recording: tracks broken by occlusion joined by looks and
heading, absences filled in on the line between sightings, paths smoothed without lag."""
import numpy as np
import pytest

from manypose.poses import Poses
from manypose.skeleton import COCO17
from manypose.track_offline import OfflineOptions, refine_tracks

from synthetic_people import STANDING, WIDTH

FPS = 10
RED, GREEN = np.zeros(8), np.zeros(8)
RED[0], GREEN[5] = 1.0, 1.0


def person_at(x: float, y: float = 100.0, height: float = 100.0, confidence: float = 0.9):
    keypoints = np.concatenate([np.array([x, y]) + STANDING * height, np.full((17, 1), confidence)], axis=1)
    return keypoints, np.array([x, y, x + WIDTH * height, y + height])


def recording(sightings: dict, frames: int):
    """Poses per frame from {track id: {frame: x}}: a person of that id at x."""
    recorded = []
    for frame in range(frames):
        present = [(track_id, person_at(xs[frame])) for track_id, xs in sightings.items() if frame in xs]
        if not present:
            recorded.append(Poses.empty(COCO17, (1000, 500)))
            continue
        recorded.append(Poses(np.stack([k for _, (k, _) in present]).astype(np.float32), np.full(len(present), 0.9, np.float32),
                              np.stack([b for _, (_, b) in present]).astype(np.float32), COCO17, (1000, 500),
                              track_ids=np.array([i for i, _ in present])))
    return recorded, [frame / FPS for frame in range(frames)]


def ids(refined):
    return [poses.track_ids.tolist() for poses in refined]


def walking(track_frames, speed=10.0, start=100.0):
    return {frame: start + speed * frame for frame in track_frames}


def test_a_track_broken_by_an_obstacle_is_joined_and_its_absence_filled_in():
    frames, times = recording({1: walking(range(0, 10)), 2: walking(range(18, 30))}, 30)
    refined = refine_tracks(frames, times, {1: RED, 2: RED})
    assert ids(refined) == [[1]] * 30
    filled = refined[14]
    assert filled.interpolated.tolist() == [True] and not refined[9].interpolated.any()
    assert filled.boxes[0, 0] == pytest.approx(100 + 10 * 14, abs=0.5)  # on the line between the sightings


def test_tracks_that_look_otherwise_or_are_out_of_reach_stay_apart():
    frames, times = recording({1: walking(range(0, 10)), 2: walking(range(18, 30))}, 30)
    assert ids(refine_tracks(frames, times, {1: RED, 2: GREEN}))[20] == [2]
    far, times = recording({1: walking(range(0, 10)), 2: walking(range(18, 30), start=700)}, 30)
    assert ids(refine_tracks(far, times, {1: RED, 2: RED}))[20] == [2]


def test_a_narrow_person_is_joined_within_reach_of_their_height():
    # last seen as a sliver 10 px wide and 100 tall (as large as a square of 32 px), back 0.9 s
    # later 120 px on: within reach of their height (100 x 1.9), not of the square's (60)
    frames, times = recording({1: walking(range(0, 10), speed=0), 2: walking(range(19, 30), speed=0, start=220)}, 30)
    for poses in frames[:10]:
        poses.boxes[:, 2] = poses.boxes[:, 0] + 10
    assert ids(refine_tracks(frames, times, {1: RED, 2: RED}))[20] == [1]


def test_two_people_hidden_together_are_joined_each_to_their_own_continuation():
    # 1 walks right, 3 walks left; hidden together; 2 and 4 come out on their headings
    sightings = {1: walking(range(0, 8), 10, 100), 3: walking(range(0, 8), -10, 600),
                 2: walking(range(14, 24), 10, 100), 4: walking(range(14, 24), -10, 600)}
    frames, times = recording(sightings, 24)
    refined = refine_tracks(frames, times, {1: RED, 2: RED, 3: RED, 4: RED})  # alike: heading decides
    at_end = dict(zip(refined[-1].track_ids.tolist(), refined[-1].boxes[:, 0].round().tolist()))
    assert at_end == {1: 100 + 10 * 23, 3: 600 - 10 * 23}  # each went on their way, through the other


def test_long_absences_are_not_filled_and_weak_keypoints_stay_weak():
    frames, times = recording({1: walking(list(range(0, 10)) + list(range(25, 30)))}, 30)
    refined = refine_tracks(frames, times, {1: RED}, OfflineOptions(max_interpolated_seconds=1.0))
    assert ids(refined)[15] == [] and ids(refined)[25] == [1]
    frames, times = recording({1: walking([0, 1, 2, 4])}, 5)
    frames[4].keypoints[0, 3, 2] = 0.1
    assert refine_tracks(frames, times, {1: RED})[3].keypoints[0, 3, 2] == pytest.approx(0.1)


def test_smoothing_takes_out_jitter_without_lag():
    rng = np.random.default_rng(0)
    frames, times = recording({1: walking(range(0, 40))}, 40)
    truth = [poses.keypoints.copy() for poses in frames]
    for poses in frames:
        poses.keypoints[..., :2] += rng.normal(0, 2.0, poses.keypoints[..., :2].shape).astype(np.float32)
    smoothed = refine_tracks(frames, times, {1: RED})
    raw_error = np.mean([np.abs(f.keypoints[..., :2] - t[..., :2]).mean() for f, t in zip(frames, truth)])
    error = np.mean([np.abs(s.keypoints[..., :2] - t[..., :2]).mean() for s, t in zip(smoothed, truth)])
    lag = np.mean([(s.keypoints[..., 0] - t[..., 0]).mean() for s, t in zip(smoothed[5:-5], truth[5:-5])])
    assert error < 0.75 * raw_error and abs(lag) < 0.3
    unsmoothed = refine_tracks(frames, times, {1: RED}, OfflineOptions(smoothing_hz=0))
    assert np.array_equal(unsmoothed[10].keypoints, frames[10].keypoints)


def test_options_are_checked():
    with pytest.raises(ValueError, match="min_link_looks"):
        OfflineOptions(min_link_looks=2)
