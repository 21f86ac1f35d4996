"""KAPAO's decoding and fusion against its own post-processing (val.py run_nms and
post_process_batch), run on the same network output (tests/data/kapao)."""
import numpy as np

from kapao_reference import decoder, fused_on_image, outputs


def test_kapao_pose_and_keypoint_objects_equal_the_originals_nms():
    reference = outputs()
    boxes, scores, keypoints, objects = decoder().objects(reference["output"][0])
    people, parts = reference["plain_person_dets"], reference["plain_kp_dets"]
    assert len(boxes) == len(people) > 0 and len(objects) == len(parts) > 0
    np.testing.assert_allclose(boxes, people[:, :4], atol=1e-4)
    np.testing.assert_allclose(scores, people[:, 4], atol=1e-6)
    np.testing.assert_allclose(keypoints[..., :2].reshape(len(boxes), -1), people[:, 6:], atol=1e-4)
    np.testing.assert_allclose(objects.boxes, parts[:, :4], atol=1e-4)
    np.testing.assert_allclose(objects.scores, parts[:, 4], atol=1e-6)
    np.testing.assert_array_equal(objects.classes + 1, parts[:, 5])


def test_kapao_fused_poses_equal_the_originals_on_the_image():
    reference = outputs()
    scores, fused, counts = fused_on_image(reference["output"][0])
    np.testing.assert_allclose(scores, reference["plain_scores"], atol=1e-6)
    np.testing.assert_allclose(fused, reference["plain_poses"], atol=1e-4)
    np.testing.assert_array_equal(counts, reference["plain_fused"])
    assert counts.sum() > 0


def test_kapao_decoder_counts_fused_keypoints_and_gives_unfused_ones_the_person_score():
    decode = decoder()
    output = outputs()["output"][0]
    boxes, scores, keypoints = decode(output)
    _, _, plain, _ = decode.objects(output)
    replaced = np.any(keypoints[..., :2] != plain[..., :2], axis=2)
    assert decode.fused_counts.sum() == replaced.sum() > 0
    np.testing.assert_array_equal(keypoints[~replaced][:, 2], np.broadcast_to(scores[:, None], replaced.shape)[~replaced])
    decode(output)
    assert decode.fused_counts.sum() == 2 * replaced.sum()
