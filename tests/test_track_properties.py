"""Property tests (hypothesis) of the tracker's options: any values are refused whole or honoured
whole, never half used: frames before a track is reported, frames an id waits, score stages,
smoothing."""
from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manypose.skeleton import COCO17
from manypose.track import PoseTracker, TrackerOptions

from synthetic_people import Walker, poses_of

ANY_VALUE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 100), st.booleans(),
                      st.sampled_from(("1", None, np.float32(0.5), np.int64(3), np.bool_(True))))
FPS = 10.0


def valid(options: TrackerOptions) -> bool:
    """The tracker's documented ranges, written out independently of its checks."""
    def number(value, low, high=math.inf, low_open=False):
        return (isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))
                and math.isfinite(value) and (value > low if low_open else value >= low) and value <= high)

    def whole(value, least):
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= least

    return (all(number(getattr(options, name), 0, 1)
                for name in ("high_score", "low_score", "min_similarity", "min_low_similarity"))
            and options.low_score <= options.high_score and whole(options.confirm_frames, 1)
            and whole(options.max_lost_frames, 0) and isinstance(options.smooth, (bool, np.bool_))
            and number(options.min_cutoff_hz, 0, low_open=True) and number(options.beta, 0))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(values=st.fixed_dictionaries({}, optional={f.name: ANY_VALUE for f in fields(TrackerOptions)}))
def test_any_option_values_are_refused_or_valid(values):
    try:
        options = TrackerOptions(**values)
    except ValueError:
        return
    assert valid(options)


def frames_of(people_per_frame):
    """[(timestamp, Poses)] from per-frame lists of (walker, score)."""
    rng = np.random.default_rng(0)
    return [(index / FPS, poses_of([walker.pose(0.0, rng, 0.0) for walker, _ in people],
                                   [score for _, score in people]))
            for index, people in enumerate(people_per_frame)]


def reported_ids(frames, options):
    """Per frame: {walker's x position: track id} of the people reported."""
    tracker = PoseTracker(COCO17, options)
    return [{round(float(box[0])): int(track_id) for box, track_id in zip(tracked.boxes, tracked.track_ids)}
            for tracked in (tracker.update(poses, time) for time, poses in frames)]


STILL = Walker(0, (100.0, 100.0), (0.0, 0.0))
NEWCOMER = Walker(1, (1200.0, 100.0), (0.0, 0.0))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(confirm=st.integers(1, 5), buffer=st.integers(0, 8), gap=st.integers(1, 12), smooth=st.booleans())
def test_confirm_frames_and_max_lost_frames_are_honoured(confirm, buffer, gap, smooth):
    """The first person seen is reported at once; a newcomer from its `confirm`-th frame; a person
    away `gap` frames keeps the id when the gap is at most `buffer`, else is a newcomer again."""
    options = TrackerOptions(confirm_frames=confirm, max_lost_frames=buffer, smooth=smooth)
    before, after = 1 + confirm, confirm + 2
    still = [[(STILL, 0.9)]] * before + [[]] * gap + [[(STILL, 0.9)]] * after
    newcomer = [[]] + [[(NEWCOMER, 0.9)]] * (len(still) - 1)
    frames = frames_of([a + b for a, b in zip(still, newcomer)])
    ids = reported_ids(frames, options)
    assert all(100 in ids[i] for i in range(before))
    newcomer_seen = [i for i, frame in enumerate(ids) if 1200 in frame]
    assert newcomer_seen == list(range(confirm, len(frames)))
    first_id, back = ids[0][100], before + gap
    returned = [i for i in range(back, len(frames)) if 100 in ids[i]]
    if gap <= buffer:
        assert returned == list(range(back, len(frames))) and {ids[i][100] for i in returned} == {first_id}
    else:
        assert returned == list(range(back + confirm - 1, len(frames)))
        assert first_id not in {ids[i][100] for i in returned}


@settings(max_examples=80, deadline=None, derandomize=True)
@given(low=st.floats(0, 1), high=st.floats(0, 1), score=st.floats(0, 1))
def test_score_stages_are_honoured(low, high, score):
    """A tracked person whose score falls to `score` stays reported while it is at least the low
    score; a newcomer scored below the high score never starts a track."""
    low, high = min(low, high), max(low, high)
    options = TrackerOptions(low_score=low, high_score=high, confirm_frames=1)
    frames = frames_of([[(STILL, high)]] * 2 + [[(STILL, score), (NEWCOMER, score)]] * 3)
    ids = reported_ids(frames, options)
    assert all(100 in frame for frame in ids[:2])
    # scores are float32: a threshold applies at their precision (1e-60 is 0 there)
    score, low, high = np.float32(score), np.float32(low), np.float32(high)
    assert all((100 in frame) == (score >= low) for frame in ids[2:])
    assert all((1200 in frame) == (score >= high) for frame in ids[2:])


@pytest.mark.parametrize("smooth", [False, True])
def test_smoothing_is_applied_exactly_when_asked(smooth):
    rng = np.random.default_rng(1)
    frames = [(i / FPS, poses_of([STILL.pose(0.0, rng, 0.02)], [0.9])) for i in range(6)]
    tracker = PoseTracker(COCO17, TrackerOptions(smooth=smooth))
    unchanged = [np.array_equal(tracker.update(poses, time).keypoints, poses.keypoints) for time, poses in frames]
    assert unchanged == [True] + [not smooth] * 5


@pytest.mark.parametrize("name, value", [("high_score", 1.5), ("low_score", -0.5), ("min_similarity", 2.0),
                                         ("min_low_similarity", float("nan")), ("confirm_frames", 0),
                                         ("max_lost_frames", -1), ("smooth", "yes"), ("min_cutoff_hz", 0.0),
                                         ("beta", -1.0)])
def test_a_refused_option_is_named_in_its_message(name, value):
    with pytest.raises(ValueError) as error:
        TrackerOptions(**{name: value})
    assert str(error.value).startswith(f"{name} must be ")
