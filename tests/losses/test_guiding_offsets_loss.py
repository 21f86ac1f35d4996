"""SimplePose V2's loss against values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from manypose.encoders.guiding_offsets import GuidingOffsetEncoder, GuidingOffsetTargets
from manypose.heads.guiding_offsets import GuidingOffsetsHead
from manypose.losses.guiding_offsets import GuidingOffsetsLoss, focal_l2, rooted_l1
from manypose.skeleton import Skeleton


def test_focal_l2_weighs_each_cell_by_how_wrong_its_side_is():
    predicted = torch.tensor([0.8, 0.8, 0.2, 0.0])
    target = torch.tensor([1.0, 0.0, 0.5, 0.005])  # foreground, background, foreground, background (< 0.01)
    expected = [0.5 * 0.2 ** 2 * 0.2,     # foreground: factor 1 - s
                0.5 * 0.8 ** 2 * 0.8,     # background: factor s
                0.5 * 0.3 ** 2 * 0.8,
                0.5 * 0.005 ** 2 * 0.0]
    assert focal_l2(predicted, target).tolist() == pytest.approx(expected)


def test_rooted_l1_averages_the_roots_of_pixel_errors_over_one_more_than_their_count():
    predicted = torch.tensor([[1.0, 2.0], [3.0, 7.0]])
    target = torch.tensor([[0.0, 2.0], [0.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    # errors in cells 1, 0 (below the margin: left out), 3; at stride 4 pixels 4 and 12
    assert float(rooted_l1(predicted, target, mask, stride=4)) == pytest.approx((2.0 + math.sqrt(12)) / 3)


def two_keypoints_head():
    skeleton = Skeleton("pair", ("a", "b"), edges=((0, 1),), sigmas=(0.05, 0.05))
    return GuidingOffsetsHead(skeleton, stride=4)


def assert_weighted_terms(items, total, heatmap_item, refinement_item, guiding_item):
    """The loss's three terms, both offsets weighted 12.5, and their sum."""
    expected = [heatmap_item, 12.5 * refinement_item, 12.5 * guiding_item]
    assert items.tolist() == pytest.approx(expected, rel=1e-5)
    assert float(total) == pytest.approx(sum(expected), rel=1e-5)


def test_the_loss_sums_the_weighted_items_of_a_batch_worked_by_hand():
    head = two_keypoints_head()
    loss = GuidingOffsetsLoss(GuidingOffsetEncoder(head))
    height = width = 2
    heatmaps = np.zeros((2, height, width), np.float32)
    heatmaps[0, 0, 0] = 1.0
    refinement = np.zeros((2, 2, height, width), np.float32)
    refinement_mask = np.zeros((2, height, width), bool)
    refinement_mask[0, 0, 0] = True
    refinement[0, :, 0, 0] = (0.25, -0.25)
    guiding = np.zeros((1, 2, height, width), np.float32)
    guiding_mask = np.zeros((1, height, width), bool)
    guiding_mask[0, 1, 1] = True
    guiding[0, :, 1, 1] = (1.0, 0.0)
    heatmap_mask = np.ones((height, width), bool)
    heatmap_mask[1, 1] = False  # ignored: its heatmap error does not count
    targets = GuidingOffsetTargets(heatmaps, heatmap_mask, refinement, refinement_mask, guiding, guiding_mask)
    fields = torch.zeros((1, head.channels, height, width))
    fields[0, 0] = 0.5     # keypoint a's heatmap: 0.5 everywhere
    fields[0, 1, 1, 1] = 0.9  # b's, in the ignored cell
    total, items = loss((fields,), [targets])
    heatmap_item = 0.5 * 0.5 ** 2 * 0.5 + 2 * 0.5 * 0.5 ** 2 * 0.5  # a: one foreground cell, two background
    refinement_item = 2 * math.sqrt(0.25 * 4) / 3                 # two components 1 pixel off
    guiding_item = math.sqrt(4.0) / 2                              # x 4 pixels off, y exact (left out)
    assert_weighted_terms(items, total, heatmap_item, refinement_item, guiding_item)


def test_the_loss_is_zero_for_fields_equal_to_their_targets():
    head = two_keypoints_head()
    encoder = GuidingOffsetEncoder(head)
    targets = encoder(np.array([[[10.0, 10.0, 2], [20.0, 30.0, 2]]]), 16, 16)
    fields = torch.from_numpy(targets.as_outputs())[None]
    _, items = GuidingOffsetsLoss(encoder)((fields,), [targets])
    assert items.tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)


def test_a_target_of_exactly_the_foreground_threshold_is_foreground():
    # tau = 0.01: from it on a cell is foreground, weighed by 1 - s (0.8), not by s (0.2)
    predicted, target = torch.tensor([0.2]), torch.tensor([0.01])
    assert focal_l2(predicted, target).item() == pytest.approx(0.5 * 0.19 ** 2 * 0.8, rel=1e-5)


