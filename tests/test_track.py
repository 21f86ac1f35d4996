"""The tracker on synthetic sequences with known identities, and the One-Euro filter's units."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from manypose.decoders.nms import box_iou
from manypose.skeleton import COCO17
from manypose.similarity import object_keypoint_similarity, pose_similarity
from manypose.track import OneEuroFilter, PoseTracker, Track, TrackerOptions

from synthetic_people import STANDING, WIDTH, Walker, person, poses_of, sequence


def run_tracker(frames, options=None):
    """Per frame: {true identity: track id} of the people reported, and the reported poses."""
    tracker = PoseTracker(COCO17, options)
    assignments, reported = [], []
    for time, poses, identities in frames:
        tracked = tracker.update(poses, time)
        reported.append(tracked)
        assignments.append(dict(_identities(poses, identities, tracked)))
    return assignments, reported


def _identities(poses, identities, tracked):
    """Which true identity each reported track id belongs to (by the box it came with)."""
    for box, track_id in zip(tracked.boxes, tracked.track_ids):
        person = int(np.argmin(np.abs(poses.boxes - box).sum(1)))
        yield identities[person], int(track_id)


def id_switches(assignments) -> int:
    last, switches = {}, 0
    for frame in assignments:
        for identity, track_id in frame.items():
            switches += identity in last and last[identity] != track_id
            last[identity] = track_id
    return switches


def idf1(frames, options=None) -> float:
    """IDF1 (Ristani et al. 2016): true and reported identities paired one to one so that they
    share the most frames (a reported box matching a true one at IoU >= 0.5), then
    2 IDTP / (true boxes + reported boxes)."""
    tracker = PoseTracker(COCO17, options)
    shared, true_count, reported_count = {}, 0, 0
    for time, poses, identities in frames:
        tracked = tracker.update(poses, time)
        true_count, reported_count = true_count + len(poses), reported_count + len(tracked)
        if len(poses) and len(tracked):
            overlap = box_iou(poses.boxes[:, None], tracked.boxes[None])
            for row, column in zip(*linear_sum_assignment(-overlap)):
                if overlap[row, column] >= 0.5:
                    pair = (identities[row], int(tracked.track_ids[column]))
                    shared[pair] = shared.get(pair, 0) + 1
    return idf1_from_counts(shared, true_count, reported_count)


def idf1_from_counts(shared: dict, true_count: int, reported_count: int) -> float:
    true_ids = sorted({t for t, _ in shared})
    reported_ids = sorted({r for _, r in shared})
    counts = np.array([[shared.get((t, r), 0) for r in reported_ids] for t in true_ids]).reshape(
        len(true_ids), len(reported_ids))
    rows, columns = linear_sum_assignment(-counts)
    return 2 * counts[rows, columns].sum() / max(true_count + reported_count, 1)


def test_idf1_counts_an_identity_swap_and_missing_boxes():
    assert idf1_from_counts({(1, 7): 10, (2, 8): 10}, 20, 20) == 1.0
    assert idf1_from_counts({(1, 7): 5, (1, 8): 5}, 10, 10) == 0.5  # one person, two ids half each
    assert idf1_from_counts({(1, 7): 8}, 10, 8) == pytest.approx(16 / 18)


def _xywh(boxes):
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1) if len(boxes) else np.zeros((0, 4))


def crossing(**hidden):
    return [Walker(1, (100, 300), (300, 0), **hidden), Walker(2, (1300, 320), (-300, 0))]


@pytest.mark.parametrize("fps", [10, 30])
def test_two_people_crossing_keep_their_ids(fps):
    assignments, _ = run_tracker(sequence(crossing(), seconds=4, fps=fps, jitter=0.005))
    assert id_switches(assignments) == 0
    assert {frozenset(frame) for frame in assignments[1:]} == {frozenset({1, 2})}  # both reported throughout
    assert sorted({track for frame in assignments for track in frame.values()}) == [1, 2]


def test_a_person_hidden_for_ten_frames_keeps_the_id():
    walkers = crossing(hidden=[(1.0, 2.0)])  # 10 frames at 10 fps, while the other walks past
    frames = sequence(walkers, seconds=4, fps=10, jitter=0.005)
    assignments, _ = run_tracker(frames)
    hidden_frames = [i for i, (time, _, ids) in enumerate(frames) if 1 not in ids]
    assert len(hidden_frames) == 10
    assert all(1 not in assignments[i] for i in hidden_frames)
    assert id_switches(assignments) == 0
    assert sorted({track for frame in assignments for track in frame.values()}) == [1, 2]


def test_a_track_is_dropped_after_its_lost_frames_and_a_returning_person_gets_a_new_id():
    walkers = [Walker(1, (100, 300), (50, 0), hidden=[(1.0, 2.0)])]
    frames = sequence(walkers, seconds=3, fps=10)
    _, reported = run_tracker(frames, TrackerOptions(max_lost_frames=5))
    ids = [set(p.track_ids.tolist()) for p in reported]
    assert ids[9] == {1} and ids[20] == set() and ids[21] == {2}  # gone 10 frames, kept 5; a new track waits one


def test_entries_and_exits_get_ids_of_their_own():
    walkers = [Walker(1, (100, 100), (100, 0), leave=2.0), Walker(2, (900, 400), (0, 0), enter=1.0),
               Walker(3, (1400, 600), (-100, 0), enter=2.5)]
    assignments, reported = run_tracker(sequence(walkers, seconds=4, fps=10, jitter=0.005))
    assert id_switches(assignments) == 0
    owners = {}
    for frame in assignments:
        for identity, track in frame.items():
            owners.setdefault(track, set()).add(identity)
    assert all(len(identities) == 1 for identities in owners.values())
    assert len(owners) == 3
    assert len(reported[5]) == 1 and len(reported[35]) == 2


def test_new_tracks_are_reported_once_confirmed_and_the_first_frame_at_once():
    walkers = [Walker(1, (100, 100), (0, 0)), Walker(2, (900, 400), (0, 0), enter=1.0)]
    _, reported = run_tracker(sequence(walkers, seconds=2, fps=10), TrackerOptions(confirm_frames=3))
    counts = [len(p) for p in reported]
    assert counts[0] == 1 and counts[10:12] == [1, 1] and counts[12] == 2


def test_a_doubtful_detection_continues_a_track_but_never_starts_one():
    walkers = [Walker(1, (100, 100), (100, 0))]
    frames = sequence(walkers, seconds=3, fps=10, low_score_rate=0.4, seed=3)
    assignments, reported = run_tracker(frames)
    first = next(i for i, frame in enumerate(assignments) if frame)
    assert [p.scores[0] for _, p, _ in frames[first:]].count(0.2) >= 5
    assert all(1 in frame for frame in assignments[first:])  # also in the frames with score 0.2
    lonely = sequence([Walker(1, (100, 100), (0, 0), score=0.2)], seconds=1, fps=10)
    _, reported = run_tracker(lonely)
    assert sum(len(p) for p in reported) == 0


def test_idf1_on_hard_sequences(capsys):
    """Crossing with a one-second occlusion, misses, doubtful scores, strong jitter, and two
    people walking side by side, their boxes overlapping by a half; the
    figures are reported (pytest -s) and held above a floor."""
    hard = {
        "crossing, hidden 1 s, 10% missed": sequence(crossing(hidden=[(1.2, 2.2)]), 5, 10, 0.01, miss_rate=0.1),
        "crossing, 20% doubtful, jitter 3%": sequence(crossing(), 5, 30, 0.03, low_score_rate=0.2),
        "five walkers, 15% missed": sequence(
            [Walker(i, (100 + 250 * i, 100 + 120 * i), ((-1) ** i * 120, 20)) for i in range(5)], 6, 15, 0.01,
            miss_rate=0.15),
        "side by side, 30% missed, jitter 5%": sequence(
            [Walker(1, (100, 300), (150, 0)), Walker(2, (190, 310), (150, 0))], 5, 15, 0.05, miss_rate=0.3),
    }
    scores = {name: idf1(frames) for name, frames in hard.items()}
    with capsys.disabled():
        print("\nIDF1: " + "; ".join(f"{name}: {score:.3f}" for name, score in scores.items()))
    assert min(scores.values()) >= 0.85


def test_similarity_prefers_the_same_pose_to_an_overlapping_other():
    base = np.concatenate([STANDING * 200 + 100, np.full((17, 1), 0.9)], axis=1)
    box = np.array([100, 100, 180, 300.0])
    shifted = base.copy()
    shifted[:, 0] += 60  # a second person overlapping the first's box by half
    similarity = pose_similarity(base[None], box[None], np.stack([base, shifted]),
                                 np.stack([box, box + [60, 0, 60, 0]]), COCO17.sigmas, 0.5)
    assert similarity[0, 0] == pytest.approx(1.0)
    assert similarity[0, 1] < 0.5


def test_similarity_falls_back_to_box_overlap_without_shared_keypoints():
    seen = np.concatenate([STANDING * 200, np.full((17, 1), 0.9)], axis=1)
    unseen = seen.copy()
    unseen[:, 2] = 0.1
    box = np.array([0, 0, 80, 200.0])
    similarity = pose_similarity(seen[None], box[None], unseen[None], (box + [40, 0, 40, 0])[None], COCO17.sigmas, 0.5)
    assert similarity[0, 0] == pytest.approx(40 * 200 / (120 * 200))


@pytest.mark.parametrize("fps", [10, 60])
def test_one_euro_lowers_jitter_of_a_still_pose(fps):
    rng = np.random.default_rng(0)
    truth = STANDING * 200
    smoother = OneEuroFilter(min_cutoff_hz=1.0, beta=2.0)
    raw = [truth + rng.normal(0, 3, truth.shape) for _ in range(fps * 5)]
    smoothed = [smoother(x, i / fps, scale=200) for i, x in enumerate(raw)]
    raw_error = np.std(np.stack(raw[fps:]) - truth)
    smoothed_error = np.std(np.stack(smoothed[fps:]) - truth)
    assert smoothed_error < (0.6 if fps == 10 else 0.3) * raw_error  # a cutoff in Hz: more samples, more smoothing


def lag_seconds(fps: float, speed: float = 400.0) -> float:
    """How far behind a point moving at `speed` px/s the filter settles, in seconds."""
    smoother = OneEuroFilter(min_cutoff_hz=1.0, beta=2.0)
    for index in range(int(3 * fps)):
        time = index / fps
        position = np.array([speed * time, 0.0])
        filtered = smoother(position, time, scale=200)
    return float(position[0] - filtered[0]) / speed


def test_one_euro_lag_is_bounded_and_measured_in_seconds():
    """At 10 and 60 fps a moving point is followed within a tenth of a second, and the lag in
    seconds is about the same: a filter counting frames instead of seconds would lag six times
    more at 10 fps than at 60 (or smooth six times less)."""
    slow, fast = lag_seconds(10), lag_seconds(60)
    assert 0 < slow < 0.1 and 0 < fast < 0.1
    assert slow / fast == pytest.approx(1.0, abs=0.35)


def test_one_euro_smoothing_follows_the_cutoff_in_hertz():
    """A still point's jitter after a 1 Hz cutoff: the exponential filter's weight per frame is
    1 / (1 + fps / (2 pi)), whatever the rate."""
    for fps in (10, 60):
        smoother = OneEuroFilter(min_cutoff_hz=1.0, beta=0.0)
        smoother(np.zeros(1), 0.0)
        assert smoother(np.ones(1), 1 / fps)[0] == pytest.approx(1 / (1 + fps / (2 * np.pi)))


def test_tracker_options_are_checked():
    with pytest.raises(ValueError, match="low"):
        TrackerOptions(low_score=0.6, high_score=0.5)
    with pytest.raises(ValueError, match="min_cutoff_hz"):
        TrackerOptions(min_cutoff_hz=0)


def test_tracker_options_accept_their_bounds():
    # each bound is inclusive: no doubtful stage (low == high), every score doubtful (low 0),
    # only perfect scores start tracks (high 1), no waiting (confirm 1), no lost buffer (0, the
    # CLI's --track-buffer 0), a plain low-pass (beta 0)
    TrackerOptions(low_score=0.0)
    TrackerOptions(low_score=0.5, high_score=0.5)
    TrackerOptions(high_score=1.0)
    TrackerOptions(confirm_frames=1, max_lost_frames=0, reid_wait_frames=0)
    TrackerOptions(beta=0.0)


@pytest.mark.parametrize("options", [dict(high_score=1.5), dict(low_score=-0.1), dict(confirm_frames=0),
                                     dict(max_lost_frames=-1), dict(beta=-0.5), dict(min_cutoff_hz=-1.0),
                                     dict(reid_wait_frames=-1), dict(reid_wait_frames=2.5)])
def test_tracker_options_refuse_values_past_their_bounds(options):
    with pytest.raises(ValueError):
        TrackerOptions(**options)


def test_tracker_option_errors_say_what_is_expected():
    # the messages a user reads, word for word
    with pytest.raises(ValueError) as error:
        TrackerOptions(confirm_frames=0)
    assert str(error.value) == "confirm_frames must be a whole number, 1 or more, not 0"
    with pytest.raises(ValueError) as error:
        TrackerOptions(beta=-1.0)
    assert str(error.value) == "beta must be a finite number 0 or more, not -1.0"
    with pytest.raises(ValueError) as error:
        TrackerOptions(min_cutoff_hz=float("nan"))
    assert str(error.value) == "min_cutoff_hz must be a finite number more than 0, not nan"


def _alpha(cutoff_hz: float, elapsed: float) -> float:
    """The One-Euro paper's weight of a new sample: 1 / (1 + tau / T_e), tau = 1 / (2 pi f_c)."""
    return 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff_hz * elapsed))


