"""The synthetic tracking clips (benchmarks/synthetic_clips.py): deterministic per seed, with
ground truth that agrees with the pictures."""
import json
import sys

import numpy as np
import pytest

from conftest import PROJECT_ROOT, shared_path

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))  # the benchmarks import each other by name
import synthetic_clips  # noqa: E402

SIZE = (160, 96)


@pytest.fixture(scope="module")
def cutouts():
    shared_path("data/coco-mini/annotations/person_keypoints_train2017.json")
    return synthetic_clips.load_cutouts("train")


def clip(cutouts, seed, people=4, frames=12):
    return list(synthetic_clips.generate_clip(seed, people, frames, SIZE, cutouts=cutouts))


def test_cutouts_are_whole_people_with_their_keypoints_inside(cutouts):
    assert len(cutouts) >= 10
    for cutout in cutouts:
        assert cutout.image.shape[:2] == cutout.mask.shape and cutout.mask.max() == 1
        labelled = cutout.keypoints[cutout.keypoints[:, 2] > 0, :2]
        margin = 0.05 * cutout.mask.shape[0]  # COCO's boxes leave out a keypoint now and then
        assert (labelled >= -margin).all() and (labelled <= np.array(cutout.mask.shape[::-1]) + margin).all()


def test_the_same_seed_gives_the_same_clip_and_another_seed_another(cutouts):
    first, again, other = clip(cutouts, 5), clip(cutouts, 5), clip(cutouts, 6)
    assert all((a[0] == b[0]).all() and a[1] == b[1] for a, b in zip(first, again))
    assert any(a[0].shape != b[0].shape or (a[0] != b[0]).any() for a, b in zip(first, other))


def test_truth_boxes_hold_the_visible_keypoints_and_ids_stay_in_range(cutouts):
    for picture, people in clip(cutouts, 3, people=5):
        assert picture.shape == (SIZE[1], SIZE[0], 3)
        assert len({p["id"] for p in people}) == len(people) and all(1 <= p["id"] <= 5 for p in people)
        for person in people:
            x1, y1, x2, y2 = person["box"]
            assert 0 <= x1 < x2 <= SIZE[0] and 0 <= y1 < y2 <= SIZE[1] and 0 < person["visibility"] <= 1
            visible = np.array([k[:2] for k in person["keypoints"] if k[2] == 2]).reshape(-1, 2)
            # a visible keypoint has a pixel of its person near
            assert ((visible >= [x1 - 3, y1 - 3]) & (visible <= [x2 + 3, y2 + 3])).all()


def test_keypoints_move_with_their_person_and_still_people_stay(cutouts):
    frames = clip(cutouts, 2, people=4, frames=40)
    by_id = {}
    for _, people in frames:
        for person in people:
            by_id.setdefault(person["id"], []).append(np.array(person["keypoints"])[:, :2])
    # the first quarter (id 1 of 4) stands still; the others walk part of the clip
    assert np.ptp(np.stack(by_id[1]), axis=0).max() == pytest.approx(0, abs=1e-6)
    walked = [np.abs(track[-1] - track[0]).max() for person_id, track in by_id.items() if person_id > 1]
    assert max(walked) > 10
    # a cut-out moves rigidly: all its keypoints shift alike between two frames
    for track in by_id.values():
        shifts = track[-1] - track[0]
        assert np.ptp(shifts, axis=0).max() < 2e-3


def test_write_clip_gives_a_video_and_its_truth(cutouts, tmp_path):
    import cv2

    video, truth = synthetic_clips.write_clip(tmp_path, 4, people=3, frames=6, size=SIZE, cutouts=cutouts)
    data = json.loads(truth.read_text())
    assert (data["seed"], data["size"], len(data["frames"])) == (4, list(SIZE), 6)
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    assert capture.read()[1].shape == (SIZE[1], SIZE[0], 3)
