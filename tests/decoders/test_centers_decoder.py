"""The centre decoder on hand-made head maps: each rule of MoveNet MultiPose's in-graph decoding
(its parity with the original runtime is in tests/convert/test_tfjs_movenet.py)."""
import numpy as np
import pytest

from manypose.decoders.centers import CenterDecoder
from manypose.decoders.options import DecoderOptions
from manypose.heads import CentersHead, codec_for, head_from_dict
from manypose.skeleton import COCO17

SIZE, K = 16, 17  # a 16 x 16 grid (64 x 64 input pixels), COCO's 17 keypoints


def empty_maps() -> dict:
    return {"centers": np.zeros((1, SIZE, SIZE), np.float32),
            "keypoint_heatmaps": np.zeros((K, SIZE, SIZE), np.float32),
            "keypoint_regression": np.zeros((2 * K, SIZE, SIZE), np.float32),
            "keypoint_offsets": np.zeros((2 * K, SIZE, SIZE), np.float32),
            "box_sizes": np.full((2, SIZE, SIZE), 8.0, np.float32),
            "box_offsets": np.zeros((2, SIZE, SIZE), np.float32)}


def add_person(maps, row, col, score=0.9, regression=(2.0, -1.0), heat=0.8):
    """A centre peak at (row, col) whose keypoints are all regressed to (row, col) + regression,
    where the keypoint heatmaps peak at `heat`."""
    maps["centers"][0, row, col] = score
    maps["keypoint_regression"][0::2, row, col] = regression[0]
    maps["keypoint_regression"][1::2, row, col] = regression[1]
    maps["keypoint_heatmaps"][:, row + int(regression[0]), col + int(regression[1])] = heat
    return maps


def test_keypoints_land_on_the_heatmap_cell_near_their_regression_plus_its_offset():
    maps = add_person(empty_maps(), 5, 6)
    maps["keypoint_offsets"][0::2, 7, 5] = 0.25   # dy of every keypoint at the target cell
    maps["keypoint_offsets"][1::2, 7, 5] = -0.5   # dx
    boxes, scores, keypoints = CenterDecoder(score_threshold=0.0)(maps)
    assert keypoints.shape == (1, K, 3) and keypoints.dtype == np.float32
    np.testing.assert_allclose(keypoints[0, :, :2], np.tile([(5 - 0.5) * 4, (7 + 0.25) * 4], (K, 1)))
    np.testing.assert_allclose(keypoints[0, :, 2], 0.8, rtol=1e-6)  # exactly on the regression: weight 1
    np.testing.assert_allclose(scores, [0.9 * 0.8], rtol=1e-6)
    np.testing.assert_allclose(boxes, [[(6 - 4) * 4, (5 - 4) * 4, (6 + 4) * 4, (5 + 4) * 4]])


def test_heatmap_peaks_outside_the_persons_box_are_not_taken():
    maps = add_person(empty_maps(), 5, 6, heat=0.9)  # the regression points at (7, 5)
    maps["box_sizes"][:, 5, 6] = 2.0                  # the box: rows 4..6, columns 5..7 (end excluded)
    maps["keypoint_heatmaps"][:, 5, 6] = 0.6          # weaker, farther from the regression, inside
    _, _, keypoints = CenterDecoder(score_threshold=0.0)(maps)
    np.testing.assert_allclose(keypoints[0, :, :2], np.tile([6 * 4, 5 * 4], (K, 1)))
    weight = np.exp(np.float32(-(2 ** 2 + 1 ** 2)) / np.float32(SIZE * 0.300048828125))
    np.testing.assert_allclose(keypoints[0, :, 2], 0.6 * weight, rtol=1e-6)


