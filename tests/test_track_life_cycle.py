"""A track's life cycle frame by frame: its `hits`, `missed` and state through repeated short
occlusions, the frame a gap ends it, and the frame a new or returning person is reported."""
from __future__ import annotations

import numpy as np
import pytest

from manypose.skeleton import COCO17
from manypose.track import CONFIRMED, LOST, TENTATIVE, PoseTracker, TrackerOptions

from synthetic_people import Walker, poses_of

FPS = 10.0
WALKING = Walker(1, (100, 300), (50, 0))   # 5 px a frame, also while hidden
NEWCOMER = Walker(2, (1200, 400), (-40, 0))


def frame_at(index, walkers):
    rng = np.random.default_rng(index)
    return poses_of([w.pose(index / FPS, rng, 0.0) for w in walkers], [0.9] * len(walkers))


def schedule(*runs):
    """Per frame, whether the person is seen: runs of (seen, frames)."""
    return [seen for seen, count in runs for _ in range(count)]


def run(seen_per_frame, options, walker=WALKING):
    """Per frame: the reported ids and (state, hits, missed, id) of each track kept afterwards."""
    tracker = PoseTracker(COCO17, options)
    reported, kept = [], []
    for index, seen in enumerate(seen_per_frame):
        tracked = tracker.update(frame_at(index, [walker] if seen else []), index / FPS)
        reported.append(tracked.track_ids.tolist())
        kept.append([(t.state, t.hits, t.missed, t.track_id) for t in tracker.tracks])
    return reported, kept


def expected_counters(seen_per_frame):
    """(hits, missed) after each frame for one track born in frame 0 and never dropped: hits
    count every frame seen, missed the frames unseen since it was last seen."""
    hits = missed = 0
    for seen in seen_per_frame:
        hits, missed = (hits + 1, 0) if seen else (hits, missed + 1)
        yield hits, missed


@pytest.mark.parametrize("max_lost", [1, 3])
def test_repeated_gaps_within_max_lost_frames_keep_one_id(max_lost):
    # gaps of max_lost frames, one seen frame between them: missed restarts on each return,
    # though the frames missed in all add up to several times max_lost
    seen = schedule((True, 3), *[part for _ in range(4) for part in ((False, max_lost), (True, 1))], (True, 2))
    assert seen.count(False) == 4 * max_lost
    reported, kept = run(seen, TrackerOptions(max_lost_frames=max_lost, confirm_frames=3))
    for frame, (was_seen, (hits, missed)) in enumerate(zip(seen, expected_counters(seen))):
        assert reported[frame] == ([1] if was_seen else []), frame  # back: reported at once, same id
        assert kept[frame] == [(CONFIRMED if was_seen else LOST, hits, missed, 1)], frame


@pytest.mark.parametrize("max_lost", [0, 1, 4])
def test_a_gap_of_max_lost_plus_one_frames_ends_the_track(max_lost):
    # a gap of max_lost first (kept), then one a frame longer: the track goes on the gap's last
    # frame, and the person comes back as a newcomer, reported from its second frame
    seen = schedule((True, 2), (False, max_lost), (True, 1), (False, max_lost + 1), (True, 3))
    reported, kept = run(seen, TrackerOptions(max_lost_frames=max_lost, confirm_frames=2))
    second_gap_ends = len(seen) - 3 - 1  # its last frame
    assert kept[second_gap_ends - 1] == ([(LOST, 3, max_lost, 1)] if max_lost else [(CONFIRMED, 3, 0, 1)])
    assert kept[second_gap_ends] == []
    back = second_gap_ends + 1
    assert reported[back:] == [[], [2], [2]]
    assert kept[back] == [(TENTATIVE, 1, 0, -1)] and kept[back + 1] == [(CONFIRMED, 2, 0, 2)]


@pytest.mark.parametrize("confirm", [1, 2, 3, 4])
def test_a_newcomer_is_reported_from_its_confirm_frames_th_frame(confirm):
    # the first person is reported at once; a newcomer (entering at frame 2) has hits 1 in its
    # first frame and one more per frame, and is confirmed when hits reach confirm_frames
    tracker = PoseTracker(COCO17, TrackerOptions(confirm_frames=confirm))
    for index in range(2 + confirm + 1):
        people = [WALKING] + ([NEWCOMER] if index >= 2 else [])
        ids = tracker.update(frame_at(index, people), index / FPS).track_ids.tolist()
        newcomer_hits = index - 1  # frames seen so far, this one included
        assert ids == ([1, 2] if index >= 2 and newcomer_hits >= confirm else [1]), index
        if index >= 2:
            newcomer = tracker.tracks[1]
            assert newcomer.hits == newcomer_hits
            assert newcomer.state == (CONFIRMED if newcomer_hits >= confirm else TENTATIVE)
    assert tracker.tracks[0].hits == 2 + confirm + 1


@pytest.mark.parametrize("confirm", [2, 3])
def test_a_tentative_track_missed_once_starts_over_and_ids_follow_confirmation(confirm):
    # newcomer A, seen confirm - 1 frames then missed one, is dropped; back, it needs confirm
    # frames running again; B, entering while A is away, is confirmed first and gets id 2
    a, b = Walker(3, (700, 100), (0, 0)), Walker(4, (1200, 500), (0, 0))
    a_seen = [i for i in range(1, 3 * confirm + 2) if i != confirm]
    tracker = PoseTracker(COCO17, TrackerOptions(confirm_frames=confirm))
    reported = []
    for index in range(3 * confirm + 2):
        people = [WALKING] + ([a] if index in a_seen else []) + ([b] if index >= confirm else [])
        tracked = tracker.update(frame_at(index, people), index / FPS)
        reported.append(dict(zip(np.round(tracked.boxes[:, 0]).astype(int).tolist(), tracked.track_ids.tolist())))
        if index == confirm:
            assert [round(t.box[0]) for t in tracker.tracks] == [100 + 5 * index, 1200]  # A's track is gone
    b_confirmed, a_confirmed = 2 * confirm - 1, 2 * confirm  # A back at confirm + 1
    assert [frame.get(1200) for frame in reported[confirm:]] == (
        [None] * (b_confirmed - confirm) + [2] * (len(reported) - b_confirmed))
    assert [frame.get(700) for frame in reported] == [None] * a_confirmed + [3] * (len(reported) - a_confirmed)


def test_the_first_people_seen_are_reported_at_once_even_after_empty_frames():
    # no history to wait for: the tracker is new until someone is born, not until a frame passes
    tracker = PoseTracker(COCO17, TrackerOptions(confirm_frames=3))
    for index in range(3):
        assert tracker.update(frame_at(index, []), index / FPS).track_ids.tolist() == []
    assert tracker.update(frame_at(3, [WALKING, NEWCOMER]), 0.3).track_ids.tolist() == [1, 2]


def test_a_lost_track_found_again_is_reported_at_once_and_keeps_counting_hits():
    # confirm_frames far above the frames seen after the gap: a returning person does not wait
    seen = schedule((True, 2), (False, 4), (True, 3))
    reported, kept = run(seen, TrackerOptions(confirm_frames=6, max_lost_frames=4))
    assert reported[6:] == [[1], [1], [1]]
    assert [k[0][:3] for k in kept[5:]] == [(LOST, 2, 4), (CONFIRMED, 3, 0), (CONFIRMED, 4, 0), (CONFIRMED, 5, 0)]