def test_an_error_of_exactly_the_margin_counts():
    # errors below 1e-5 px are left out, 1e-5 itself is not: sqrt(1e-5) over 1 + 1
    error = torch.tensor([1e-5])
    assert rooted_l1(error, torch.zeros(1), torch.tensor([True]), stride=1).item() == pytest.approx(
        math.sqrt(error.item()) / 2, rel=1e-5)


def test_a_batch_of_two_on_a_grid_wider_than_high_worked_by_hand():
    """Two images on 2 x 3 cells (stride 4): each item sums or averages over both images, every
    offset lands on its own keypoint or limb and component, and predictions outside the masks
    cost nothing."""
    head = two_keypoints_head()
    loss = GuidingOffsetsLoss(GuidingOffsetEncoder(head))
    height, width = 2, 3

    def targets():
        return GuidingOffsetTargets(np.zeros((2, height, width), np.float32), np.ones((height, width), bool),
                                    np.zeros((2, 2, height, width), np.float32), np.zeros((2, height, width), bool),
                                    np.zeros((1, 2, height, width), np.float32), np.zeros((1, height, width), bool))

    first, second = targets(), targets()
    fields = torch.zeros((2, head.channels, height, width))  # channels: a, b, a.x, a.y, b.x, b.y, ab.x, ab.y
    # heatmaps: image 0 predicts 0.5 for a on background at (0, 0); image 1 predicts 0.75 for b's
    # 1.0 at (1, 2) and 0.9 for a in its ignored cell (0, 1)
    fields[0, 0, 0, 0] = 0.5
    second.heatmaps[1, 1, 2] = 1.0
    fields[1, 1, 1, 2] = 0.75
    second.heatmap_mask[0, 1] = False
    fields[1, 0, 0, 1] = 0.9
    # refinement: image 0, a at (1, 0): target (0.5, -0.25), predicted 0: 2 and 1 px; image 1, b at
    # (0, 0): target (0.25, 1.0), predicted (0.25, 0): 4 px in y only; b.x predicted 3 outside the mask
    first.refinement_mask[0, 1, 0] = True
    first.refinement[0, :, 1, 0] = (0.5, -0.25)
    second.refinement_mask[1, 0, 0] = True
    second.refinement[1, :, 0, 0] = (0.25, 1.0)
    fields[1, 4, 0, 0] = 0.25
    fields[0, 4, 0, 2] = 3.0
    # guiding: image 0 at (0, 1): target (1, 2), predicted (1, 1.5): 2 px in y; image 1 at (1, 2):
    # target (-1, 0), predicted 0: 4 px in x; ab.x predicted -2 outside the mask
    first.guiding_mask[0, 0, 1] = True
    first.guiding[0, :, 0, 1] = (1.0, 2.0)
    fields[0, 6:, 0, 1] = torch.tensor([1.0, 1.5])
    second.guiding_mask[0, 1, 2] = True
    second.guiding[0, :, 1, 2] = (-1.0, 0.0)
    fields[1, 6, 1, 1] = -2.0
    total, items = loss((fields,), [first, second])
    heatmap_item = (0.5 * 0.5 ** 2 * 0.5 + 0.5 * 0.25 ** 2 * 0.25) / 2  # summed, over the batch of 2
    refinement_item = (math.sqrt(2) + 1 + 2) / (1 + 3)
    guiding_item = (math.sqrt(2) + 2) / (1 + 2)
    assert_weighted_terms(items, total, heatmap_item, refinement_item, guiding_item)


def test_targets_are_on_the_grid_of_the_input_and_ignore_crowds_and_unlabelled_people():
    from manypose.data.coco import Sample

    head = two_keypoints_head()
    encoder = GuidingOffsetEncoder(head)
    keypoints = np.array([[[6.0, 10.0, 2], [14.0, 6.0, 1]], [[0, 0, 0], [0, 0, 0]]], np.float32)
    sample = Sample(np.zeros((34, 34, 3), np.uint8), np.array([[0, 0, 20, 12], [16, 16, 24, 28]], np.float32),
                    keypoints, crowd_boxes=np.array([[0, 24, 8, 32]], np.float32))
    targets = GuidingOffsetsLoss(encoder).targets(sample, 34)  # 34 px at stride 4: 8 cells
    assert targets.heatmaps.shape == (2, 8, 8) and targets.guiding.shape == (1, 2, 8, 8)
    expected_mask = np.ones((8, 8), bool)
    expected_mask[4:8, 4:7] = False  # the unlabelled person, cells (4, 4) to (6, 7)
    expected_mask[6:8, 0:3] = False  # the crowd, cells (0, 6) to (2, 8)
    np.testing.assert_array_equal(targets.heatmap_mask, expected_mask)
    expected = encoder(keypoints, 8, 8)
    for name in ("heatmaps", "refinement", "refinement_mask", "guiding", "guiding_mask"):
        np.testing.assert_array_equal(getattr(targets, name), getattr(expected, name))
    assert targets.refinement_mask[0, 2, 1] and targets.guiding_mask[0, 2, 1]  # a at cell (1, 2)
