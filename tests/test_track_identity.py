"""Identity through occlusion: a hidden person who comes back away from where their motion
predicts is taken up again by appearance, within reach of their path; someone dressed otherwise
in the same place is not."""
import numpy as np
import pytest

from manypose.skeleton import COCO17
from manypose.track import PoseTracker, TrackerOptions

from synthetic_people import Walker, person, poses_of, sequence

RED_BLUE, GREEN_YELLOW = ((0, 0, 200), (200, 0, 0)), ((0, 200, 0), (0, 220, 220))
FPS = 10


def rendered(frames, clothes_of):
    """Each frame's picture: grey, with each visible person's box in their shirt and trousers."""
    pictures = []
    for _, poses, identities in frames:
        picture = np.full((1080, 1920, 3), 128, np.uint8)
        for box, identity in zip(poses.boxes.astype(int), identities):
            shirt, trousers = clothes_of[identity]
            middle = box[1] + (box[3] - box[1]) * 55 // 100
            picture[box[1]:middle, box[0]:box[2]] = shirt
            picture[middle:box[3], box[0]:box[2]] = trousers
        pictures.append(picture)
    return pictures


def comes_back_slower(identity_after: int):
    """Walks right at 150 px/s, hidden from 1 s to 2.5 s, back 150 px short of where that speed
    would have taken them (they slowed down behind the obstacle)."""
    before = Walker(1, (200, 300), (150, 0), leave=1.0)
    after = Walker(identity_after, (200 + 150 + 50 * 1.5, 300), (150, 0), enter=2.5)
    return sequence([before, after], seconds=3.5, fps=FPS)


def ids_before_and_after(frames, pictures, options):
    tracker = PoseTracker(COCO17, options)
    ids = [tracker.update(poses, time, picture).track_ids.tolist()
           for (time, poses, _), picture in zip(frames, pictures)]
    return ids[int(0.9 * FPS)], ids[-1]


@pytest.mark.parametrize("appearance, same_id", [(True, True), (False, False)])
def test_a_person_back_from_behind_an_obstacle_keeps_their_id_by_their_looks(appearance, same_id):
    frames = comes_back_slower(identity_after=1)
    pictures = rendered(frames, {1: RED_BLUE})
    before, after = ids_before_and_after(frames, pictures, TrackerOptions(appearance=appearance))
    assert len(before) == len(after) == 1
    assert (before == after) is same_id


def test_someone_else_in_that_place_gets_an_id_of_their_own():
    frames = comes_back_slower(identity_after=2)
    before, after = ids_before_and_after(frames, rendered(frames, {1: RED_BLUE, 2: GREEN_YELLOW}), TrackerOptions())
    assert len(before) == len(after) == 1 and before != after


def test_a_look_alike_beyond_reach_of_the_path_is_someone_else():
    far = Walker(1, (1500, 700), (0, 0), enter=2.5)
    frames = sequence([Walker(1, (200, 300), (150, 0), leave=1.0), far], seconds=3.0, fps=FPS)
    before, after = ids_before_and_after(frames, rendered(frames, {1: RED_BLUE}), TrackerOptions())
    assert before != after


def test_appearance_options_are_checked():
    with pytest.raises(ValueError, match="reid_similarity"):
        TrackerOptions(reid_similarity=1.5)
    with pytest.raises(ValueError, match="appearance must be True or False"):
        TrackerOptions(appearance="yes")


@pytest.mark.parametrize("max_inside, tracks", [(0.7, 1), (0.9, 2)])
def test_a_second_box_on_part_of_a_followed_person_starts_no_rival_track(max_inside, tracks):
    # its keypoints are off (so it is not merged as a duplicate), but 83% of its box lies
    # within the followed person's: it starts no track of its own, unless max_inside lets it
    walker = Walker(1, (200, 300), (0, 0))
    frames = sequence([walker], seconds=0.5, fps=FPS)
    tracker = PoseTracker(COCO17, TrackerOptions(confirm_frames=1, max_inside=max_inside))
    for time, poses, _ in frames[:3]:
        tracker.update(poses, time)
    keypoints, box = walker.pose(0.3, np.random.default_rng(0), 0.0)
    upper_half = box.copy()
    upper_half[3] = (box[1] + box[3]) / 2
    upper_half[0] -= 0.2 * (box[2] - box[0])
    doubled = poses_of([(keypoints, box), (keypoints + [0, 40, 0], upper_half)], [0.9, 0.8])
    assert len(doubled) == 2
    assert len(tracker.update(doubled, 0.3)) == tracks
    assert len(tracker.tracks) == tracks


