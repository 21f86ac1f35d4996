"""Identity through occlusion: a hidden person who comes back away from where their motion
predicts is taken up again by appearance, within reach of their path; someone dressed otherwise
in the same place is not."""
import numpy as np
import pytest

from manypose.skeleton import COCO17
from manypose.track import PoseTracker, TrackerOptions

from synthetic_people import Walker, sequence

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


def test_a_second_box_on_part_of_a_followed_person_starts_no_rival_track():
    from manypose.poses import Poses

    from synthetic_people import poses_of

    walker = Walker(1, (200, 300), (0, 0))
    frames = sequence([walker], seconds=0.5, fps=FPS)
    tracker = PoseTracker(COCO17, TrackerOptions(confirm_frames=1))
    for time, poses, _ in frames[:3]:
        tracker.update(poses, time)
    keypoints, box = walker.pose(0.3, np.random.default_rng(0), 0.0)
    upper_half = box.copy()
    upper_half[3] = (box[1] + box[3]) / 2
    doubled = poses_of([(keypoints, box), (keypoints, upper_half)], [0.9, 0.8])
    assert isinstance(doubled, Poses) and len(doubled) == 2
    assert tracker.update(doubled, 0.3).track_ids.tolist() == [1]
    assert len(tracker.tracks) == 1


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
