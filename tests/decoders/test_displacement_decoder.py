"""The displacement decoder gives Google's PoseNet poses (@tensorflow-models/posenet 2.2.2) on
the published network's outputs for three dev images, in three decoder configurations."""
import json
import math

import numpy as np
import pytest
from conftest import shared_path

from manypose.decoders.displacements import (POSENET_TREE, DisplacementDecoder, check_tree, round_half_up,
                                             sigmoid)

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
    (((0, 1), (1, 2), (2, 4)), r"outside 0\.\.3"),  # the valid range in the message
])
def test_trees_the_walk_cannot_follow_are_refused(edges, problem):
    with pytest.raises(ValueError, match=problem):
        check_tree(edges, 4)


def quiet_outputs(keypoints: int, height: int, width: int) -> dict:
    """Logits of -10 everywhere (no candidate), zero offsets and displacements, for a tree of
    keypoints - 1 edges: each test writes the cells it needs."""
    edges = keypoints - 1
    return {"heatmaps": np.full((keypoints, height, width), -10.0, np.float32),
            "offsets": np.zeros((2 * keypoints, height, width), np.float32),
            "displacements_forward": np.zeros((2 * edges, height, width), np.float32),
            "displacements_backward": np.zeros((2 * edges, height, width), np.float32)}


def expected_sigmoid(logit: float) -> float:
    return 1 / (1 + math.exp(-logit))


def test_a_score_equal_to_the_threshold_is_a_root_and_outputs_are_float32():
    outputs = quiet_outputs(2, 5, 5)
    outputs["heatmaps"][0, 2, 2] = 0.0  # score exactly 0.5: PoseNet keeps scores >= threshold
    boxes, scores, keypoints = DisplacementDecoder(((0, 1),), keypoint_count=2, score_threshold=0.5)(outputs)
    assert len(scores) == 1
    np.testing.assert_array_equal(keypoints[0, :, :2], [[32, 32], [32, 32]])  # cell (2, 2) at stride 16
    assert boxes.dtype == scores.dtype == keypoints.dtype == np.float32  # as every decoder's outputs


def test_a_pose_scoring_exactly_min_pose_score_is_kept():
    outputs = quiet_outputs(2, 5, 5)
    outputs["heatmaps"][:, 2, 2] = 0.0  # both keypoints score 0.5 at one cell: pose score (0.5 + 0.5) / 2
    _, scores, _ = DisplacementDecoder(((0, 1),), keypoint_count=2, score_threshold=0.5,
                                       min_pose_score=0.5)(outputs)
    assert scores.tolist() == [0.5]  # keypoint 1's own root falls on the pose's keypoint 1: suppressed


def test_a_root_exactly_nms_radius_from_a_decoded_keypoint_is_skipped():
    outputs = quiet_outputs(1, 4, 8)
    outputs["heatmaps"][0, 1, [1, 3, 6]] = [3.0, 2.0, 1.0]  # x = 10, 30 (20 away: within), 60 (50 away)
    _, scores, keypoints = DisplacementDecoder((), stride=10, nms_radius=20, keypoint_count=1)(outputs)
    np.testing.assert_array_equal(keypoints[:, 0, :2], [[10, 10], [60, 10]])
    np.testing.assert_allclose(scores, [expected_sigmoid(3.0), expected_sigmoid(1.0)], rtol=1e-6)


def test_a_keypoint_exactly_nms_radius_from_an_earlier_pose_adds_nothing_to_the_pose_score():
    outputs = quiet_outputs(2, 7, 7)
    outputs["heatmaps"][0, 1, 1] = 3.0  # pose A rooted at keypoint 0, y = x = 10
    outputs["heatmaps"][1, 5, 5] = 2.0  # pose B rooted at keypoint 1, y = x = 50
    outputs["heatmaps"][0, 1, 3] = -1.0  # under the threshold: not a root
    outputs["displacements_backward"][:, 5, 5] = (-40, -20)  # B's keypoint 0 at y = 10, x = 30: 20 from A's
    _, scores, keypoints = DisplacementDecoder(((0, 1),), stride=10, nms_radius=20, keypoint_count=2)(outputs)
    np.testing.assert_array_equal(keypoints[1, :, :2], [[30, 10], [50, 50]])
    np.testing.assert_allclose(scores, [(expected_sigmoid(3.0) + expected_sigmoid(-10.0)) / 2,
                                        expected_sigmoid(2.0) / 2], rtol=1e-6)


def test_keypoints_pushed_off_the_grid_land_on_its_border_cells():
    outputs = quiet_outputs(3, 4, 5)  # rows 0..3, columns 0..4, stride 10
    outputs["heatmaps"][0, 1, 1] = 3.0  # root at y = x = 10
    outputs["displacements_forward"][[0, 2]] = -30.0  # edge 0's dy, dx: keypoint 1 to y = x = -20, cell (0, 0)
    outputs["displacements_forward"][1] = 50.0        # edge 1's dy and dx: keypoint 2 to y = 60, x = 80,
    outputs["displacements_forward"][3] = 70.0        # cell (3, 4)
    _, _, keypoints = DisplacementDecoder(((0, 1), (0, 2)), stride=10, keypoint_count=3)(outputs)
    # refinement puts each at its (clamped) cell, offsets being zero
    np.testing.assert_array_equal(keypoints[0, :, :2], [[10, 10], [0, 0], [40, 30]])


def test_equal_root_scores_keep_the_order_of_a_scan_by_row_and_column():
    outputs = quiet_outputs(1, 6, 8)
    outputs["heatmaps"][0] = 1.0     # one plateau: every cell a maximum of its window
    outputs["heatmaps"][0, 2, 5] = 2.0  # a stronger root, first; its eight neighbours are no maxima
    _, _, keypoints = DisplacementDecoder((), stride=10, nms_radius=1, keypoint_count=1, max_poses=48)(outputs)
    near_peak = [(x, y) for y in (1, 2, 3) for x in (4, 5, 6)]
    expected = [(5, 2)] + [(x, y) for y in range(6) for x in range(8) if (x, y) not in near_peak]
    np.testing.assert_array_equal(keypoints[:, 0, :2], np.array(expected) * 10)


def test_round_half_up_is_javascripts_math_round():
    assert [round_half_up(v) for v in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999)] == [1, 2, 3, 0, -1, 2]
    assert round_half_up(0.49999999999999994) == 0  # floor(v + 0.5) would give 1


def test_sigmoid_gives_float32_scores_rounded_from_float64():
    logits = np.array([-7.0, -0.3, 0.0, 0.1, 4.2], np.float32)
    scores = sigmoid(logits)
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores, np.float32([expected_sigmoid(float(v)) for v in logits]))
