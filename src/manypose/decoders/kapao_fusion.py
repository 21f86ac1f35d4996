"""KAPAO's fusion: keypoints found as objects of their own replace pose objects' keypoints.

A keypoint object is a small box of one keypoint class (KAPAO: classes 1..K after the person
class 0). Each one, most confident first, looks for the nearest keypoint of its class among the
confident pose objects; it takes that keypoint's place when it is nearer than the tolerance and
more confident than what is there (a pose object's own keypoints come in at confidence 0 in
KAPAO, so the first candidate in range always wins). Distances are measured to the keypoint as it
stands, so a keypoint already replaced is compared at its new place, as KAPAO's loop does.

Defaults are those of KAPAO's evaluation (val.py): keypoint objects above 0.2, NMS per class at
IoU 0.25, poses scored above 0.3 take part, tolerance 50 pixels. Its image demo uses 0.5, 0.45,
0.2 and 25.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..option_checks import check_number
from ..skeleton import Skeleton
from .nms import box_scale, nms

OVERWRITE_TOLERANCE = 50.0  # pixels (KAPAO's --overwrite-tol)
# the decoder options (decoders.options) that set the fusion
FUSION_OPTIONS = ("overwrite_tolerance", "overwrite_tolerance_fraction", "keypoint_objects")


@dataclass(frozen=True)
class KeypointObjects:
    """Keypoint objects of one image: centres (M, 2), scores (M,), keypoint index (M,) (0-based:
    KAPAO's class minus one) and boxes xyxy (M, 4)."""

    points: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    boxes: np.ndarray

    def __post_init__(self):
        size = len(self.scores)
        if self.points.shape != (size, 2) or self.classes.shape != (size,) or self.boxes.shape != (size, 4):
            raise ValueError(f"keypoint objects: points {self.points.shape}, scores {self.scores.shape}, "
                             f"classes {self.classes.shape}, boxes {self.boxes.shape} do not agree")

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> "KeypointObjects":
        return cls(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64),
                   np.zeros((0, 4), np.float32))

    @classmethod
    def from_boxes(cls, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> "KeypointObjects":
        """Objects whose point is their box's centre."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        return cls((boxes[:, :2] + boxes[:, 2:]) / 2, np.asarray(scores, np.float32),
                   np.asarray(classes, np.int64), boxes)

    def mapped(self, to_original) -> "KeypointObjects":
        """These objects with boxes moved by `to_original` ((..., 2) points -> points, as a
        letterbox's), points again their boxes' centres."""
        boxes = to_original(self.boxes.reshape(-1, 2, 2).copy()).reshape(-1, 4)
        return KeypointObjects.from_boxes(boxes, self.scores, self.classes)

    def taken(self, chosen) -> "KeypointObjects":
        return KeypointObjects(self.points[chosen], self.scores[chosen], self.classes[chosen], self.boxes[chosen])


@dataclass(frozen=True)
class FusionOptions:
    """`tolerance` in pixels, or when `tolerance_fraction` is set, that fraction of each person
    box's scale (the side of a square of its area) instead; keypoint objects above
    `keypoint_threshold` after NMS per class at `keypoint_iou`; poses scored above
    `pose_threshold` take part."""

    tolerance: float = OVERWRITE_TOLERANCE
    tolerance_fraction: Optional[float] = None
    keypoint_threshold: float = 0.2
    keypoint_iou: float = 0.25
    pose_threshold: float = 0.3

    def __post_init__(self):
        check_number("tolerance", self.tolerance)
        if self.tolerance_fraction is not None:
            check_number("tolerance_fraction", self.tolerance_fraction)
        for name in ("keypoint_threshold", "keypoint_iou", "pose_threshold"):
            check_number(name, getattr(self, name), 0, 1)


def fusion_options(options) -> FusionOptions:
    """The fusion a user's decoder options (decoders.options.DecoderOptions) ask for."""
    tolerance = OVERWRITE_TOLERANCE if options.overwrite_tolerance is None else options.overwrite_tolerance
    return FusionOptions(tolerance=tolerance, tolerance_fraction=options.overwrite_tolerance_fraction)


def keypoint_objects(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, options: FusionOptions,
                     max_keep: int = 300) -> KeypointObjects:
    """Candidates (boxes xyxy, scores, 0-based keypoint classes) -> the keypoint objects kept by
    the score threshold and NMS within each class, most confident first."""
    keep = np.flatnonzero(scores > options.keypoint_threshold)
    boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    if not len(keep):
        return KeypointObjects.empty()
    # boxes of different classes never overlap once shifted this far apart (as batched NMS does)
    shift = classes[:, None].astype(np.float64) * (np.abs(boxes).max() + 1.0) * 2
    kept = nms(boxes + shift, scores, options.keypoint_iou, max_keep)
    return KeypointObjects.from_boxes(boxes[kept], scores[kept], classes[kept])


def fuse(keypoints: np.ndarray, objects: KeypointObjects, options: FusionOptions = FusionOptions(),
         pose_scores: Optional[np.ndarray] = None, person_boxes: Optional[np.ndarray] = None):
    """Pose objects' keypoints (N, K, 3: x, y, confidence) with keypoint objects fused in ->
    (fused copy, number of keypoints replaced per class (K,)). Without `pose_scores` every pose
    takes part; `person_boxes` (N, 4) are needed for a tolerance as a fraction of the box."""
    fused = np.array(keypoints, dtype=np.float32, copy=True)
    counts = np.zeros(fused.shape[1], np.int64)
    taking_part = np.ones(len(fused), bool) if pose_scores is None else np.asarray(pose_scores) > options.pose_threshold
    people = np.flatnonzero(taking_part)
    if not len(people) or not len(objects):
        return fused, counts
    tolerances = _tolerances(options, person_boxes, people)
    for index in np.argsort(-objects.scores, kind="stable"):
        keypoint, score = objects.classes[index], objects.scores[index]
        distances = np.linalg.norm(fused[people, keypoint, :2] - objects.points[index], axis=1)
        nearest = np.argmin(distances)
        person = people[nearest]
        if score > fused[person, keypoint, 2] and distances[nearest] < tolerances[nearest]:
            fused[person, keypoint] = (*objects.points[index], score)
            counts[keypoint] += 1
    return fused, counts


def _tolerances(options: FusionOptions, person_boxes, people) -> np.ndarray:
    if options.tolerance_fraction is None:
        return np.full(len(people), options.tolerance)
    if person_boxes is None:
        raise ValueError("a tolerance as a fraction of the person box needs the person boxes")
    return np.array([options.tolerance_fraction * box_scale(np.asarray(person_boxes[p], np.float64)) for p in people])


@dataclass
class FusingDecoder:
    """Base of the decoders that find pose objects and keypoint objects in one image's output
    array and fuse them (subclasses implement `objects`); keeps a running count of the keypoints
    fused per class (`fused_counts`, KAPAO's --count-fused)."""

    skeleton: Skeleton
    score_threshold: float = 0.25
    iou_threshold: float = 0.7
    max_detections: int = 300
    fusion: FusionOptions = FusionOptions()
    use_keypoint_objects: bool = True
    fused_counts: np.ndarray = field(init=False)

    def __post_init__(self):
        self.fused_counts = np.zeros(len(self.skeleton), np.int64)

    def __call__(self, output: np.ndarray):
        return self.with_keypoint_objects(output)[:3]

    def with_keypoint_objects(self, output: np.ndarray):
        """Boxes, scores, fused keypoints and the keypoint objects (for drawing)."""
        boxes, scores, keypoints, objects = self.objects(output)
        fused, counts = fuse(keypoints, objects, self.fusion, scores, boxes)
        self.fused_counts += counts
        return boxes, scores, self.finished(fused, scores), objects

    def objects(self, output: np.ndarray):
        """Pose objects (boxes xyxy, scores, keypoints (N, K, 3)) and keypoint objects."""
        raise NotImplementedError

    def finished(self, fused: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return fused


class NamedOutput:
    """A decoder of one output array, called as codecs' decoders are, with the outputs by name."""

    def __init__(self, name: str, decode: FusingDecoder):
        self.name, self.decode = name, decode
        self.fused_counts = decode.fused_counts

    def __call__(self, outputs: dict):
        return self.decode(outputs[self.name])

    def with_keypoint_objects(self, outputs: dict):
        return self.decode.with_keypoint_objects(outputs[self.name])
