"""Composite-field targets are OpenPifPaf's (tests/fixtures/cifcaf/encoder_reference.npz, from
make_encoder_reference.py: its encoders' targets for three crowded dev images), and each rule
does what it says on people with known answers."""
from pathlib import Path

import numpy as np
import pytest

from manypose.encoders.cifcaf import (UPRIGHT_PERSON, CifCafEncoder, drop_hidden_near_visible, ignored_cells,
                                     person_scale)
from manypose.heads import codec_for
from manypose.heads.composite_fields import coco17_heads
from manypose.skeleton import COCO17, Skeleton

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "cifcaf" / "encoder_reference.npz"
IMAGES = (183709, 217285, 350679)
EDGES = len(COCO17.edges)


def reference_targets(reference, image_id: int):
    """Our targets (dense heads) for the inputs OpenPifPaf encoded, boxes made xyxy in float32 as
    OpenPifPaf computes them."""
    given = {name: reference[f"{image_id}/{name}"] for name in ("keypoints", "boxes", "crowd", "grid")}
    boxes = given["boxes"].copy()
    boxes[:, 2:] += boxes[:, :2]
    crowd = given["crowd"]
    return CifCafEncoder(*coco17_heads(dense=True))(given["keypoints"][~crowd], *given["grid"],
                                                   boxes=boxes[~crowd], crowd_boxes=boxes[crowd])


@pytest.mark.parametrize("image_id", IMAGES)
def test_targets_are_openpifpafs(image_id):
    reference = np.load(REFERENCE)
    targets = reference_targets(reference, image_id)
    heads = (("cif", targets.cif, slice(None)), ("caf", targets.caf, slice(0, EDGES)),
             ("caf25", targets.caf, slice(EDGES, None)))
    for name, ours, fields in heads:
        expected = {part: reference[f"{image_id}/{name}/{part}"]
                    for part in ("claimed", "ignored", "regression", "scale")}
        np.testing.assert_array_equal(np.argwhere(ours.confidence[fields] == 1), expected["claimed"], err_msg=name)
        np.testing.assert_array_equal(np.argwhere(~ours.confidence_mask[fields]), expected["ignored"], err_msg=name)
        field, row, col = expected["claimed"].T.astype(np.int64)
        regression = ours.regression[fields][field, :, :, row, col].reshape(len(field), -1)
        np.testing.assert_allclose(regression, expected["regression"], atol=1e-5, err_msg=name)
        known = np.isfinite(expected["scale"]).all(axis=1)
        np.testing.assert_array_equal(ours.scale_mask[fields][field, row, col], known, err_msg=name)
        # the scales follow OpenPifPaf's rule on our own reference person, not on its drawing
        ratio = ours.scale[fields][field, :, row, col][known] / expected["scale"][known]
        assert 0.8 < ratio.min() and ratio.max() < 1.25, name


def person(points: dict, visibility: int = 2) -> np.ndarray:
    """A COCO-17 person (17, 3) from {keypoint name: (x, y)} in input pixels."""
    keypoints = np.zeros((17, 3))
    for name, xy in points.items():
        keypoints[COCO17.index(name)] = (*xy, visibility)
    return keypoints


ARM = {"left_shoulder": (101.0, 60.0), "left_elbow": (101.0, 140.0), "left_wrist": (110.0, 212.0)}  # x 12.625 cells


def test_a_keypoint_claims_the_4x4_cells_around_it_with_vectors_to_it():
    targets = CifCafEncoder(*coco17_heads())(person(ARM)[None], 41, 41)
    elbow = COCO17.index("left_elbow")
    claimed = np.argwhere(targets.cif.confidence[elbow] == 1)
    np.testing.assert_array_equal(np.unique(claimed[:, 0]), [16, 17, 18, 19])  # y 140 px = 17.5 cells
    np.testing.assert_array_equal(np.unique(claimed[:, 1]), [11, 12, 13, 14])
    assert len(claimed) == 16 and targets.cif.confidence.sum() == 3 * 16
    vectors = targets.cif.regression[elbow, 0][:, claimed[:, 0], claimed[:, 1]]
    np.testing.assert_allclose(vectors + claimed[:, ::-1].T, [[12.625] * 16, [17.5] * 16])
    assert targets.cif.spread_min == pytest.approx(0.1 / 8)


