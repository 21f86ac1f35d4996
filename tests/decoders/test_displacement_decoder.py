"""The displacement decoder gives Google's PoseNet poses (@tensorflow-models/posenet 2.2.2) on
the published network's outputs for three dev images, in three decoder configurations."""
import json

import numpy as np
import pytest
from conftest import shared_path

from manypose.decoders.displacements import POSENET_TREE, DisplacementDecoder, check_tree

IMAGES = ("000000000139", "000000000802", "000000217285")
CONFIGURATIONS = ("d10_t0.5", "d20_t0.5", "d20_t0.1")


@pytest.fixture(scope="module")
def reference():
    arrays = np.load(shared_path("reference/tfjs/posenet_385.npz"))
    poses = json.loads(shared_path("reference/tfjs/posenet_385_poses.json").read_text())
    return arrays, poses["images"]


def network_outputs(arrays, stem: str) -> dict:
    """The npz's NHWC tensors as the decoder's named, channel-first outputs."""
    tensors = {"heatmaps": "heatmap_logits", "offsets": "offsets",
               "displacements_forward": "displacement_fwd", "displacements_backward": "displacement_bwd"}
    return {name: arrays[f"{stem}__{tensor}"][0].transpose(2, 0, 1) for name, tensor in tensors.items()}


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
@pytest.mark.parametrize("stem", IMAGES)
def test_poses_match_googles_decoder(reference, stem, configuration):
    arrays, images = reference
    decoded = images[f"{stem}.jpg"]["decoded"][configuration]
    config = decoded["config"]
    decoder = DisplacementDecoder(POSENET_TREE, stride=16, score_threshold=config["thr"],
                                  nms_radius=config["nms"], max_poses=config["maxDet"])
    boxes, scores, keypoints = decoder(network_outputs(arrays, stem))
    expected = decoded["poses_input_yx"]
    assert len(scores) == len(expected)
    expected_keypoints = np.array([pose["keypoints"] for pose in expected]).reshape(-1, 17, 3)
    np.testing.assert_allclose(scores, [pose["score"] for pose in expected], atol=1e-4)
    np.testing.assert_allclose(keypoints[..., :2], expected_keypoints[..., 1::-1], atol=0.5)  # (y, x) -> (x, y)
    np.testing.assert_allclose(keypoints[..., 2], expected_keypoints[..., 2], atol=1e-4)
    np.testing.assert_allclose(boxes[:, :2], keypoints[..., :2].min(axis=1))
    np.testing.assert_allclose(boxes[:, 2:], keypoints[..., :2].max(axis=1))


def test_min_pose_score_drops_the_weaker_poses(reference):
    arrays, _ = reference
    outputs = network_outputs(arrays, "000000000139")
    everything = DisplacementDecoder(POSENET_TREE, score_threshold=0.1, max_poses=20)(outputs)
    confident = DisplacementDecoder(POSENET_TREE, score_threshold=0.1, max_poses=20, min_pose_score=0.5)(outputs)
    assert len(everything[1]) == 2 and everything[1][1] < 0.5, "Google keeps its weak second pose"
    assert len(confident[1]) == 1
    np.testing.assert_array_equal(confident[2][0], everything[2][0])


def test_no_candidate_gives_empty_arrays():
    outputs = {"heatmaps": np.full((17, 5, 5), -10.0, np.float32), "offsets": np.zeros((34, 5, 5), np.float32),
               "displacements_forward": np.zeros((32, 5, 5), np.float32),
               "displacements_backward": np.zeros((32, 5, 5), np.float32)}
    boxes, scores, keypoints = DisplacementDecoder(POSENET_TREE)(outputs)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, 17, 3)


@pytest.mark.parametrize("edges, problem", [
    (((0, 1), (2, 3), (1, 2)), "comes before"),      # (2, 3) before the edge that reaches 2
    (((0, 1), (1, 2)), "need 3 edges"),              # keypoint 3 left out
    (((0, 1), (0, 2), (1, 2)), "each child once"),   # 2 has two parents
    (((0, 1), (1, 2), (2, 4)), "outside"),
])
def test_trees_the_walk_cannot_follow_are_refused(edges, problem):
    with pytest.raises(ValueError, match=problem):
        check_tree(edges, 4)