def test_matching_compares_the_keypoints_as_found_not_the_smoothed_ones():
    # smoothing lags a walking person: it is for what is reported, and must not decide who is who
    frames = sequence([Walker(1, (100, 300), (300, 0))], seconds=1.0, fps=FPS, jitter=0.02, seed=3)
    tracker = PoseTracker(COCO17, TrackerOptions(smooth=True))
    for time, poses, _ in frames:
        reported = tracker.update(poses, time)
    track = tracker.tracks[0]
    found = frames[-1][1].keypoints[0]
    assert not np.allclose(reported.keypoints[0, :, :2], found[:, :2], atol=0.5)  # smoothed
    predicted, _ = track.predicted(frames[-1][0])
    assert np.allclose(predicted[:, :2], found[:, :2])


def cut_by_an_obstacle(keypoints, box, edge: float):
    """A person's keypoints and box with everything right of `edge` hidden: those keypoints
    unsure, the box ending at the edge."""
    keypoints, box = keypoints.copy(), box.copy()
    keypoints[keypoints[:, 0] > edge, 2] = 0.1
    box[2] = min(box[2], edge)
    return keypoints, box


@pytest.mark.parametrize("hidden_keypoints, speed", [(0, 150.0), (15, 75.0)])
def test_a_person_walking_behind_an_obstacle_moves_at_their_keypoints_speed(hidden_keypoints, speed):
    # 15 px right in a tenth of a second while an obstacle cuts off their front: the keypoints
    # still seen say 150 px/s, the box's centre 75; with fewer than three keypoints seen, the box decides
    keypoints, box = person((200, 300))
    moved, moved_box = cut_by_an_obstacle(keypoints + [15, 0, 0], box + [15, 0, 15, 0], edge=box[2])
    moved[np.argsort(moved[:, 0])[:hidden_keypoints], 2] = 0.1
    tracker = PoseTracker(COCO17)
    tracker.update(poses_of([(keypoints, box)], [0.9]), 0.0)
    tracker.update(poses_of([(moved, moved_box)], [0.9]), 0.1)
    np.testing.assert_allclose(tracker.tracks[0].velocity, [speed, 0], atol=1e-3)


def test_a_narrow_person_back_from_behind_a_pillar_is_within_reach_of_their_height():
    # seen last as a sliver 40 px wide and 200 tall (as large as a square of 89 px), back 0.6 s
    # later 250 px away: within reach of their height (200 x 1.6), not of the square's (143)
    frames = sequence([Walker(1, (200, 300), (0, 0), leave=1.0), Walker(1, (450, 300), (0, 0), enter=1.5)],
                      seconds=2.0, fps=FPS)
    for _, poses, _ in frames:
        poses.boxes[:, 2] = poses.boxes[:, 0] + 40
    before, after = ids_before_and_after(frames, rendered(frames, {1: RED_BLUE}), TrackerOptions())
    assert len(before) == len(after) == 1 and before == after


def upper_body(keypoints, box):
    """The part of a person above the hips, as a decoder may find it beside the whole."""
    keypoints, box = keypoints.copy(), box.copy()
    box[3] = box[1] + 0.55 * (box[3] - box[1])
    keypoints[11:, 2] = 0.1
    return keypoints, box


@pytest.mark.parametrize("part_first", [True, False])
def test_a_part_of_a_person_found_twice_is_reported_once_with_the_better_score(part_first):
    whole = person((200, 300))
    found = [upper_body(*whole), whole] if part_first else [whole, upper_body(*whole)]
    scores = [0.8, 0.3] if part_first else [0.3, 0.8]
    reported = PoseTracker(COCO17).update(poses_of(found, scores), 0.0)
    assert reported.track_ids.tolist() == [1]
    np.testing.assert_allclose(reported.boxes[0], whole[1])
    np.testing.assert_allclose(reported.keypoints[0], whole[0])
    assert reported.scores[0] == pytest.approx(0.8)


