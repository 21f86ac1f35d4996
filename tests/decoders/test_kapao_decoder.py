"""KAPAO's decoding and fusion against its own post-processing (val.py run_nms and
post_process_batch), run on the same network output (tests/data/kapao)."""
import numpy as np

from kapao_reference import decoder, fusion_options, image, input_spec, outputs
from manypose.decoders.kapao_fusion import KeypointObjects, fuse


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
    # KAPAO fuses on the original image: both kinds of objects moved there as its scale_coords
    # does, clipping included (it clips the first four pose coordinates only)
    reference = outputs()
    picture = image()
    height, width = picture.shape[:2]
    _, geometry = input_spec().prepare(picture)
    _, scores, keypoints, objects = decoder().objects(reference["output"][0])
    geometry.to_original(keypoints)
    keypoints[:, :2, 0] = keypoints[:, :2, 0].clip(0, width)
    keypoints[:, :2, 1] = keypoints[:, :2, 1].clip(0, height)
    boxes = geometry.to_original(objects.boxes.reshape(-1, 2, 2).copy()).reshape(-1, 4)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    fused, counts = fuse(keypoints, KeypointObjects.from_boxes(boxes, objects.scores, objects.classes),
                         fusion_options(), scores)
    np.testing.assert_allclose(fused, reference["plain_poses"], atol=1e-4)
    np.testing.assert_array_equal(counts, reference["plain_fused"])
    assert counts.sum() > 0


def test_kapao_decoder_counts_fused_keypoints_and_gives_unfused_ones_the_person_score():
    decode = decoder()
    output = outputs()["output"][0]
    boxes, scores, keypoints = decode({"kapao": output})
    _, _, plain, _ = decode.objects(output)
    replaced = np.any(keypoints[..., :2] != plain[..., :2], axis=2)
    assert decode.fused_counts.sum() == replaced.sum() > 0
    np.testing.assert_array_equal(keypoints[~replaced][:, 2], np.broadcast_to(scores[:, None], replaced.shape)[~replaced])
    decode({"kapao": output})
    assert decode.fused_counts.sum() == 2 * replaced.sum()