def one_euro_by_hand(samples, times, min_cutoff_hz, beta, scale, derivative_cutoff_hz=1.0):
    """Casiez et al.'s filter on a scalar, written out sample by sample for the tests."""
    value, raw, speed = samples[0], samples[0], 0.0
    out = [value]
    for previous_time, time, sample in zip(times, times[1:], samples[1:]):
        elapsed = time - previous_time
        speed += _alpha(derivative_cutoff_hz, elapsed) * ((sample - raw) / elapsed - speed)
        value += _alpha(min_cutoff_hz + beta * abs(speed) / scale, elapsed) * (sample - value)
        raw = sample
        out.append(value)
    return out


def test_one_euro_defaults_follow_the_formula_by_hand():
    # default min cutoff 1 Hz, beta 2, derivative cutoff 1 Hz and scale 1 (speed in raw units
    # per second), on a point speeding up: 0, 1, 3 at 10 fps
    smoother = OneEuroFilter()
    times, samples = [0.0, 0.1, 0.2], [0.0, 1.0, 3.0]
    filtered = [float(smoother(np.array([x]), t)[0]) for x, t in zip(samples, times)]
    assert filtered == pytest.approx(one_euro_by_hand(samples, times, 1.0, 2.0, 1.0), rel=1e-9)
    assert filtered[1] == pytest.approx(0.8456, abs=1e-4) and filtered[2] == pytest.approx(2.8494, abs=1e-4)


