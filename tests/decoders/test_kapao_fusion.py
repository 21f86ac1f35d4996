"""KAPAO's fusion of keypoint objects into pose objects, against hand-made cases."""
import numpy as np
import pytest

from manypose.decoders.kapao_fusion import FusionOptions, KeypointObjects, fuse, keypoint_objects

K = 3  # keypoints per pose in these cases


def poses(*centres):
    """Poses whose keypoints all sit at one point, at confidence 0 (as KAPAO's pose objects)."""
    return np.array([[[x, y, 0.0]] * K for x, y in centres], np.float32)


def objects(*rows):
    """Keypoint objects from (x, y, score, keypoint class) rows, boxes 4 pixels wide."""
    rows = np.array(rows, np.float32).reshape(-1, 4)
    boxes = np.concatenate((rows[:, :2] - 2, rows[:, :2] + 2), axis=1)
    return KeypointObjects.from_boxes(boxes, rows[:, 2], rows[:, 3].astype(int))


def test_kapao_object_nearer_than_the_tolerance_replaces_its_keypoint():
    fused, counts = fuse(poses((100, 100)), objects((130, 100, 0.6, 1)), FusionOptions(tolerance=50))
    np.testing.assert_allclose(fused[0, 1], [130, 100, 0.6], rtol=1e-6)
    np.testing.assert_allclose(fused[0, [0, 2]], poses((100, 100))[0, [0, 2]])
    assert counts.tolist() == [0, 1, 0]


def test_kapao_object_farther_than_the_tolerance_does_not():
    keypoints = poses((100, 100))
    fused, counts = fuse(keypoints, objects((160, 100, 0.9, 1)), FusionOptions(tolerance=50))
    np.testing.assert_array_equal(fused, keypoints)
    assert counts.sum() == 0
    # the tolerance is strict, as KAPAO's `dist < overwrite_tol`
    fused, _ = fuse(keypoints, objects((150, 100, 0.9, 1)), FusionOptions(tolerance=50))
    np.testing.assert_array_equal(fused, keypoints)


def test_kapao_object_never_replaces_a_keypoint_of_another_class():
    keypoints = np.array([[[0, 0, 0], [500, 500, 0], [100, 100, 0]]], np.float32)
    fused, counts = fuse(keypoints, objects((101, 100, 0.9, 1)), FusionOptions(tolerance=50))
    np.testing.assert_array_equal(fused, keypoints)  # class 1 is at (500, 500); class 2 is next to it
    assert counts.sum() == 0


def test_kapao_most_confident_object_wins():
    candidates = objects((110, 100, 0.4, 0), (90, 100, 0.8, 0), (100, 110, 0.6, 0))
    fused, counts = fuse(poses((100, 100)), candidates, FusionOptions(tolerance=50))
    np.testing.assert_allclose(fused[0, 0], [90, 100, 0.8], rtol=1e-6)
    assert counts.tolist() == [1, 0, 0]


def test_kapao_pose_keeps_its_own_keypoint_when_more_confident():
    keypoints = poses((100, 100))
    keypoints[0, 0, 2] = 0.9
    fused, _ = fuse(keypoints, objects((105, 100, 0.5, 0)), FusionOptions(tolerance=50))
    np.testing.assert_array_equal(fused, keypoints)


def test_kapao_each_object_goes_to_the_nearest_pose():
    fused, counts = fuse(poses((100, 100), (200, 100)), objects((190, 100, 0.7, 2)), FusionOptions(tolerance=50))
    np.testing.assert_allclose(fused[1, 2], [190, 100, 0.7], rtol=1e-6)
    np.testing.assert_array_equal(fused[0], poses((100, 100))[0])
    assert counts.tolist() == [0, 0, 1]


def test_kapao_pose_without_candidate_keeps_its_keypoints():
    keypoints = poses((100, 100), (400, 400))
    fused, _ = fuse(keypoints, objects((110, 100, 0.7, 0)), FusionOptions(tolerance=50))
    np.testing.assert_array_equal(fused[1], keypoints[1])


def test_kapao_poses_scored_below_the_threshold_take_no_part():
    keypoints = poses((100, 100), (120, 100))
    fused, _ = fuse(keypoints, objects((118, 100, 0.7, 0)), FusionOptions(tolerance=50, pose_threshold=0.3),
                    pose_scores=np.array([0.9, 0.2]))
    # the weak pose is nearer but left out: the object goes to the confident one
    np.testing.assert_allclose(fused[0, 0], [118, 100, 0.7], rtol=1e-6)
    np.testing.assert_array_equal(fused[1], keypoints[1])


def test_kapao_empty_inputs():
    fused, counts = fuse(np.zeros((0, K, 3), np.float32), objects((1, 1, 0.9, 0)))
    assert fused.shape == (0, K, 3) and counts.tolist() == [0] * K
    keypoints = poses((100, 100))
    fused, counts = fuse(keypoints, KeypointObjects.empty())
    np.testing.assert_array_equal(fused, keypoints)
    assert counts.tolist() == [0] * K
    assert len(keypoint_objects(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), FusionOptions())) == 0


def test_kapao_tolerance_as_a_fraction_of_the_person_box():
    keypoints = poses((100, 100))
    person = np.array([[50, 50, 150, 150]], np.float32)  # scale 100
    near = FusionOptions(tolerance=1, tolerance_fraction=0.35)
    fused, _ = fuse(keypoints, objects((130, 100, 0.7, 0)), near, person_boxes=person)
    np.testing.assert_allclose(fused[0, 0], [130, 100, 0.7], rtol=1e-6)
    fused, _ = fuse(keypoints, objects((140, 100, 0.7, 0)), near, person_boxes=person)
    np.testing.assert_array_equal(fused, keypoints)
    with pytest.raises(ValueError, match="person boxes"):
        fuse(keypoints, objects((130, 100, 0.7, 0)), near)


def test_kapao_keypoint_objects_nms_is_per_class_and_thresholded():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    classes = np.array([3, 3, 5, 3])
    kept = keypoint_objects(boxes, scores, classes, FusionOptions(keypoint_threshold=0.2, keypoint_iou=0.25))
    # the second box overlaps the first of its class; the third, same place, is another class;
    # the fourth is below the threshold
    np.testing.assert_allclose(kept.scores, [0.9, 0.7])
    assert kept.classes.tolist() == [3, 5]
    np.testing.assert_allclose(kept.points, [[5, 5], [5, 5]])


def test_kapao_options_refuse_bad_values():
    with pytest.raises(ValueError, match="tolerance"):
        FusionOptions(tolerance=-1)
    with pytest.raises(ValueError, match="keypoint_threshold"):
        FusionOptions(keypoint_threshold=1.5)