def test_people_are_the_best_centre_peaks_up_to_max_people():
    maps = empty_maps()
    peaks = [(1, 1, 0.95), (1, 8, 0.9), (1, 14, 0.85), (8, 1, 0.8), (8, 8, 0.75), (8, 14, 0.7), (14, 8, 0.65)]
    for row, col, score in peaks:
        add_person(maps, row, col, score, regression=(0.0, 0.0), heat=0.5)
    maps["centers"][0, 3, 3] = 0.93  # two cells from a better peak, inside its 5 x 5 window: no peak
    _, scores, _ = CenterDecoder(score_threshold=0.0)(maps)
    np.testing.assert_allclose(scores, [s * 0.5 for _, _, s in peaks[:6]], rtol=1e-6)


def test_person_score_averages_only_the_keypoints_above_the_threshold():
    maps = add_person(empty_maps(), 5, 6, heat=0.8)
    maps["keypoint_heatmaps"][10:, 7, 5] = 0.12  # below the graph's 0.127: not counted
    _, scores, keypoints = CenterDecoder(score_threshold=0.0)(maps)
    np.testing.assert_allclose(keypoints[0, 10:, 2], 0.12, rtol=1e-6)  # still reported
    np.testing.assert_allclose(scores, [0.9 * 0.8], rtol=1e-6)


def test_people_without_a_counted_keypoint_are_dropped_whatever_the_threshold():
    maps = add_person(empty_maps(), 5, 6, heat=0.1)
    boxes, scores, keypoints = CenterDecoder(score_threshold=0.0)(maps)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, K, 3)


def test_keypoint_score_is_the_best_weight_over_all_people_at_its_cell():
    maps = add_person(empty_maps(), 5, 6, score=0.9, regression=(2.0, 0.0), heat=0.8)  # exactly on (7, 6)
    maps["centers"][0, 5, 11] = 0.6  # a second person whose keypoints are regressed one cell off (7, 6)
    maps["keypoint_regression"][0::2, 5, 11] = 2.0
    maps["keypoint_regression"][1::2, 5, 11] = -4.0  # -> (7, 7)
    maps["box_sizes"][1, 5, 11] = 12.0  # its box reaches column 6
    _, scores, keypoints = CenterDecoder(score_threshold=0.0)(maps)
    assert len(scores) == 2
    np.testing.assert_allclose(keypoints[:, :, :2], np.tile([6 * 4, 7 * 4], (2, K, 1)))
    np.testing.assert_allclose(keypoints[1, :, 2], 0.8, rtol=1e-6)  # the first person's weight, not its own
    np.testing.assert_allclose(scores, [0.9 * 0.8, 0.6 * 0.8], rtol=1e-6)


def test_boxes_are_clipped_to_the_grid():
    maps = add_person(empty_maps(), 1, 14, regression=(1.0, 0.0))
    maps["box_sizes"][:, 1, 14] = [6.0, 4.0]
    maps["box_offsets"][:, 1, 14] = [0.0, 1.0]  # rows -2..4, columns 13..17
    boxes, _, _ = CenterDecoder(score_threshold=0.0)(maps)
    np.testing.assert_allclose(boxes, [[13 * 4, 0, 16 * 4, 4 * 4]])


def test_score_threshold_and_max_detections_are_honoured():
    maps = empty_maps()
    for col, score in ((2, 0.5), (8, 0.9), (14, 0.3)):
        add_person(maps, 8, col, score, regression=(0.0, 0.0), heat=1.0)
    _, scores, _ = CenterDecoder(score_threshold=0.4)(maps)
    np.testing.assert_allclose(scores, [0.9, 0.5], rtol=1e-6)  # best first
    _, scores, _ = CenterDecoder(score_threshold=0.0, max_detections=1)(maps)
    np.testing.assert_allclose(scores, [0.9], rtol=1e-6)


def test_codec_passes_the_heads_constants_and_the_users_options():
    head = CentersHead(COCO17, stride=8, max_people=2)
    decoder = codec_for((head,)).decoder(DecoderOptions.from_given(score_threshold=0.5, max_detections=3)).decode
    assert (decoder.stride, decoder.max_people, decoder.score_threshold, decoder.max_detections) == (8, 2, 0.5, 3)
    with pytest.raises(ValueError, match="centers decoder has no iou_threshold"):
        codec_for((head,)).decoder(DecoderOptions.from_given(iou_threshold=0.5))