def test_an_association_claims_cells_along_its_middle_with_vectors_to_both_ends():
    targets = CifCafEncoder(*coco17_heads())(person(ARM)[None], 41, 41)
    association = coco17_heads()[1].associations.index((COCO17.index("left_shoulder"), COCO17.index("left_elbow")))
    rows, cols = np.nonzero(targets.caf.confidence[association])
    assert set(cols) == {12, 13, 14} and set(rows) == set(range(9, 17))  # y 7.5 to 17.5: 10 to 15, +-1
    ends = targets.caf.regression[association][:, :, rows, cols] + np.stack((cols, rows))
    np.testing.assert_allclose(ends[0], [[12.625] * len(rows), [7.5] * len(rows)])
    np.testing.assert_allclose(ends[1], [[12.625] * len(rows), [17.5] * len(rows)])
    assert targets.caf.scale_mask[association, rows, cols].all()


def test_a_shared_cell_goes_to_the_nearer_keypoint():
    near = person({"nose": (100.0, 100.0), "left_eye": (90.0, 90.0), "right_eye": (110.0, 90.0)})
    other = person({"nose": (116.0, 100.0), "left_eye": (150.0, 90.0), "right_eye": (170.0, 90.0)})
    targets = CifCafEncoder(*coco17_heads())(np.stack((near, other)), 41, 41)
    nose = targets.cif.regression[COCO17.index("nose"), 0]
    assert nose[:, 12, 13] == pytest.approx((-0.5, 0.5)), "cell (12, 13) is 0.7 from the first nose"
    assert nose[:, 12, 14] == pytest.approx((0.5, 0.5)), "and (12, 14) 0.7 from the second"


def test_crowds_and_people_without_keypoints_are_not_learnt_but_near_keypoints_are():
    crowd = np.array([[200.0, 200.0, 300.0, 300.0]])
    unlabelled_box = np.array([[20.0, 200.0, 60.0, 280.0]])
    people = np.stack((person(ARM), np.zeros((17, 3))))
    boxes = np.concatenate((np.array([[90.0, 50.0, 110.0, 220.0]]), unlabelled_box))
    targets = CifCafEncoder(*coco17_heads())(people, 41, 41, boxes=boxes, crowd_boxes=crowd)
    learnt = targets.cif.confidence_mask[0]
    assert not learnt[24:39, 24:39].any() and learnt[22, 22] and learnt[40, 40]  # 25-37.5 cells, 1.5 around
    assert not learnt[24:36, 1:9].any() and learnt[12, 12], "the unlabelled person's box, not the labelled one"
    wrist = COCO17.index("left_wrist")
    around_wrist = np.array([[90.0, 200.0, 120.0, 240.0]])
    inside = CifCafEncoder(*coco17_heads())(person(ARM)[None], 41, 41, crowd_boxes=around_wrist)
    claimed = inside.cif.confidence[wrist] == 1
    assert 0 < claimed.sum() < 16 and inside.cif.confidence_mask[wrist][claimed].all(), "only the nearest cells"


def test_a_hidden_keypoint_near_a_visible_one_of_another_person_is_dropped():
    visible = person(ARM)
    hidden = person({name: (x + 20, y + 20) for name, (x, y) in ARM.items()}, visibility=1)
    far = person({name: (x + 150, y) for name, (x, y) in ARM.items()}, visibility=1)
    targets = CifCafEncoder(*coco17_heads())(np.stack((visible, hidden, far)), 41, 41)
    elbow = COCO17.index("left_elbow")
    assert targets.cif.confidence[elbow].sum() == 2 * 16, "the visible and the far hidden elbow"
    assert targets.cif.confidence[elbow, 20:22, 15:18].sum() == 0, "not the hidden one at (121, 160)"


