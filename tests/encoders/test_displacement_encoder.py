"""Heatmaps, offsets and tree displacements encoded from people decode back to those people,
on PoseNet's tree and on a custom one."""
import numpy as np
import pytest
from synthetic_people import STANDING

from manypose.decoders.displacements import POSENET_TREE, DisplacementDecoder
from manypose.encoders.displacements import DisplacementEncoder

LOGIT = 10.0  # binary heatmaps as confident logits


def decode_targets(targets: dict, decoder: DisplacementDecoder):
    outputs = dict(targets, heatmaps=np.where(targets["heatmaps"] > 0, LOGIT, -LOGIT))
    return decoder(outputs)


def standing_people(corners, heights) -> np.ndarray:
    people = np.zeros((len(corners), 17, 3))
    for person, corner, height in zip(people, corners, heights):
        person[:, :2] = np.asarray(corner) + STANDING * height
        person[:, 2] = 2
    return people


def largest_errors(decoded: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Each person's largest error over its labelled keypoints, against its best decoded pose."""
    errors = np.abs(decoded[:, None, :, :2] - people[None, :, :, :2]).max(axis=3)
    return np.where(people[..., 2] > 0, errors, 0).max(axis=2).min(axis=0)


def test_round_trip_recovers_synthetic_people():
    people = standing_people([(20, 30), (150, 60), (260, 20)], [300, 250, 340])
    people[1, 9, 2] = 0  # an unlabelled leaf (left wrist) costs nothing else
    targets = DisplacementEncoder(POSENET_TREE, stride=16)(people, 25, 25)
    _, scores, keypoints = decode_targets(targets, DisplacementDecoder(POSENET_TREE, stride=16, max_poses=10))
    assert len(scores) == 3
    assert largest_errors(keypoints, people).max() < 1.0


def test_a_custom_five_keypoint_tree_round_trips():
    tree = ((0, 1), (1, 2), (0, 3), (3, 4))  # a chain either side of keypoint 0
    people = np.array([[[100, 100, 1], [100, 150, 1], [110, 210, 1], [160, 90, 1], [220, 80, 1]],
                       [[60, 300, 1], [20, 310, 1], [10, 360, 1], [100, 320, 1], [120, 370, 1]]], np.float64)
    targets = DisplacementEncoder(tree, stride=8, keypoint_count=5, radius=16)(people, 49, 49)
    assert targets["displacements_forward"].shape == (8, 49, 49) and targets["offsets"].shape == (10, 49, 49)
    decoder = DisplacementDecoder(tree, stride=8, keypoint_count=5, nms_radius=10)
    _, scores, keypoints = decode_targets(targets, decoder)
    assert len(scores) == 2
    assert largest_errors(keypoints, people).max() < 1.0


def test_targets_by_hand():
    person = np.zeros((1, 17, 3))
    person[0, 0] = (64, 48, 2)   # nose on cell (row 3, col 4)
    person[0, 1] = (70, 20, 2)   # left eye, 6 right and 28 up of the nose
    person[0, 5] = (100, 100, 2)  # left shoulder; its child (left elbow) is unlabelled
    targets = DisplacementEncoder(POSENET_TREE, stride=16, radius=20)(person, 10, 10)
    assert targets["heatmaps"][0, 3, 4] == 1 and targets["heatmaps"][0, 3, 6] == 0  # 32 px away
    assert targets["heatmaps"][0].sum() == 5, "a 20 px disc holds the cell and its 4 neighbours"
    assert (targets["offsets"][0, 2, 4], targets["offsets"][17, 2, 4]) == (16, 0)  # dy, dx from the cell above
    edge = POSENET_TREE.index((0, 1))
    forward, backward = targets["displacements_forward"], targets["displacements_backward"]
    owned_by_nose = targets["heatmaps"][0] > 0
    np.testing.assert_array_equal(forward[edge][owned_by_nose], -28)   # dy, the same over the disc
    np.testing.assert_array_equal(forward[16 + edge][owned_by_nose], 6)  # dx
    np.testing.assert_array_equal(targets["displacements_forward_mask"][edge], owned_by_nose)
    assert backward[edge][targets["heatmaps"][1] > 0].tolist() == [28] * int(targets["heatmaps"][1].sum())
    assert not targets["displacements_forward_mask"][POSENET_TREE.index((5, 7))].any(), "no elbow to point to"
    assert targets["offsets_mask"][7].sum() == 0


def test_overlapping_discs_go_to_the_nearest_person():
    people = np.zeros((2, 17, 3))
    people[:, :, 2] = 2
    people[0, :, :2] = (40, 40)
    people[1, :, :2] = (72, 40)
    targets = DisplacementEncoder(POSENET_TREE, stride=16, radius=32)(people, 8, 8)
    dx = targets["offsets"][17, 2, 1:6]  # cells at x = 16 .. 80 on row 2
    np.testing.assert_array_equal(dx, [24, 8, -8, 8, -8])  # to x = 40 up to the cell at 48, then to 72


def test_nobody_gives_empty_targets():
    targets = DisplacementEncoder(POSENET_TREE)(np.zeros((0, 17, 3)), 5, 7)
    assert targets["heatmaps"].shape == (17, 5, 7) and not any(t.any() for t in targets.values())


def test_edges_outside_the_keypoints_are_refused():
    with pytest.raises(ValueError, match=r"an edge names a keypoint outside 0\.\.4$"):
        DisplacementEncoder(((0, 5),), keypoint_count=5)


def test_a_hidden_nose_is_crossed_and_the_person_stays_whole():
    people = standing_people([(40, 30)], [300])
    people[0, 0, 2] = 0  # the nose joins eyes and shoulders on PoseNet's tree
    targets = DisplacementEncoder(POSENET_TREE, stride=16)(people, 25, 25)
    assert targets["heatmaps"][0].sum() == 0 and targets["offsets_mask"][0].sum() == 0
    into_nose = targets["displacements_forward_mask"][POSENET_TREE.index((0, 5))]
    assert into_nose.any(), "the routed nose points on to the shoulder"
    _, scores, keypoints = decode_targets(targets, DisplacementDecoder(POSENET_TREE, stride=16, max_poses=10))
    assert len(scores) == 1
    assert largest_errors(keypoints, people).max() < 1.0


def test_unlabelled_keypoints_beyond_the_last_labelled_one_are_not_routed():
    people = standing_people([(40, 30)], [300])
    people[0, [7, 9], 2] = 0  # left elbow and wrist: nothing labelled beyond them
    targets = DisplacementEncoder(POSENET_TREE, stride=16)(people, 25, 25)
    assert not targets["displacements_forward_mask"][POSENET_TREE.index((5, 7))].any()
    assert not targets["displacements_backward_mask"][POSENET_TREE.index((7, 9))].any()


def test_targets_are_float32_and_a_cell_exactly_one_radius_away_is_owned():
    person = np.zeros((1, 17, 3))
    person[0, 0] = (32, 32, 2)  # cells (2, 0) and (0, 2) lie exactly 32 px away
    targets = DisplacementEncoder(POSENET_TREE, stride=16, radius=32)(person, 5, 5)
    assert {t.dtype for t in targets.values()} == {np.dtype(np.float32)}
    assert targets["heatmaps"][0, 2, 0] == 1 and targets["heatmaps"][0, 0, 2] == 1
    assert targets["heatmaps"][0, 0, 0] == 0, "45 px away"


def test_two_hidden_keypoints_in_a_row_are_routed_at_the_mean_of_their_labelled_ends():
    tree = ((0, 1), (1, 2), (2, 3))  # a chain: 1 and 2 lie between the labelled 0 and 3
    people = np.array([[[40, 40, 2], [0, 0, 0], [0, 0, 0], [120, 80, 2]]], np.float64)
    targets = DisplacementEncoder(tree, stride=8, keypoint_count=4, radius=16)(people, 16, 20)
    forward, backward = targets["displacements_forward"], targets["displacements_backward"]
    first, last = targets["heatmaps"][0] > 0, targets["heatmaps"][3] > 0
    assert targets["heatmaps"][1:3].sum() == 0, "routed keypoints carry no heatmap"
    # 1 and 2 both go to ((40 + 120) / 2, (40 + 80) / 2) = (80, 60): dy at channel e, dx at 3 + e
    np.testing.assert_array_equal(targets["displacements_forward_mask"][0], first)
    assert forward[0][first].tolist() == [20] * int(first.sum())
    assert forward[3][first].tolist() == [40] * int(first.sum())
    assert backward[2][last].tolist() == [-20] * int(last.sum())
    assert backward[5][last].tolist() == [-40] * int(last.sum())


def test_an_unlabelled_leaf_owns_no_cells_whatever_its_stale_position():
    people = standing_people([(40, 30)], [300])
    people[0, 9, 2] = 0  # the left wrist keeps its coordinates but is not labelled
    targets = DisplacementEncoder(POSENET_TREE, stride=16)(people, 25, 25)
    assert not targets["displacements_backward_mask"][POSENET_TREE.index((7, 9))].any()
    assert targets["displacements_forward_mask"][POSENET_TREE.index((5, 7))].any()


def test_a_tree_without_edges_gives_heatmaps_and_offsets_only():
    person = np.zeros((1, 5, 3))
    person[0, 2] = (32, 16, 2)
    targets = DisplacementEncoder((), stride=16, keypoint_count=5, radius=16)(person, 4, 4)
    assert targets["displacements_forward"].shape == targets["displacements_backward_mask"].shape == (0, 4, 4)
    assert targets["heatmaps"][2].sum() == 5, "a 16 px disc holds the cell and its 4 neighbours"
    assert (targets["offsets"][2, 0, 2], targets["offsets"][7, 1, 1]) == (16, 16)  # dy from above, dx from the left
