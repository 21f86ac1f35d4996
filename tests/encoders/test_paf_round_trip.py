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