def test_a_person_of_fewer_than_three_keypoints_has_no_scale():
    pair = person({"left_shoulder": (100.0, 60.0), "left_elbow": (100.0, 140.0)})
    targets = CifCafEncoder(*coco17_heads())(pair[None], 41, 41)
    assert targets.cif.confidence.sum() == 2 * 16 and not targets.cif.scale_mask.any()
    assert not targets.caf.scale_mask.any() and targets.caf.confidence.sum() > 0


def test_a_whole_person_s_scale_is_the_root_of_its_box_area_and_grows_for_missing_keypoints():
    whole = np.zeros((17, 3))
    whole[:, :2] = np.random.default_rng(0).uniform(0, 10, (17, 2))
    whole[:, 2] = 2
    whole[0, :2], whole[16, :2] = (0, 0), (10, 10)  # a box 10 x 10 cells
    assert person_scale(whole, COCO17) == pytest.approx(10.0)
    legs = whole.copy()
    legs[:11, 2] = 0  # only the hips, knees and ankles
    assert person_scale(legs, COCO17) > np.sqrt(np.ptp(legs[11:, 0]) * np.ptp(legs[11:, 1])) * 1.2


def test_a_dense_pair_only_bridges_gaps_of_the_skeleton():
    heads = coco17_heads(dense=True)
    nose_to_shoulder = heads[1].associations.index((0, 5))
    face_and_shoulder = person({"nose": (100.0, 60.0), "left_eye": (104.0, 56.0), "left_ear": (110.0, 60.0),
                                "left_shoulder": (120.0, 100.0), "left_elbow": (125.0, 120.0)})
    bridged = CifCafEncoder(*heads)(face_and_shoulder[None], 41, 41)
    assert bridged.caf.confidence[nose_to_shoulder].sum() == 0, "edges shorter than half of it at both ends"
    no_elbow = face_and_shoulder.copy()
    no_elbow[COCO17.index("left_elbow"), 2] = 0
    gap = CifCafEncoder(*heads)(no_elbow[None], 41, 41)
    assert gap.caf.confidence[nose_to_shoulder].sum() > 0, "the shoulder's only edge left (to the ear) is long"


def test_a_dense_pair_needs_both_ends_on_the_grid_and_an_edge_one():
    heads = coco17_heads(dense=True)
    leaving = person({"nose": (100.0, 60.0), "left_ear": (110.0, 62.0), "left_shoulder": (130.0, 340.0)})
    targets = CifCafEncoder(*heads)(leaving[None], 41, 41)  # the shoulder is below the last row (320 px)
    assert targets.caf.confidence[heads[1].associations.index((0, 5))].sum() == 0, "nose - left shoulder"
    assert targets.caf.confidence[heads[1].associations.index((3, 5))].sum() > 0, "left ear - left shoulder"


def test_targets_as_outputs_are_absolute_positions_in_the_heads_layout():
    targets = CifCafEncoder(*coco17_heads())(person(ARM)[None], 41, 41)
    outputs = targets.as_outputs(missing_scale=2.0)
    assert outputs["cif"].shape == (17, 5, 41, 41) and outputs["caf"].shape == (19, 8, 41, 41)
    elbow = COCO17.index("left_elbow")
    claimed = outputs["cif"][elbow, 1] == 1
    np.testing.assert_allclose(outputs["cif"][elbow, 2][claimed], 12.625)
    np.testing.assert_allclose(outputs["cif"][elbow, 3][claimed], 17.5)
    assert (outputs["cif"][elbow, 4][claimed] == targets.cif.scale[elbow, 0][claimed]).all()
    unknown = CifCafEncoder(*coco17_heads())(person({"nose": (10.0, 10.0)})[None], 41, 41).as_outputs(2.0)
    assert (unknown["cif"][0, 4][unknown["cif"][0, 1] == 1] == 2.0).all()


def test_the_codec_gives_the_encoder():
    encoder = codec_for(coco17_heads(stride=16)).encoder()
    assert isinstance(encoder, CifCafEncoder) and encoder.stride == 16


