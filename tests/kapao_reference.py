"""KAPAO's parity data (tests/data/kapao, made by benchmarks/reference_runners/kapao.py with
KAPAO's own code) and the manypose pieces set up as the reference was."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).parent / "data" / "kapao"
CHECKPOINT = DATA / "kapao_random.pt"


def settings() -> dict:
    return json.loads((DATA / "settings.json").read_text())


def outputs() -> dict:
    with np.load(DATA / "outputs.npz") as data:
        return dict(data)


def image() -> np.ndarray:
    return cv2.imread(str(DATA / "image.png"))


def input_spec():
    from manypose.data.transforms import InputSpec

    return InputSpec(size=settings()["image_size"], stride=64)


def fusion_options():
    from manypose.decoders.kapao_fusion import FusionOptions

    given = settings()
    return FusionOptions(tolerance=given["overwrite_tol"], keypoint_threshold=given["conf_thres_kp"],
                         keypoint_iou=given["iou_thres_kp"], pose_threshold=given["conf_thres_kp_person"])


def decoder():
    from manypose.decoders.kapao import KapaoDecoder
    from manypose.skeleton import COCO17

    given = settings()
    return KapaoDecoder(COCO17, given["conf_thres"], given["iou_thres"], 300, fusion_options())


def fused_on_image(output: np.ndarray):
    """KAPAO's post-processing of one image's candidates: pose and keypoint objects moved to the
    image as its scale_coords does, clipping included (it clips the first four pose coordinates
    only), then fused there -> scores, fused keypoints, fused counts."""
    from manypose.decoders.kapao_fusion import KeypointObjects, fuse

    picture = image()
    height, width = picture.shape[:2]
    _, geometry = input_spec().prepare(picture)
    _, scores, keypoints, objects = decoder().objects(output)
    geometry.to_original(keypoints)
    keypoints[:, :2, 0] = keypoints[:, :2, 0].clip(0, width)
    keypoints[:, :2, 1] = keypoints[:, :2, 1].clip(0, height)
    boxes = geometry.to_original(objects.boxes.reshape(-1, 2, 2).copy()).reshape(-1, 4)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    fused, counts = fuse(keypoints, KeypointObjects.from_boxes(boxes, objects.scores, objects.classes),
                         fusion_options(), scores)
    return scores, fused, counts