def test_one_euro_smooths_the_same_in_any_unit():
    # coordinates and scale 1000 times smaller (a person 0.2 units tall in normalized
    # coordinates) give the same smoothing, 1000 times smaller: the scale has no floor at 1
    rng = np.random.default_rng(1)
    path = np.cumsum(rng.normal(0, 5, (20, 2)), axis=0) + np.arange(20)[:, None] * 8.0
    pixels, normalized = OneEuroFilter(1.0, 2.0), OneEuroFilter(1.0, 2.0)
    for index, point in enumerate(path):
        big = pixels(point, index / 10, scale=200.0)
        small = normalized(point / 1000, index / 10, scale=0.2)
        np.testing.assert_allclose(small * 1000, big, rtol=1e-9)


def test_one_euro_filters_integer_coordinates_as_floats():
    smoother = OneEuroFilter(min_cutoff_hz=1.0, beta=0.0)
    smoother([0, 0], 0.0)
    assert smoother([10, 0], 0.1) == pytest.approx([10 * _alpha(1.0, 0.1), 0.0])


def test_one_euro_restarts_on_a_repeated_timestamp():
    # a frame with the same time as the last one restarts the filter at the new sample rather
    # than dividing by a zero time step (NaN ever after)
    smoother = OneEuroFilter(min_cutoff_hz=1.0, beta=0.0)
    smoother(np.zeros(2), 0.0)
    assert smoother(np.ones(2), 0.0).tolist() == [1.0, 1.0]
    assert smoother(np.full(2, 2.0), 0.1) == pytest.approx(1 + _alpha(1.0, 0.1) * np.ones(2))


