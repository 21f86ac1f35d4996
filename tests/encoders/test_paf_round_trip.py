"""Encoding ground-truth poses into heatmaps and fields, then decoding them, gives the poses back."""
import contextlib
import io

import numpy as np
import pytest

from manypose.decoders import DecoderOptions
from manypose.decoders.paf import PafDecoder
from manypose.encoders import PafEncoder
from manypose.evaluate import coco_keypoint_stats, load_coco
from manypose.heads import PafHead, PoseObjectsHead, codec_for
from manypose.heads.paf import OPENPOSE18_DENSE_LIMBS, OPENPOSE18_LIMBS
from manypose.skeleton import COCO17, OPENPOSE18, coco17_to_openpose18, openpose18_to_coco17


def round_trip(coco, limbs) -> float:
    encoder = PafEncoder(limbs=limbs)
    decoder = PafDecoder(limbs=limbs, smooth_sigma=0, min_parts=1, min_person_score=0)
    results = []
    for image_id in coco.getImgIds():
        info = coco.imgs[image_id]
        people = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)) if a["num_keypoints"]]
        if not people:
            continue
        keypoints = np.array([a["keypoints"] for a in people], np.float32).reshape(-1, 17, 3)
        heatmaps, pafs = encoder(coco17_to_openpose18(keypoints), -(-info["height"] // 8), -(-info["width"] // 8))
        _, scores, decoded = decoder(np.concatenate((heatmaps, pafs)))
        decoded = openpose18_to_coco17(decoded)
        results += [{"image_id": image_id, "category_id": 1, "keypoints": k.reshape(-1).tolist(), "score": float(s)}
                    for k, s in zip(decoded, scores)]
    return coco_keypoint_stats(coco, results)[0]["AP"]


def test_dense_limbs_round_trip_the_dev_annotations(dev_annotations):
    assert round_trip(load_coco(dev_annotations), OPENPOSE18_DENSE_LIMBS) >= 0.9


def test_published_limbs_round_trip_most_poses(dev_annotations):
    # people whose neck is missing (one shoulder unlabelled) split at the neck with these limbs
    assert round_trip(load_coco(dev_annotations), OPENPOSE18_LIMBS) >= 0.8


def test_targets_have_the_expected_shape_and_values():
    person = np.zeros((1, 18, 3), np.float32)
    person[0, OPENPOSE18.index("neck")] = (43.5, 43.5, 2)  # the centre of output cell (5, 5)
    person[0, OPENPOSE18.index("right_shoulder")] = (43.5, 83.5, 2)
    heatmaps, pafs = PafEncoder(OPENPOSE18_LIMBS)(person, 16, 16)
    assert heatmaps.shape == (19, 16, 16) and pafs.shape == (38, 16, 16)
    neck = OPENPOSE18.index("neck")
    assert np.unravel_index(heatmaps[neck].argmax(), (16, 16)) == (5, 5) and heatmaps[neck].max() > 0.9
    assert heatmaps[-1].min() < 0.1, "background is low where parts are"
    # limb neck -> right shoulder (channels 12, 13) points straight down (+y) along the segment
    assert pafs[13, 7, 5] == pytest.approx(1.0) and pafs[12, 7, 5] == pytest.approx(0.0)
    assert pafs[13, 7, 12] == 0.0, "nothing away from the limb"


def test_coco_to_openpose_neck_needs_both_shoulders():
    keypoints = np.zeros((2, 17, 3), np.float32)
    keypoints[:, COCO17.index("left_shoulder")] = (10, 20, 2)
    keypoints[0, COCO17.index("right_shoulder")] = (30, 20, 2)
    converted = coco17_to_openpose18(keypoints)
    neck = OPENPOSE18.index("neck")
    assert tuple(converted[0, neck]) == (20, 20, 2) and converted[1, neck, 2] == 0


def test_one_codec_encodes_and_decodes_a_head():
    codec = codec_for([PafHead(OPENPOSE18, limbs=OPENPOSE18_DENSE_LIMBS)])
    person = np.zeros((1, 18, 3), np.float32)
    person[0, :, :2] = np.linspace(20, 100, 36).reshape(18, 2)
    person[0, :, 2] = 2
    heatmaps, pafs = codec.encoder()(person, 16, 16)
    assert heatmaps.shape == (19, 16, 16) and pafs.shape == (2 * len(OPENPOSE18_DENSE_LIMBS), 16, 16)
    decode = codec.decoder(DecoderOptions(score_threshold=0.0))
    _, _, keypoints = decode({"fields": np.concatenate((heatmaps, pafs))})
    assert keypoints.shape[1:] == (17, 3), "OpenPose-18 heads report COCO-17 poses"
    with pytest.raises(NotImplementedError, match="no training-target encoder"):
        codec_for([PoseObjectsHead(COCO17)]).encoder()


def test_the_codecs_encoder_works_at_the_heads_stride():
    codec = codec_for([PafHead(OPENPOSE18, stride=4)])
    person = np.zeros((1, 18, 3), np.float32)
    person[0, OPENPOSE18.index("neck")] = (21.5, 21.5, 2)  # the centre of output cell (5, 5) at stride 4
    heatmaps, _ = codec.encoder()(person, 16, 16)
    neck = OPENPOSE18.index("neck")
    assert np.unravel_index(heatmaps[neck].argmax(), (16, 16)) == (5, 5)


# --- the targets by hand: a two-part skeleton with one limb (part 0 -> part 1, channels 0 and 1)

TWO_PARTS = PafEncoder(limbs=((0, 1, 0, 1),), num_parts=2)  # stride 8, sigma 7 px, limb width 1 cell


def cell_centre(row: int, column: int) -> tuple[float, float]:
    """(x, y) input pixels of an output cell's centre at stride 8."""
    return column * 8 + 3.5, row * 8 + 3.5


def two_part_people(*people) -> np.ndarray:
    """((x, y, v) of part 0, (x, y, v) of part 1) per person -> (N, 2, 3)."""
    return np.array(people, np.float32).reshape(-1, 2, 3)


def test_targets_are_float32():
    heatmaps, pafs = TWO_PARTS(two_part_people(((*cell_centre(2, 2), 2), (*cell_centre(2, 6), 2))), 8, 8)
    assert heatmaps.dtype == pafs.dtype == np.float32


def test_heatmap_is_a_gaussian_of_sigma_pixels_around_the_keypoint():
    heatmaps, _ = TWO_PARTS(two_part_people(((*cell_centre(5, 5), 2), (0, 0, 0))), 12, 12)
    assert heatmaps[0, 5, 5] == pytest.approx(1.0, abs=1e-6)  # the keypoint is this cell's centre
    # neighbours 8 px away in x or y, and 8 px in both: exp(-d^2 / (2 * 7^2))
    for row, column, distance2 in ((5, 6, 64), (5, 4, 64), (6, 5, 64), (4, 5, 64), (6, 6, 128)):
        assert heatmaps[0, row, column] == pytest.approx(np.exp(-distance2 / 98), rel=1e-5)


def test_only_labelled_keypoints_make_peaks():
    # v = 1 (labelled, occluded) counts; v = 0 does not, wherever its coordinates are
    heatmaps, _ = TWO_PARTS(two_part_people(((*cell_centre(5, 5), 1), (*cell_centre(2, 2), 0))), 8, 8)
    assert heatmaps[0, 5, 5] == pytest.approx(1.0, abs=1e-6)
    assert not heatmaps[1].any()


def test_background_is_one_less_the_strongest_part_in_each_cell():
    heatmaps, _ = TWO_PARTS(two_part_people(((*cell_centre(2, 2), 2), (*cell_centre(6, 6), 2))), 14, 14)
    background = heatmaps[-1]
    assert background[2, 2] == pytest.approx(0.0, abs=1e-6)
    assert background[6, 6] == pytest.approx(0.0, abs=1e-6)  # the last part counts too
    assert background[6, 7] == pytest.approx(1 - np.exp(-64 / 98), rel=1e-5)
    assert background[13, 13] == pytest.approx(1.0)  # 56 px from the nearest part


def test_limb_field_covers_its_ends_and_a_cell_to_each_side():
    # a limb from cell (5, 5) to cell (5, 8): along 0..3 cells, across -1..1 cells, both ends included
    _, pafs = TWO_PARTS(two_part_people(((*cell_centre(5, 5), 2), (*cell_centre(5, 8), 2))), 12, 12)
    expected = np.zeros((12, 12), np.float32)
    expected[4:7, 5:9] = 1.0  # unit vector (1, 0)
    np.testing.assert_array_equal(pafs[0], expected)
    assert not pafs[1].any()


@pytest.mark.parametrize("v_start, v_end, drawn", [(0, 2, False), (2, 0, False), (0, 0, False), (1, 1, True)])
def test_a_limb_is_drawn_only_between_two_labelled_ends(v_start, v_end, drawn):
    _, pafs = TWO_PARTS(two_part_people(((*cell_centre(5, 5), v_start), (*cell_centre(5, 8), v_end))), 12, 12)
    assert pafs[0, 5, 6] == (1.0 if drawn else 0.0)


@pytest.mark.parametrize("skipped", [((*cell_centre(5, 5), 2), (*cell_centre(5, 8), 0)),  # an unlabelled end
                                     ((*cell_centre(5, 5), 2), (*cell_centre(5, 5), 2))])  # a limb of no length
def test_a_person_without_a_limb_does_not_hide_the_next_persons(skipped):
    drawn = ((*cell_centre(2, 2), 2), (*cell_centre(5, 2), 2))  # downwards: unit vector (0, 1)
    _, pafs = TWO_PARTS(two_part_people(skipped, drawn), 12, 12)
    assert pafs[1, 3, 2] == 1.0 and pafs[0, 3, 2] == 0.0
    assert not pafs[:, :, 5:].any() and np.isfinite(pafs).all()


def test_overlapping_limbs_average_their_directions():
    # two people's limbs leave cell (5, 5) in directions (3, 4) / 5 and (4, 3) / 5
    start = cell_centre(5, 5)
    people = two_part_people(((*start, 2), (start[0] + 24, start[1] + 32, 2)),
                             ((*start, 2), (start[0] + 32, start[1] + 24, 2)))
    _, pafs = TWO_PARTS(people, 12, 12)
    assert pafs[0, 5, 5] == pytest.approx((0.6 + 0.8) / 2, abs=1e-6)
    assert pafs[1, 5, 5] == pytest.approx((0.8 + 0.6) / 2, abs=1e-6)
