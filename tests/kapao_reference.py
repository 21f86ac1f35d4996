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