def test_a_track_predicts_along_its_velocity():
    keypoints = np.concatenate([STANDING * 200 + 100, np.full((17, 1), 0.9)], axis=1)
    box = np.array([100, 100, 180, 300.0])
    track = Track(keypoints.copy(), box.copy(), time=1.0, velocity=np.array([100.0, -50.0]))
    predicted_keypoints, predicted_box = track.predicted(1.5)  # half a second: 50 right, 25 up
    np.testing.assert_allclose(predicted_keypoints[:, :2], keypoints[:, :2] + [50, -25])
    np.testing.assert_array_equal(predicted_keypoints[:, 2], keypoints[:, 2])
    np.testing.assert_allclose(predicted_box, [150, 75, 230, 275])
    np.testing.assert_array_equal(track.keypoints, keypoints)  # the track itself stays put


def test_a_tracks_velocity_is_its_first_step_then_a_running_mean():
    # box centres at x 0, 10, 30 and y 0, 0, 10 at 10 fps: steps of 100 then 200 px/s in x and 0
    # then 100 in y; the first step has no history, later ones are averaged with it
    tracker = PoseTracker(COCO17)
    for time, corner in [(0.0, (0, 0)), (0.1, (10, 0)), (0.2, (30, 10))]:
        tracker.update(poses_of([person(corner)], [0.9]), time)
        if time == 0.1:
            np.testing.assert_allclose(tracker.tracks[0].velocity, [100, 0])
    assert len(tracker.tracks) == 1
    np.testing.assert_allclose(tracker.tracks[0].velocity, [150, 50])


