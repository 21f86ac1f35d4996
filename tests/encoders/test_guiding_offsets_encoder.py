"""SimplePose V2's targets: heatmaps, refinement and guiding offsets where the seed puts them."""
from __future__ import annotations

import numpy as np
import pytest

from manypose.encoders.guiding_offsets import GuidingOffsetEncoder
from manypose.heads.guiding_offsets import GuidingOffsetsHead
from manypose.skeleton import COCO17, Skeleton

PAIR = Skeleton("pair", ("a", "b"), edges=((0, 1),), sigmas=(0.05, 0.05))


def encoder(skeleton=PAIR):
    return GuidingOffsetEncoder(GuidingOffsetsHead(skeleton, stride=4))


def test_the_heatmap_peaks_at_the_keypoints_cell_and_follows_a_gaussian_of_sigma_7_pixels():
    targets = encoder()(np.array([[[22.0, 30.0, 2], [0, 0, 0]]]), 16, 16)
    heatmap = targets.heatmaps[0]
    assert np.unravel_index(heatmap.argmax(), heatmap.shape) == (7, 5)  # cell centres (5.5, 7.5) * 4 = (22, 30)
    assert heatmap[7, 5] == pytest.approx(1.0)
    assert heatmap[7, 6] == pytest.approx(np.exp(-16 / 98))  # one cell over: 4 pixels
    assert not targets.heatmaps[1].any()  # the unlabelled keypoint


def test_refinement_offsets_point_from_the_3x3_cells_around_a_keypoint_to_it_in_cells():
    targets = encoder()(np.array([[[21.0, 29.0, 2], [0, 0, 0]]]), 16, 16)
    assert targets.refinement_mask[0].sum() == 9
    rows, cols = np.nonzero(targets.refinement_mask[0])
    assert set(rows) == {6, 7, 8} and set(cols) == {4, 5, 6}
    centres = np.stack((cols + 0.5, rows + 0.5), axis=1)
    np.testing.assert_allclose(targets.refinement[0][:, rows, cols].T + centres, [[21 / 4, 29 / 4]] * 9, atol=1e-6)


def test_guiding_offsets_point_from_the_7x7_cells_around_the_first_keypoint_to_the_second():
    targets = encoder()(np.array([[[30.0, 30.0, 2], [50.0, 10.0, 1]]]), 16, 16)
    rows, cols = np.nonzero(targets.guiding_mask[0])
    assert len(rows) == 49 and set(rows) == set(range(4, 11)) and set(cols) == set(range(4, 11))
    centres = np.stack((cols + 0.5, rows + 0.5), axis=1)
    np.testing.assert_allclose(targets.guiding[0][:, rows, cols].T + centres, [[12.5, 2.5]] * 49, atol=1e-6)


def test_where_people_overlap_the_shorter_guiding_offset_wins():
    people = np.array([[[30.0, 30.0, 2], [34.0, 30.0, 2]],    # a short limb
                       [[34.0, 30.0, 2], [60.0, 60.0, 2]]])   # a long one starting a cell to the right
    targets = encoder()(people, 16, 16)
    row, col = 7, 7  # near both first keypoints
    assert targets.guiding[0][:, row, col] + (col + 0.5, row + 0.5) == pytest.approx((34 / 4, 30 / 4))


def test_a_limb_needs_both_keypoints_labelled_and_ignored_regions_leave_the_heatmap_mask():
    targets = encoder()(np.array([[[30.0, 30.0, 2], [0.0, 0.0, 0]]]), 16, 16, ignored_boxes=[(0, 0, 16, 8)])
    assert not targets.guiding_mask.any()
    # the box's cells and one more on its right and bottom (cifcaf's ignored_cells)
    assert not targets.heatmap_mask[:3, :5].any() and targets.heatmap_mask[3:].all() and targets.heatmap_mask[:, 5:].all()


def test_keypoints_off_the_grid_claim_only_the_cells_inside():
    targets = encoder()(np.array([[[-6.0, 2.0, 2], [62.0, 62.0, 2]]]), 16, 16)
    assert targets.refinement_mask[0].sum() == 0  # its 3 x 3 cells lie left of the grid
    assert 0 < targets.guiding_mask[0].sum() < 49
    assert targets.refinement_mask[1].sum() == 4  # in the corner cell: 2 x 2 of its 3 x 3 inside


def test_the_coco_head_has_a_guiding_field_per_skeleton_edge():
    targets = encoder(COCO17)(np.zeros((0, 17, 3)), 8, 10)
    assert targets.as_outputs().shape == (3 * 17 + 2 * len(COCO17.edges), 8, 10)
