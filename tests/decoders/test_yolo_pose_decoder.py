import numpy as np

from manypose.decoders.nms import nms
from manypose.decoders.yolo_pose import PoseObjectsDecoder
from manypose.skeleton import COCO17


def raw_output(people):
    """(56, N) decoded network output for (cx, cy, w, h, score, keypoint xy) rows."""
    columns = []
    for cx, cy, w, h, score, kx, ky in people:
        keypoints = np.tile([kx, ky, 0.9], 17)
        columns.append(np.concatenate(([cx, cy, w, h, score], keypoints)))
    return np.array(columns, dtype=np.float32).T.reshape(56, len(people))


def test_duplicates_are_suppressed_and_best_kept_first():
    output = raw_output([
        (100, 100, 50, 100, 0.6, 90, 80),
        (102, 101, 50, 100, 0.9, 95, 85),   # same person, better score
        (300, 100, 50, 100, 0.8, 300, 90),  # someone else
        (500, 100, 50, 100, 0.1, 0, 0),     # below threshold
    ])
    boxes, scores, keypoints = PoseObjectsDecoder(COCO17, score_threshold=0.25)(output)
    assert np.allclose(scores, [0.9, 0.8])
    assert np.allclose(boxes[0], [77, 51, 127, 151])
    assert keypoints.shape == (2, 17, 3)
    assert np.allclose(keypoints[0, 0], [95, 85, 0.9])


def test_nothing_above_threshold_gives_empty_arrays():
    boxes, scores, keypoints = PoseObjectsDecoder(COCO17)(raw_output([(10, 10, 5, 5, 0.01, 1, 1)]))
    assert boxes.shape == (0, 4) and scores.shape == (0,) and keypoints.shape == (0, 17, 3)


def test_max_detections_caps_the_output():
    people = [(i * 100.0, 50, 20, 20, 0.5 + i / 100, 0, 0) for i in range(10)]
    boxes, scores, _ = PoseObjectsDecoder(COCO17, max_detections=3)(raw_output(people))
    assert len(scores) == 3 and scores[0] == scores.max()


def test_nms_threshold_is_exclusive():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7])
    assert list(nms(boxes, scores, iou_threshold=0.5, max_keep=10)) == [0, 1, 2]  # IoU is exactly 0.5
    assert list(nms(boxes, scores, iou_threshold=0.49, max_keep=10)) == [0, 2]


def test_the_threshold_keeps_only_scores_above_it():
    output = raw_output([(100, 100, 50, 100, 0.5, 90, 80), (300, 100, 50, 100, 0.25, 0, 0)])
    _, scores, _ = PoseObjectsDecoder(COCO17, score_threshold=0.25)(output)
    assert scores.tolist() == [0.5], "a score equal to the threshold is not above it"


def test_models_without_visibility_and_with_several_classes():
    """Rows: 4 box, 2 class scores, 17 x (x, y): each keypoint is seen, the best class scores."""
    column = np.concatenate(([100, 100, 50, 100, 0.2, 0.7], np.tile([90, 80], 17))).astype(np.float32)
    boxes, scores, keypoints = PoseObjectsDecoder(COCO17, num_classes=2, score_threshold=0.25)(column[:, None])
    assert scores.tolist() == [np.float32(0.7)] and keypoints.shape == (1, 17, 3)
    assert np.allclose(keypoints[0, 3], [90, 80, 1.0])


def test_only_the_best_candidates_go_to_nms():
    from manypose.decoders.yolo_pose import MAX_CANDIDATES

    count = MAX_CANDIDATES + 5
    output = np.zeros((56, count), np.float32)
    output[0] = np.arange(count) * 10.0  # disjoint boxes, 4 px wide
    output[2:4] = 4.0
    output[4] = 0.3 + 0.6 * np.random.default_rng(0).random(count)
    _, scores, _ = PoseObjectsDecoder(COCO17, max_detections=10)(output)
    np.testing.assert_array_equal(scores, np.sort(output[4])[::-1][:10])


def one_anchor_level(box_logits, score_logit, keypoint, dtype=np.float32):
    """A (1, 4*4 + 1 + 3, 1, 1) raw level: 4 bins a side, one class, one keypoint (x, y, v)."""
    return np.concatenate((np.ravel(box_logits), [score_logit], keypoint)).astype(dtype).reshape(1, -1, 1, 1)


def test_one_level_decodes_by_hand_and_each_distribution_is_normalised_on_its_own():
    from manypose.decoders.yolo_pose import decode_levels

    # one-hot distributions at very different logit scales: exp must neither overflow nor underflow
    box_logits = [[0, 0, 100, 0],             # l: bin 2
                  [-100, -50, -100, -100],    # t: bin 1
                  [-60, -60, -60, 0],         # r: bin 3
                  [-60, -60, -60, 0]]         # b: bin 3
    level = one_anchor_level(box_logits, 0.0, [0.25, -0.5, 0.0])
    decoded = decode_levels([level], (8,), 1, (1, 3), 4)
    # anchor (0.5, 0.5): left -1.5, top -0.5, right 3.5, bottom 3.5 cells, times stride 8
    np.testing.assert_allclose(decoded[0, :, 0], [8, 12, 40, 32, 0.5, 4, -8, 0.5], atol=1e-5)


def test_decoding_is_float32_whatever_the_levels_precision():
    from manypose.decoders.yolo_pose import decode_levels

    rng = np.random.default_rng(0)
    for dtype in (np.float16, np.float32, np.float64):
        levels = [rng.normal(size=(1, 4 * 4 + 1 + 3, h, h)).astype(dtype) for h in (2, 1)]
        assert decode_levels(levels, (8, 16), 1, (1, 3), 4).dtype == np.float32


def test_keypoints_of_a_small_skeleton_are_split_by_its_length():
    # two keypoints (x, y, v): rows 4 box, 1 score, 2 x 3 keypoint values
    from manypose.skeleton import Skeleton

    pair = Skeleton(name="pair", keypoints=("head", "tail"), edges=((0, 1),), sigmas=(0.05, 0.05))
    column = np.array([100, 100, 50, 100, 0.9, 90, 80, 0.7, 110, 120, 0.6], np.float32)
    _, scores, keypoints = PoseObjectsDecoder(pair)(column[:, None])
    assert keypoints.shape == (1, 2, 3)
    np.testing.assert_allclose(keypoints[0], [[90, 80, 0.7], [110, 120, 0.6]])
