"""Box IoU and NMS against hand-computed values."""
import numpy as np

from manypose.decoders.nms import box_extent, box_iou, box_share_inside, nms


def test_iou_of_rectangles_by_hand():
    box = np.array([0.0, 0.0, 4.0, 2.0])                       # 4 x 2, area 8
    boxes = np.array([[2.0, 1.0, 6.0, 5.0],                     # overlap 2 x 1 = 2, union 8 + 16 - 2
                      [5.0, 0.0, 9.0, 2.0],                     # disjoint in x
                      [0.0, 3.0, 4.0, 5.0],                     # disjoint in y
                      [0.0, 0.0, 4.0, 2.0]])                    # the same box
    np.testing.assert_allclose(box_iou(box, boxes), [2 / 22, 0.0, 0.0, 1.0])


def test_nms_keeps_the_best_of_overlapping_boxes_in_score_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], float)
    scores = np.array([0.9, 0.95, 0.5, 0.3])
    assert nms(boxes, scores, iou_threshold=0.5, max_keep=10).tolist() == [1, 2]
    assert nms(boxes, scores, iou_threshold=0.95, max_keep=10).tolist() == [1, 0, 2, 3]  # none overlap that much
    assert nms(boxes, scores, iou_threshold=0.5, max_keep=1).tolist() == [1]


def test_iou_does_not_depend_on_the_units():
    # the same rectangles in units 100 times larger (normalised coordinates, say): the same IoU
    box = np.array([0.0, 0.0, 4.0, 2.0]) / 100
    boxes = np.array([[2.0, 1.0, 6.0, 5.0], [0.0, 0.0, 4.0, 2.0]]) / 100
    np.testing.assert_allclose(box_iou(box, boxes), [2 / 22, 1.0])


def test_nms_breaks_score_ties_by_input_order():
    # equal scores keep their input order (a stable sort): the same boxes on any platform
    scores = np.random.default_rng(0).integers(0, 3, 200) / 10
    boxes = np.stack([np.arange(200) * 20.0, np.zeros(200), np.arange(200) * 20.0 + 10, np.full(200, 10.0)], 1)
    expected = sorted(range(200), key=lambda i: -scores[i])  # Python's sort is stable
    assert nms(boxes, scores, iou_threshold=0.5, max_keep=200).tolist() == expected


def test_box_share_inside_is_the_part_of_each_first_box_within_the_second():
    small, large = np.array([0, 0, 2, 4.0]), np.array([1, 0, 5, 4.0])
    assert box_share_inside(small, large) == 0.5
    assert box_share_inside(large, small) == 0.25
    np.testing.assert_allclose(box_share_inside(np.stack([small, large])[:, None], large[None]), [[0.5], [1.0]])
    assert box_share_inside(np.array([1, 1, 1, 3.0]), large) == 0.0  # no area: nothing inside, no division by 0


def test_box_extent_is_the_longer_side():
    assert box_extent(np.array([10, 20, 14, 120.0])) == 100.0
    assert box_extent(np.array([10, 20, 210, 120.0])) == 200.0
