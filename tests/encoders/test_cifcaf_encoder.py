"""Composite-field targets are OpenPifPaf's (tests/fixtures/cifcaf/encoder_reference.npz, from
make_encoder_reference.py: its encoders' targets for three crowded dev images), and each rule
does what it says on people with known answers."""
from pathlib import Path

import numpy as np
import pytest

from manypose.encoders.cifcaf import CifCafEncoder, person_scale
from manypose.heads import codec_for
from manypose.heads.composite_fields import coco17_heads
from manypose.skeleton import COCO17

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