def test_the_person_scale_grows_by_the_reference_person_s_box_ratio_upright_or_turned():
    def scale_of(names):
        labelled = np.zeros((17, 3))
        for index, xy in zip(map(COCO17.index, names), [(0.0, 0.0), (2.0, 1.0), (4.0, 4.0)]):
            labelled[index] = (*xy, 2)
        return person_scale(labelled, COCO17)  # its own box 4 x 4 cells

    # upright: the reference person's box 0.29 x 0.897 (elbows, eyes to ankles), nose, eye and
    # shoulder's 0.13 x 0.118; turned, a thinner share: the upright ratio is the smaller
    head_and_shoulder = scale_of(("nose", "left_eye", "left_shoulder"))
    assert head_and_shoulder == pytest.approx(4 * np.sqrt(0.29 * 0.897 / (0.13 * 0.118)))
    # nose, eye and ankle lie along the reference's diagonal: turned by 45 degrees
    # (counter-clockwise, x right and y up) their box is the smaller share of the whole
    names = ("nose", "left_eye", "left_ankle")
    angle = np.radians(45.0)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned = np.array([UPRIGHT_PERSON[name] for name in COCO17.keypoints]) @ turn.T
    labelled = turned[[COCO17.index(name) for name in names]]
    ratio = np.prod(np.ptp(turned, axis=0)) / np.prod(np.ptp(labelled, axis=0))
    assert ratio < 0.29 / 0.07, "smaller than upright's (x 0 to 0.07, y as the whole's)"
    assert scale_of(names) == pytest.approx(4 * np.sqrt(ratio))


def test_a_skeleton_unlike_the_reference_person_has_the_plain_box_scale():
    triangle = Skeleton(name="triangle", keypoints=("a", "b", "c"), edges=((0, 1), (1, 2)), sigmas=(0.1,) * 3)
    assert person_scale(np.array([[0.0, 0.0, 2], [3.0, 1.0, 2], [1.0, 4.0, 2]]), triangle) == pytest.approx(np.sqrt(12))


def test_keypoints_whose_reference_box_is_too_thin_in_both_views_give_no_scale():
    # the reference person's eyes and left ear span a sliver of its box upright and turned, so
    # no view tells the person's size: NaN, as OpenPifPaf's AnnRescaler (not 5 times the box)
    person = np.zeros((17, 3))
    for name, xy in zip(("left_eye", "right_eye", "left_ear"), [(0.0, 0.0), (3.0, 1.0), (1.0, 4.0)]):
        person[COCO17.index(name)] = (*xy, 2)
    assert np.isnan(person_scale(person, COCO17))


def test_a_view_in_which_the_reference_person_has_no_box_is_skipped():
    # nose, neck and head stand on one vertical line of the reference person: upright its box
    # has no area (a part of 0 is no share of a whole of 0: that view is skipped, not divided
    # by), turned by 45 degrees the line is a diagonal whose box is the whole one, all labelled:
    # the plain box scale, root of 3 x 4 cells
    column = Skeleton(name="column", keypoints=("nose", "neck", "head"), edges=((0, 1), (0, 2)),
                      sigmas=(0.1,) * 3)
    person = np.array([[0.0, 0.0, 2], [3.0, 1.0, 2], [1.0, 4.0, 2]])
    assert person_scale(person, column) == pytest.approx(np.sqrt(12))


def test_a_person_smaller_than_a_tenth_of_a_cell_has_no_scale():
    # as OpenPifPaf: NaN below 0.1 cell, 0.1 itself kept (every keypoint labelled: the box as is)
    whole = np.zeros((17, 3))
    whole[:, 2] = 2
    whole[:, :2] = np.random.default_rng(1).uniform(0, 0.1, (17, 2))
    whole[0, :2], whole[16, :2] = (0.0, 0.0), (0.1, 0.1)
    assert person_scale(whole, COCO17) == 0.1
    whole[:, :2] /= 2
    assert np.isnan(person_scale(whole, COCO17))


