"""The dev ground truth encoded as composite fields and decoded comes back (as benchmarks/
round_trip.py --head cifcaf measures it, at OpenPifPaf's evaluation size)."""
import math

import numpy as np
import pytest

from manypose.decoders import DecoderOptions
from manypose.decoders.cifcaf import CifCafDecoder
from manypose.encoders.cifcaf import CifCafEncoder
from manypose.evaluate import coco_keypoint_stats, load_coco
from manypose.heads.composite_fields import coco17_heads

INPUT_SIZE = 641


def imputed(keypoints: np.ndarray) -> np.ndarray:
    """People whose unlabelled keypoints sit, visible, at the mean of their labelled ones."""
    keypoints = keypoints.copy()
    for person in keypoints:
        labelled = person[:, 2] > 0
        if labelled.any():
            person[~labelled] = (*person[labelled, :2].mean(axis=0), 2)
    return keypoints


def round_trip_ap(coco, dense: bool = False, impute: bool = False) -> float:
    heads = coco17_heads(dense=dense)
    encoder, decoder = CifCafEncoder(*heads), CifCafDecoder(*heads, DecoderOptions(score_threshold=0.0))
    results = []
    for image_id in coco.getImgIds():
        info = coco.imgs[image_id]
        people = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
        if not people:
            continue
        scale = (INPUT_SIZE - 1) / max(info["width"], info["height"])
        keypoints = np.array([person["keypoints"] for person in people], np.float64).reshape(-1, 17, 3)
        keypoints[..., :2] *= scale
        rows, cols = (math.ceil(side * scale / heads[0].stride) + 1 for side in (info["height"], info["width"]))
        _, scores, decoded = decoder(encoder(imputed(keypoints) if impute else keypoints, rows, cols).as_outputs())
        decoded[..., :2] /= scale
        results += [{"image_id": image_id, "category_id": 1, "keypoints": pose.reshape(-1).tolist(),
                     "score": float(score)} for pose, score in zip(decoded, scores)]
    return coco_keypoint_stats(coco, results)[0]["AP"]


@pytest.fixture(scope="module")
def dev_coco(dev_annotations):
    return load_coco(dev_annotations)


def test_imputed_people_round_trip_the_dev_annotations(dev_coco):
    # every person connected: what the codec itself loses (hidden keypoints near visible ones
    # of other people are dropped by design)
    assert round_trip_ap(dev_coco, impute=True) >= 0.95


def test_labelled_people_round_trip_the_dev_annotations_as_far_as_the_skeleton_connects_them(dev_coco):
    # a person's keypoints without a skeleton path between them come back as separate poses,
    # people of fewer than 3 keypoints below the instance threshold: the dense pairs bridge more
    sparse = round_trip_ap(dev_coco)
    assert sparse >= 0.8
    assert round_trip_ap(dev_coco, dense=True) >= sparse + 0.05