def test_a_doubtful_whole_person_with_a_sure_part_starts_a_track():
    whole = person((200, 300))
    tracker = PoseTracker(COCO17)  # 0.15 alone is below high_score: it could not start one
    reported = tracker.update(poses_of([whole, upper_body(*whole)], [0.15, 0.6]), 0.0)
    assert len(reported) == 1 and len(tracker.tracks) == 1
    np.testing.assert_allclose(reported.boxes[0], whole[1])


def test_someone_behind_another_person_is_not_taken_for_their_part():
    # a smaller box wholly inside a taller person's, with keypoints of its own
    front, behind = person((200, 300), height=240), person((205, 330), height=200)
    reported = PoseTracker(COCO17).update(poses_of([front, behind], [0.9, 0.9]), 0.0)
    assert len(reported) == 2


@pytest.mark.parametrize("inside, people", [(0.75, 2), (0.85, 1)])
def test_a_box_with_the_same_keypoints_is_a_duplicate_when_mostly_inside(inside, people):
    keypoints, box = person((200, 300))
    other = box.copy()
    other[3] = box[1] + 0.6 * (box[3] - box[1])  # the upper 60 %, shifted down so that `inside` of it is in
    other[[1, 3]] += (1 - inside) * (other[3] - other[1]) + box[3] - other[3]
    reported = PoseTracker(COCO17).update(poses_of([(keypoints, box), (keypoints, other)], [0.9, 0.5]), 0.0)
    assert len(reported) == people


def back_with_a_sliver_first(clothes_first):
    """Seen standing until 1 s, back at 1.5 s 250 px on (within reach, beyond motion), first
    dressed in `clothes_first` (as a sliver coming out from behind an obstacle looks) for three
    frames, then in their own clothes."""
    walkers = [Walker(1, (200, 300), (0, 0), leave=1.0), Walker(3, (450, 300), (0, 0), enter=1.5, leave=1.8),
               Walker(1, (450, 300), (0, 0), enter=1.8)]
    frames = sequence(walkers, seconds=2.5, fps=FPS)
    return frames, rendered(frames, {1: RED_BLUE, 3: clothes_first})


@pytest.mark.parametrize("wait, same_id", [(8, True), (0, False)])
def test_a_new_track_within_reach_of_a_lost_one_waits_for_the_looks_to_tell(wait, same_id):
    frames, pictures = back_with_a_sliver_first(GREEN_YELLOW)
    before, after = ids_before_and_after(frames, pictures, TrackerOptions(reid_wait_frames=wait))
    assert len(before) == len(after) == 1
    assert (before == after) is same_id


def first_reported(frames, pictures, options) -> int:
    """The frame from which the person who came back is reported."""
    tracker = PoseTracker(COCO17, options)
    counts = [len(tracker.update(poses, time, picture)) for (time, poses, _), picture in zip(frames, pictures)]
    return next(index for index in range(int(1.5 * FPS), len(counts)) if counts[index])


@pytest.mark.parametrize("wait", [0, 3])
def test_someone_else_within_reach_gets_their_own_id_after_the_wait(wait):
    walkers = [Walker(1, (200, 300), (0, 0), leave=1.0), Walker(2, (450, 300), (0, 0), enter=1.5)]
    frames = sequence(walkers, seconds=3.0, fps=FPS)
    pictures = rendered(frames, {1: RED_BLUE, 2: GREEN_YELLOW})
    options = TrackerOptions(reid_wait_frames=wait)
    confirm = options.confirm_frames
    assert first_reported(frames, pictures, options) == int(1.5 * FPS) + confirm - 1 + wait
    before, after = ids_before_and_after(frames, pictures, options)
    assert before != after


def test_a_newcomer_beyond_reach_of_lost_tracks_does_not_wait():
    walkers = [Walker(1, (200, 300), (0, 0), leave=1.0), Walker(2, (1500, 300), (0, 0), enter=1.5)]
    frames = sequence(walkers, seconds=2.5, fps=FPS)
    options = TrackerOptions(reid_wait_frames=8)
    assert first_reported(frames, rendered(frames, {1: RED_BLUE, 2: RED_BLUE}), options) == \
        int(1.5 * FPS) + options.confirm_frames - 1