def test_the_tracker_reports_keypoints_smoothed_in_person_sizes():
    # a person sliding right by 6 px in a tenth of a second: each x goes through the One-Euro
    # filter with the options' cutoff and beta and the box's size (sqrt(80 * 200)) as speed unit;
    # y and the confidences come through as they are, and the frame's fields with them
    options = TrackerOptions(min_cutoff_hz=0.5, beta=3.0)
    times, shifts = [0.0, 0.1], [0.0, 6.0]
    frames = [replace(poses_of([person((100 + shift, 100))], [0.9]), keypoint_threshold=0.3) for shift in shifts]
    tracker = PoseTracker(COCO17, options)
    reported = [tracker.update(frame, time) for frame, time in zip(frames, times)]
    expected_shifts = one_euro_by_hand(shifts, times, 0.5, 3.0, math.sqrt(80 * 200))
    assert expected_shifts[1] == pytest.approx(2.3837, abs=1e-4)  # by hand: 6 / (1 + 1 / (2 pi 0.1 x 1.049))
    raw = frames[0].keypoints
    for tracked, shift in zip(reported, expected_shifts):
        assert tracked.track_ids.tolist() == [1]
        np.testing.assert_allclose(tracked.keypoints[0, :, 0], raw[0, :, 0] + shift, atol=1e-3)
        np.testing.assert_array_equal(tracked.keypoints[0, :, 1:], raw[0, :, 1:])
    last = reported[-1]
    assert last.keypoints.dtype == np.float32  # like the frame's
    assert (last.skeleton, last.image_size, last.keypoint_threshold) == (COCO17, (1920, 1080), 0.3)


def test_the_trackers_smoothing_measures_speed_from_the_raw_keypoints():
    # 0, 6, 18 px at 10 fps: the third frame's speed is (18 - 6) / 0.1, from the raw samples,
    # as the filter's own comment says, not from the smoothed 2.38 of the second frame
    times, shifts = [0.0, 0.1, 0.2], [0.0, 6.0, 18.0]
    tracker = PoseTracker(COCO17, TrackerOptions(min_cutoff_hz=0.5, beta=3.0))
    frames = [poses_of([person((100 + shift, 100))], [0.9]) for shift in shifts]
    reported = [tracker.update(frame, time) for frame, time in zip(frames, times)]
    expected = one_euro_by_hand(shifts, times, 0.5, 3.0, math.sqrt(80 * 200))[-1]
    np.testing.assert_allclose(reported[-1].keypoints[0, :, 0], frames[0].keypoints[0, :, 0] + expected, atol=1e-3)


def test_without_smoothing_the_tracker_reports_the_keypoints_as_found():
    tracker = PoseTracker(COCO17, TrackerOptions(smooth=False))
    for index, shift in enumerate([0.0, 6.0, 18.0]):
        frame = poses_of([person((100 + shift, 100))], [0.9])
        np.testing.assert_array_equal(tracker.update(frame, index / 10).keypoints, frame.keypoints)


def test_a_frame_without_people_reports_empty_int64_track_ids():
    # like every other frame's, so that ids gathered over a video stay integers
    tracker = PoseTracker(COCO17)
    tracker.update(poses_of([person((100, 100))], [0.9]), 0.0)
    tracked = tracker.update(poses_of([], []), 0.1)
    assert tracked.track_ids.dtype == np.int64 and tracked.keypoints.shape == (0, 17, 3)