def test_head_metadata_round_trips_through_the_model_description():
    head = CentersHead(COCO17, max_people=4, keypoint_score_threshold=0.2)
    assert head_from_dict(head.to_dict(), COCO17) == head
    assert head.output_names == ("centers", "keypoint_heatmaps", "keypoint_regression", "keypoint_offsets",
                                 "box_sizes", "box_offsets")


# --- the graph's comparisons and float32 arithmetic, at their exact edges -------------------

def test_keypoint_scored_exactly_at_the_keypoint_threshold_is_not_counted():
    # the graph counts keypoints with Greater(score, 0.126953125): strictly above
    maps = add_person(empty_maps(), 5, 6, score=0.5, heat=0.0)
    maps["keypoint_heatmaps"][0, 7, 5] = 0.5
    maps["keypoint_heatmaps"][1, 7, 5] = 0.126953125  # exactly the threshold (float32-exact)
    _, scores, keypoints = CenterDecoder(score_threshold=0.0)(maps)
    assert keypoints[0, 1, 2] == np.float32(0.126953125)
    assert scores.tolist() == [0.25]  # 0.5 * 0.5 / 1, not 0.5 * (0.5 + 0.127) / 2


def test_person_score_is_the_sum_times_the_float32_reciprocal_of_the_count():
    # the graph: Sum * Reciprocal(Maximum(count, 1)), all float32
    maps = add_person(empty_maps(), 5, 6, score=1.0, heat=0.0)
    for channel, heat in enumerate((0.5, 0.5, 0.146728515625)):
        maps["keypoint_heatmaps"][channel, 7, 5] = heat
    boxes, scores, _ = CenterDecoder(score_threshold=0.0)(maps)
    expected = np.float32(1.146728515625) * (np.float32(1) / np.float32(3))
    assert scores.dtype == np.float32 and boxes.dtype == np.float32
    assert scores.tolist() == [float(expected)]  # 0.38224286, where float64 arithmetic gives 0.38224283


def test_person_scored_exactly_at_the_score_threshold_is_kept():
    maps = add_person(empty_maps(), 5, 6, score=0.5, heat=0.0)
    maps["keypoint_heatmaps"][0, 7, 5] = 0.5  # the only counted keypoint: 0.5 * 0.5 = 0.25 exactly
    _, scores, _ = CenterDecoder()(maps)  # score_threshold 0.25
    assert scores.tolist() == [0.25]


def test_equal_scores_keep_the_row_major_order_of_their_centres():
    maps = empty_maps()
    cells = [(row, col) for row in (2, 8) for col in (1, 4, 7, 10, 13)]
    for index, (row, col) in enumerate(cells):  # equal centres; keypoint heats 1, 0.5, 1, 0.5, ...
        add_person(maps, row, col, score=0.5, regression=(0.0, 0.0), heat=1.0 if index % 2 == 0 else 0.5)
    _, scores, keypoints = CenterDecoder(score_threshold=0.0, max_people=10)(maps)
    order = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]
    assert scores.tolist() == [0.5] * 5 + [0.25] * 5
    np.testing.assert_array_equal(keypoints[:, 0, :2], [[cells[i][1] * 4, cells[i][0] * 4] for i in order])


def test_equal_centre_peaks_beyond_max_people_are_taken_in_row_major_order():
    centres = np.zeros((1, SIZE, SIZE), np.float32)
    centres[0, 1::3, 1::3] = 0.5  # 25 equal peaks, three cells apart
    rows, cols, scores = CenterDecoder().people(centres)  # max_people 6
    assert list(zip(rows.tolist(), cols.tolist())) == [(1, 1), (1, 4), (1, 7), (1, 10), (1, 13), (4, 1)]
    assert scores.tolist() == [0.5] * 6


