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
    expected = [heatmap_item, 12.5 * refinement_item, 12.5 * guiding_item]
    assert items.tolist() == pytest.approx(expected, rel=1e-5)
    assert float(total) == pytest.approx(sum(expected), rel=1e-5)


def test_the_loss_is_zero_for_fields_equal_to_their_targets():
    head = two_keypoints_head()
    encoder = GuidingOffsetEncoder(head)
    targets = encoder(np.array([[[10.0, 10.0, 2], [20.0, 30.0, 2]]]), 16, 16)
    fields = torch.from_numpy(targets.as_outputs())[None]
    _, items = GuidingOffsetsLoss(encoder)((fields,), [targets])
    assert items.tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