def test_a_repeated_timestamp_keeps_the_track():
    # the same frame twice with one time (a stalled video clock): no velocity from a zero time
    # step, no NaN; the person keeps the id afterwards
    tracker = PoseTracker(COCO17)
    for time, shift in [(0.0, 0), (0.0, 0), (0.1, 5), (0.2, 10)]:
        tracked = tracker.update(poses_of([person((100 + shift, 100))], [0.9]), time)
        assert tracked.track_ids.tolist() == [1]
        assert np.isfinite(tracked.keypoints).all()


def test_a_lost_track_is_kept_exactly_max_lost_frames():
    # seen in frames 0-2, then hidden: back after 3 missed frames it keeps id 1, after 4 the
    # track is gone and the person waits to be confirmed under a new id
    def run(hidden_frames):
        tracker = PoseTracker(COCO17, TrackerOptions(max_lost_frames=3))
        seen = [person((100, 100))]
        frames = [seen] * 3 + [[]] * hidden_frames + [seen] * 2
        return [tracker.update(poses_of(people, [0.9] * len(people)), index / 10).track_ids.tolist()
                for index, people in enumerate(frames)]

    assert run(3)[-2:] == [[1], [1]]
    assert run(4)[-2:] == [[], [2]]


def test_dropping_a_track_keeps_the_tracks_after_it():
    # the first-born track is dropped while the second person walks on with the same id
    tracker = PoseTracker(COCO17, TrackerOptions(max_lost_frames=1))
    ids = []
    for index in range(6):
        people = ([person((100, 100))] if index < 2 else []) + [person((800 + 5 * index, 300))]
        ids.append(tracker.update(poses_of(people, [0.9] * len(people)), index / 10).track_ids.tolist())
    assert ids == [[1, 2], [1, 2], [2], [2], [2], [2]]


def test_scores_at_the_thresholds_belong_to_the_stage_above():
    # options with thresholds exact in float32: high 0.25, low 0.125
    options = TrackerOptions(low_score=0.125, high_score=0.25)
    alone = PoseTracker(COCO17, options).update(poses_of([person((100, 100))], [0.25]), 0.0)
    assert alone.track_ids.tolist() == [1]  # exactly high_score starts a track
    for score, expected in [(0.125, [1]), (0.1, [])]:  # exactly low_score continues one, below it not
        tracker = PoseTracker(COCO17, options)
        tracker.update(poses_of([person((100, 100))], [0.9]), 0.0)
        assert tracker.update(poses_of([person((102, 100))], [score]), 0.1).track_ids.tolist() == expected


def test_a_person_at_high_score_is_matched_once():
    # two people side by side, then only the first, at exactly high_score: matched in the first
    # stage only, not again as a doubtful person to the neighbour's track
    tracker = PoseTracker(COCO17)
    tracker.update(poses_of([person((100, 100)), person((110, 100))], [0.9, 0.9]), 0.0)
    assert tracker.update(poses_of([person((100, 100))], [0.25]), 0.1).track_ids.tolist() == [1]


def test_a_doubtful_duplicate_of_a_matched_person_is_not_reported():
    # a second, doubtful detection of the same person (left over by NMS) must not take the
    # person's track a second time: one person, one id
    tracker = PoseTracker(COCO17)
    tracker.update(poses_of([person((100, 100))], [0.9]), 0.0)
    tracked = tracker.update(poses_of([person((102, 100)), person((105, 102))], [0.9, 0.15]), 0.1)
    assert tracked.track_ids.tolist() == [1] and len(tracked) == 1


def test_a_match_exactly_at_min_similarity_counts():
    # keypoints unseen, so similarity is box IoU alone: 100x100 then 50x100 overlap by exactly 0.5
    tracker = PoseTracker(COCO17, TrackerOptions(min_similarity=0.5))
    unseen = np.zeros((1, 17, 3), np.float32)
    first = replace(poses_of([person((0, 0))], [0.9]), keypoints=unseen, boxes=np.array([[0, 0, 100, 100]], np.float32))
    second = replace(first, boxes=np.array([[0, 0, 50, 100]], np.float32))
    tracker.update(first, 0.0)
    assert tracker.update(second, 0.1).track_ids.tolist() == [1]


