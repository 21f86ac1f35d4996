import json
import warnings

import numpy as np
import pytest

from manypose import skeleton
from manypose.skeleton import COCO17, CROWDPOSE14, OPENPOSE18, Skeleton

from conftest import shared_path


def test_coco17_flip_map_swaps_left_and_right():
    for i, name in enumerate(COCO17.keypoints):
        mirrored = COCO17.keypoints[COCO17.flip[i]]
        assert mirrored == name.replace("left", "@").replace("right", "left").replace("@", "right")
    assert COCO17.flip[COCO17.index("nose")] == COCO17.index("nose")


def test_coco17_matches_the_official_category(dev_annotations):
    category = json.loads(dev_annotations.read_text())["categories"][0]
    from_file = Skeleton.from_coco_category(category)
    assert from_file.keypoints == COCO17.keypoints
    assert set(from_file.edges) == set(COCO17.edges)
    assert from_file.sigmas == COCO17.sigmas


@pytest.mark.parametrize("keypoint_set", [COCO17, OPENPOSE18, CROWDPOSE14])
def test_builtin_sets_are_consistent(keypoint_set):
    n = len(keypoint_set)
    assert len(keypoint_set.sigmas) == n and len(keypoint_set.flip) == n
    assert sorted(keypoint_set.flip) == list(range(n)), "the flip map is a permutation"
    assert all(keypoint_set.flip[keypoint_set.flip[i]] == i for i in range(n)), "flipping twice is identity"
    assert len(keypoint_set.edge_colours) == len(keypoint_set.edges)
    assert Skeleton.from_dict(json.loads(json.dumps(keypoint_set.to_dict()))) == keypoint_set


def test_openpose18_maps_onto_coco17():
    points = np.arange(18 * 3, dtype=float).reshape(18, 3)
    mapped = skeleton.openpose18_to_coco17(points)
    assert mapped.shape == (17, 3)
    for coco_index, name in enumerate(COCO17.keypoints):
        assert (mapped[coco_index] == points[OPENPOSE18.index(name)]).all()
    assert OPENPOSE18.flip[OPENPOSE18.index("neck")] == OPENPOSE18.index("neck")


def test_flip_keypoints_mirrors_and_swaps():
    points = np.zeros((1, 17, 3))
    points[0, COCO17.index("left_wrist")] = (10, 20, 1)
    flipped = COCO17.flip_keypoints(points, image_width=100)
    assert tuple(flipped[0, COCO17.index("right_wrist")]) == (90, 20, 1)


@pytest.mark.parametrize("sample", ["crowdpose/test_crowdpose.json", "ap10k/test_ap10k.json",
                                    "animalpose/test_animalpose.json"])
def test_custom_sets_from_coco_categories(sample):
    category = json.loads(shared_path(f"data/samples/{sample}").read_text())["categories"][0]
    in_range = [e for e in category["skeleton"] if max(e) <= len(category["keypoints"])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        custom = Skeleton.from_coco_category(category)
    assert len(custom) == len(category["keypoints"])
    assert len(custom.edges) == len(in_range)
    assert bool(caught) == (len(in_range) < len(category["skeleton"]))
    assert sorted(custom.flip) == list(range(len(custom)))


def test_animal_flip_map_uses_l_r_prefixes():
    category = {"name": "cat", "keypoints": ["L_Eye", "R_Eye", "Nose"], "skeleton": [[1, 3], [2, 3]]}
    custom = Skeleton.from_coco_category(category)
    assert custom.flip == (1, 0, 2)
    assert custom.edges == ((0, 2), (1, 2))


def test_crowdpose_builtin_matches_sample_keypoint_names():
    category = json.loads(shared_path("data/samples/crowdpose/test_crowdpose.json").read_text())["categories"][0]
    assert tuple(category["keypoints"]) == CROWDPOSE14.keypoints


def test_bad_skeletons_are_rejected():
    with pytest.raises(ValueError, match="sigmas"):
        Skeleton("bad", ("a", "b"), (), (0.1,))
    with pytest.raises(ValueError, match="edge"):
        Skeleton("bad", ("a", "b"), ((0, 5),), (0.1, 0.1))
    with pytest.raises(ValueError, match="no keypoints"):
        Skeleton.from_coco_category({"name": "x", "keypoints": []})
    with pytest.raises(ValueError, match="unknown skeleton"):
        skeleton.get("nope")
