"""Encoding ground-truth poses into heatmaps and fields, then decoding them, gives the poses back."""
import contextlib
import io

import numpy as np
import pytest

from manypose.decoders.paf import OPENPOSE18_DENSE_LIMBS, OPENPOSE18_LIMBS, PafDecoder
from manypose.encoders import PafEncoder, coco17_to_openpose18
from manypose.evaluate import coco_keypoint_stats, load_coco
from manypose.skeleton import COCO17, OPENPOSE18


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
    heatmaps, pafs = PafEncoder()(person, 16, 16)
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


def test_encoder_and_decoder_are_chosen_from_the_head():
    from manypose.decoders import decoder_for
    from manypose.encoders import encoder_for
    from manypose.heads import PafHead, PoseObjectsHead

    head = PafHead(OPENPOSE18, limbs=OPENPOSE18_DENSE_LIMBS)
    assert encoder_for(head).limbs == decoder_for(head).limbs == OPENPOSE18_DENSE_LIMBS
    with pytest.raises(ValueError, match="no encoder"):
        encoder_for(PoseObjectsHead(COCO17))