def test_a_dense_pair_is_bridged_only_by_edges_strictly_shorter_than_half_its_length():
    heads = coco17_heads(dense=True)
    nose_to_shoulder = heads[1].associations.index((0, 5))

    def claimed(eye, elbow):  # nose at (10, 10) cells, left shoulder at (10, 18): 8 cells apart
        points = {"nose": (80.0, 80.0), "left_shoulder": (80.0, 144.0), "left_eye": eye, "left_elbow": elbow}
        return CifCafEncoder(*heads)(person(points)[None], 41, 41).caf.confidence[nose_to_shoulder].sum() > 0

    assert not claimed(eye=(104.0, 80.0), elbow=(104.0, 144.0)), "both edges 3 cells: bridged"
    assert claimed(eye=(112.0, 80.0), elbow=(104.0, 144.0)), "the nose's edge exactly 4 cells: not shorter"
    assert claimed(eye=(104.0, 80.0), elbow=(112.0, 144.0)), "the shoulder's edge exactly 4 cells"


def test_a_dense_pair_is_skipped_when_an_end_is_just_off_the_grid_on_any_side():
    heads = coco17_heads(dense=True)
    nose_to_shoulder = heads[1].associations.index((0, 5))
    # the grid's cells span 0 to 40 (320 px); each shoulder half a cell beyond one side
    for shoulder in ((-4.0, 160.0), (160.0, -4.0), (324.0, 160.0), (160.0, 324.0)):
        leaving = person({"nose": (160.0, 160.0), "left_shoulder": shoulder})
        targets = CifCafEncoder(*heads)(leaving[None], 41, 41)
        assert targets.caf.confidence[nose_to_shoulder].sum() == 0, shoulder


def test_associations_along_the_grid_s_border_claim_only_the_cells_on_the_grid():
    # shoulders and hips at the corners of a 9 x 9 grid: each side's middle part (cells 2 to 6)
    # claims the cells within one of it that are on the grid, none wrapped to another row
    heads = coco17_heads(dense=True)
    corners = person({"left_shoulder": (0.0, 0.0), "right_shoulder": (64.0, 0.0),
                      "left_hip": (0.0, 64.0), "right_hip": (64.0, 64.0)})
    targets = CifCafEncoder(*heads)(corners[None], 9, 9)
    middle, border = range(1, 8), {"top": (0, 1), "left": (0, 1), "right": (7, 8), "bottom": (7, 8)}
    sides = {"top": ((5, 6), border["top"], middle), "left": ((5, 11), middle, border["left"]),
             "right": ((6, 12), middle, border["right"]), "bottom": ((11, 12), border["bottom"], middle)}
    for side, (pair, rows, cols) in sides.items():
        expected = np.zeros((9, 9), bool)
        expected[np.ix_(list(rows), list(cols))] = True
        np.testing.assert_array_equal(targets.caf.confidence[heads[1].associations.index(pair)] == 1, expected,
                                      err_msg=side)
    # every corner is on the grid: the diagonals (dense pairs, the sides 8 cells long) are claimed
    for diagonal in ((5, 12), (6, 11)):
        assert targets.caf.confidence[heads[1].associations.index(diagonal)].sum() > 0, diagonal


def test_a_short_association_claims_the_cells_around_two_points_of_its_middle():
    # under 2 cells long: two points, at 0.4 and 0.6 of it, as OpenPifPaf; from (10, 10) to
    # (10.9, 11.1) cells they round to cells (10, 10) and (11, 11): two 3 x 3 squares
    heads = coco17_heads()
    short = person({"left_shoulder": (80.0, 80.0), "left_elbow": (87.2, 88.8)})
    targets = CifCafEncoder(*heads)(short[None], 41, 41)
    expected = np.zeros((41, 41), bool)
    expected[9:12, 9:12] = expected[10:13, 10:13] = True
    np.testing.assert_array_equal(targets.caf.confidence[heads[1].associations.index((5, 7))] == 1, expected)


def test_a_keypoint_far_off_the_grid_is_skipped_and_one_at_the_corner_claims_the_cells_on_the_grid():
    corner = person({"nose": (-200.0, -200.0), "left_eye": (4.0, 4.0)})  # the eye at (0.5, 0.5) cells
    targets = CifCafEncoder(*coco17_heads())(corner[None], 41, 41)
    assert targets.cif.confidence[COCO17.index("nose")].sum() == 0
    expected = np.zeros((41, 41), bool)
    expected[0:3, 0:3] = True  # its square is cells -1 to 2
    np.testing.assert_array_equal(targets.cif.confidence[COCO17.index("left_eye")] == 1, expected)