def test_a_centre_exactly_the_tolerance_below_its_neighbour_is_no_peak():
    # the graph: Less(Abs(centres - max_pool(centres)), 1.0132789611816406e-06), 17 float32 ulps at 0.5
    centres = np.zeros((1, SIZE, SIZE), np.float32)
    centres[0, 5, 5] = 0.5
    centres[0, 5, 6] = 0.5 + 17 * 2.0 ** -24
    _, cols, scores = CenterDecoder().people(centres)
    assert cols[0] == 6 and scores[0] == np.float32(0.5 + 17 * 2.0 ** -24) and scores[1] == 0
    centres[0, 5, 6] = 0.5 + 16 * 2.0 ** -24  # within the tolerance: both are peaks
    assert np.count_nonzero(CenterDecoder().people(centres)[2]) == 2


def test_a_tiny_centre_whose_float32_distance_to_its_neighbour_rounds_to_the_tolerance_is_no_peak():
    # the graph subtracts in float32: tolerance - 2^-46 rounds to the tolerance itself (2^-46 is under
    # half an ulp there), which is not Less than it; in float64 the tiny centre would count as a peak
    tolerance = np.float32(CenterDecoder().peak_tolerance)
    centres = np.zeros((1, SIZE, SIZE), np.float32)
    centres[0, 5, 5] = tolerance
    centres[0, 5, 6] = 2.0 ** -46
    rows, cols, scores = CenterDecoder(max_people=2).people(centres)
    assert (rows[0], cols[0]) == (5, 5) and scores.tolist() == [tolerance, 0.0]


def test_float64_centres_decode_as_their_float32_rounding():
    centres = np.zeros((1, SIZE, SIZE), np.float64)
    centres[0, 5, 5] = 0.5
    centres[0, 5, 6] = 0.5 + 16.6 * 2.0 ** -24  # 17 ulps in float32, 16.6 (within the tolerance) in float64
    for got, want in zip(CenterDecoder().people(centres), CenterDecoder().people(centres.astype(np.float32))):
        np.testing.assert_array_equal(got, want)


def test_boxes_take_negative_sizes_as_zero_and_are_clipped_to_the_grid():
    maps = empty_maps()
    maps["box_sizes"][:, 4, 5] = (-3.0, 6.0)      # height below zero: a box of no height
    maps["box_sizes"][:, 1, 14] = (10.0, 10.0)    # reaches past the top and the right edge
    maps["box_offsets"][:, 1, 14] = (0.0, 0.5)
    maps["box_sizes"][:, 0, 0] = (-1.0, 2.0)      # no height, at the top edge
    maps["box_offsets"][:, 0, 0] = (0.0, -5.0)    # and moved left off the grid
    maps["box_sizes"][:, 15, 15] = 2.0
    maps["box_offsets"][:, 15, 15] = (3.0, 3.0)   # moved past the bottom-right corner
    boxes = CenterDecoder().boxes(maps, np.array([4, 1, 0, 15]), np.array([5, 14, 0, 15]))
    np.testing.assert_array_equal(boxes, [[4, 2, 4, 8], [0, 9.5, 6, 16], [0, 0, 0, 0], [16, 16, 16, 16]])  # y0, x0, y1, x1


def test_only_cells_from_the_boxs_top_left_edge_to_before_its_bottom_right_one_are_searched():
    # the box of the centre (8, 8) spans cells 6 to 10 (size 4): keypoint k's heatmap peaks on one
    # edge cell, and the regression points at that cell so only the box decides
    maps = empty_maps()
    maps["centers"][0, 8, 8] = 0.9
    maps["box_sizes"][:, 8, 8] = 4.0
    edges = {0: (6, 8), 1: (8, 6), 2: (10, 8), 3: (8, 10)}  # top and left inside; bottom and right outside
    for keypoint, (row, col) in edges.items():
        maps["keypoint_regression"][2 * keypoint:2 * keypoint + 2, 8, 8] = (row - 8, col - 8)
        maps["keypoint_heatmaps"][keypoint, row, col] = 0.8
    _, _, keypoints = CenterDecoder(score_threshold=0.0)(maps)
    found = {k: keypoints[0, k, 2] > 0.5 for k in edges}
    assert found == {0: True, 1: True, 2: False, 3: False}