CROUCHING = STANDING * [1.0, 0.5] + [0.0, 0.5]  # the standing figure squashed into its lower half


def test_people_whose_boxes_swap_are_told_apart_by_their_keypoints():
    # a standing and a crouching person 4 px apart trade places: by boxes alone each would take
    # the other's track; the keypoints (seen from the default threshold 0.5) keep them apart
    tracker = PoseTracker(COCO17)
    standing_first = [person((100, 100), confidence=0.5), person((104, 100), CROUCHING, confidence=0.5)]
    tracker.update(poses_of(standing_first, [0.9, 0.8]), 0.0)
    swapped = [person((100, 100), CROUCHING, confidence=0.5), person((104, 100), confidence=0.5)]
    tracked = tracker.update(poses_of(swapped, [0.8, 0.9]), 0.1)
    assert dict(zip(tracked.track_ids.tolist(), tracked.scores.tolist())) == pytest.approx({1: 0.9, 2: 0.8})


def oks_by_definition(track_keypoints, track_box, keypoints, sigmas, threshold):
    """COCO's OKS written out: the mean over keypoints seen by both of exp(-d^2 / (2 s^2 k^2)),
    s^2 the track box's area, k = 2 sigma."""
    area = (track_box[2] - track_box[0]) * (track_box[3] - track_box[1])
    terms = [math.exp(-((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) / (2 * area * (2 * sigma) ** 2))
             for a, b, sigma in zip(track_keypoints, keypoints, sigmas) if a[2] >= threshold and b[2] >= threshold]
    return sum(terms) / len(terms)


def test_oks_follows_its_definition_over_the_keypoints_both_see():
    # a track box away from the origin (80 x 200 at 100, 50), every keypoint a different
    # distance off, two unseen by one side, two exactly at the threshold (seen)
    track, track_box = person((100, 50))
    other = track.copy()
    other[:, 0] += np.arange(17) * 1.5
    other[:, 1] -= np.arange(17) * 1.0
    track[3, 2], other[4, 2] = 0.2, 0.49  # unseen
    track[5, 2], other[6, 2] = 0.5, 0.5   # seen: the threshold counts
    oks, shared = object_keypoint_similarity(track[None], track_box[None], other[None], COCO17.sigmas, 0.5)
    expected = oks_by_definition(track, track_box, other, COCO17.sigmas, 0.5)
    assert oks[0, 0] == pytest.approx(expected, rel=1e-9) and shared[0, 0]
    assert 0.3 < expected < 0.9  # a value the distances do shape


def test_one_shared_keypoint_is_enough_for_oks():
    # only the left hip seen by both, 10 px off: OKS is that keypoint's alone, and the
    # similarity the mean of it and the box IoU
    track, track_box = person((100, 50))
    other, other_box = person((110, 50))
    track[:11, 2] = other[12:, 2] = 0.1
    hip = math.exp(-100 / (2 * 80 * 200 * (2 * 0.107) ** 2))
    oks, shared = object_keypoint_similarity(track[None], track_box[None], other[None], COCO17.sigmas, 0.5)
    assert oks[0, 0] == pytest.approx(hip) and shared[0, 0]
    iou = 70 * 200 / (90 * 200)
    similarity = pose_similarity(track[None], track_box[None], other[None], other_box[None], COCO17.sigmas, 0.5)
    assert similarity[0, 0] == pytest.approx(0.5 * (hip + iou))


def test_oks_of_a_box_under_a_pixel_takes_an_area_of_one():
    # a person seen as a point (a 0 x 0 box) is scaled as one square pixel, a box of 1.5 square
    # pixels by its own area; the nose alone seen by both, 0.05 px off
    track = np.zeros((17, 3))
    track[0] = (10.0, 10.0, 1.0)
    other = track.copy()
    other[0, 0] += 0.05
    boxes = np.array([[10.0, 10.0, 10.0, 10.0], [10.0, 10.0, 11.5, 11.0]])
    oks, shared = object_keypoint_similarity(np.stack([track, track]), boxes, other[None], COCO17.sigmas, 0.5)
    k2 = (2 * 0.026) ** 2
    assert oks[:, 0] == pytest.approx([math.exp(-0.0025 / (2 * 1.0 * k2)), math.exp(-0.0025 / (2 * 1.5 * k2))])
    assert shared.all()