def test_a_box_off_the_grid_ignores_the_nearest_row_or_column_of_cells():
    # as OpenPifPaf's background mask: the box's cells clipped to the grid, at least one each
    height, width = 10, 12
    for box, rows, cols in (([15.0, 2.0, 20.0, 4.0], slice(1, 6), slice(11, 12)),     # right of the grid
                            ([-10.0, 2.0, -5.0, 4.0], slice(1, 6), slice(0, 1)),      # left
                            ([2.0, 15.0, 4.0, 20.0], slice(9, 10), slice(1, 6)),      # below
                            ([2.0, -10.0, 4.0, -5.0], slice(0, 1), slice(1, 6))):     # above
        expected = np.zeros((height, width), bool)
        expected[rows, cols] = True
        np.testing.assert_array_equal(ignored_cells(np.array([box]), 1.0, height, width), expected, err_msg=str(box))


def test_a_hidden_keypoint_within_32_pixels_of_a_visible_one_becomes_unlabelled():
    visible = person({"left_elbow": (100.0, 100.0), "left_wrist": (100.0, 100.0)})
    hidden = person({"left_elbow": (132.0, 68.0), "left_wrist": (132.5, 100.0)}, visibility=1)
    kept = drop_hidden_near_visible(np.stack((visible, hidden)))
    elbow, wrist = COCO17.index("left_elbow"), COCO17.index("left_wrist")
    assert kept[1, elbow, 2] == 0, "32 pixels apart in x and in y: dropped, as OpenPifPaf (not more than 32)"
    assert kept[1, wrist, 2] == 1, "32.5 pixels apart in x: kept"
    np.testing.assert_array_equal(kept[0], visible)
    np.testing.assert_array_equal(kept[:, :, :2], np.stack((visible, hidden))[:, :, :2])


def test_a_person_with_only_hidden_keypoints_is_labelled_and_its_box_learnt():
    hidden = person(ARM, visibility=1)
    targets = CifCafEncoder(*coco17_heads())(hidden[None], 41, 41, boxes=np.array([[90.0, 50.0, 110.0, 220.0]]))
    assert targets.cif.confidence_mask.all() and targets.caf.confidence_mask.all(), "and no crowd: nothing ignored"
    assert targets.cif.confidence.sum() == 3 * 16


def test_integer_keypoints_encode_as_float_ones():
    points = {"left_shoulder": (101, 60), "left_elbow": (101, 140), "left_wrist": (110, 212)}
    as_int = CifCafEncoder(*coco17_heads())(person(points).astype(np.int64)[None].tolist(), 41, 41)
    as_float = CifCafEncoder(*coco17_heads())(person(points)[None], 41, 41)
    for ours, theirs in ((as_int.cif, as_float.cif), (as_int.caf, as_float.caf)):
        np.testing.assert_array_equal(ours.confidence, theirs.confidence)
        np.testing.assert_array_equal(ours.regression, theirs.regression)
        np.testing.assert_array_equal(ours.scale, theirs.scale)


def test_heads_of_different_strides_are_refused():
    with pytest.raises(ValueError, match="cif stride 8 and caf stride 16 differ"):
        CifCafEncoder(coco17_heads(stride=8)[0], coco17_heads(stride=16)[1])


def test_targets_are_float32_and_unknown_scales_are_zero():
    pair = person({"left_shoulder": (100.0, 60.0), "left_elbow": (100.0, 140.0)})  # too few for a scale
    targets = CifCafEncoder(*coco17_heads())(pair[None], 41, 41)
    for head in (targets.cif, targets.caf):
        assert head.confidence.dtype == head.regression.dtype == head.scale.dtype == np.float32
        assert head.confidence.sum() > 0 and not head.scale.any(), "0 where the scale is unknown"
    outputs = targets.as_outputs()
    for name, scales in (("cif", (4,)), ("caf", (6, 7))):
        assert outputs[name].dtype == np.float32, name
        claimed = outputs[name][:, 1] == 1
        for channel in scales:
            assert (outputs[name][:, channel][claimed] == 1.0).all(), f"{name}: a missing scale is 1 cell by default"
