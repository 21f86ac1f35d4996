"""Test-time augmentation: each image also run mirrored (left and right parts swapped back with
the skeleton's flip map) and at other input sizes, and the views merged person by person.

Merging: the views' people are grouped greedily, best score first, each group taking from every
other view the person most like its first (OKS >= `match_oks`); a group's keypoints are the
confidence-weighted mean of its members', its box the score-weighted mean, and its score the sum
of its members' scores over the number of views, so a person that only one view sees is kept
but ranked lower.

Codecs that decode the views' candidates together (KAPAO: NMS and fusion over all views, as its
`--scales --flips`) merge before decoding instead (`candidates_merged_poses`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .poses import Poses
from .similarity import object_keypoint_similarity

MATCH_OKS = 0.5
KAPAO_PAD = 0.447  # the value KAPAO pads its scaled views with (ImageNet's mean)


@dataclass(frozen=True)
class TestTimeAugmentation:
    """Which views of each image an estimator runs and merges; the default, one plain view, is
    no augmentation."""

    __test__ = False  # a settings class, not a pytest test class

    flip: bool = False
    scales: tuple[float, ...] = (1.0,)
    match_oks: float = MATCH_OKS

    def __post_init__(self):
        object.__setattr__(self, "scales", tuple(dict.fromkeys(float(s) for s in self.scales)))
        if not self.scales or any(not 0.25 <= s <= 4 for s in self.scales):
            raise ValueError(f"test-time scales must be between 0.25 and 4, not {list(self.scales)}")
        if not isinstance(self.flip, bool):
            raise ValueError(f"flip must be True or False, not {self.flip!r}")

    @property
    def active(self) -> bool:
        return self.flip or self.scales != (1.0,)

    @property
    def views(self) -> list[tuple[float, bool]]:
        """(scale, mirrored) of every view, the plain one first when it is among them."""
        views = [(scale, mirrored) for scale in self.scales for mirrored in ((False, True) if self.flip else (False,))]
        return sorted(views, key=lambda view: view != (1.0, False))

    def describe(self) -> str:
        return f"TTA: {'flip, ' if self.flip else ''}scales {', '.join(f'{s:g}' for s in self.scales)}"


def augmented_poses(estimator, image: np.ndarray, plain: Poses, run) -> Poses:
    """The poses of every view of `image` merged; `plain` is the plain view's, already run;
    `run` runs the network on a blob (the estimator's backend or one of its parallel runners)."""
    augmentation = estimator.config.tta
    if estimator.codec.merges_view_candidates:
        return candidates_merged_poses(estimator, image, augmentation.views, run)
    views = [plain if view == (1.0, False) else view_poses(estimator, image, *view, run) for view in augmentation.views]
    return merge(views, estimator.skeleton.sigmas, augmentation.match_oks)


def view_poses(estimator, image: np.ndarray, scale: float, mirrored: bool, run) -> Poses:
    """The poses of one view, on the original image."""
    spec = _scaled_spec(estimator.input_spec, scale)
    blob, geometry = spec.prepare(image[:, ::-1] if mirrored else image)
    poses = estimator.postprocess(run(blob), geometry, image.shape)
    return _unmirrored(poses) if mirrored else poses


def candidates_merged_poses(estimator, image: np.ndarray, views, run) -> Poses:
    """KAPAO's way: every view (scale, mirrored) is made from the plain network input itself
    (`view_blob`), and the views' candidates are decoded together (the codec's
    merged_view_outputs), so that NMS and fusion see them all."""
    blob, geometry = estimator.preprocess(image)
    stride = estimator.input_spec.stride
    outputs = [(run(view_blob(blob, scale, mirrored, stride)), scale, mirrored) for scale, mirrored in views]
    return estimator.postprocess(estimator.codec.merged_view_outputs(outputs, blob.shape[3]), geometry, image.shape)


def view_blob(blob: np.ndarray, scale: float, mirrored: bool, stride: int) -> np.ndarray:
    """A view of a network input (1, 3, H, W), as KAPAO's `scale_img`: mirrored, resized
    bilinearly by `scale`, padded right and bottom to a multiple of the stride with 0.447."""
    image = blob[0].transpose(1, 2, 0)
    image = image[:, ::-1] if mirrored else image
    if scale != 1.0:
        height, width = image.shape[:2]
        size = (int(width * scale), int(height * scale))
        image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_LINEAR)
        bottom = math.ceil(height * scale / stride) * stride - size[1]
        right = math.ceil(width * scale / stride) * stride - size[0]
        image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=(KAPAO_PAD,) * 3)
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)


def merge(views: list[Poses], sigmas, match_oks: float = MATCH_OKS) -> Poses:
    first = views[0]
    people = [(view, person) for view, poses in enumerate(views) for person in range(len(poses))]
    if not people:
        return first
    keypoints = np.concatenate([p.keypoints for p in views])
    boxes = np.concatenate([p.boxes for p in views])
    scores = np.concatenate([p.scores for p in views])
    view_of = np.array([view for view, _ in people])
    groups = _groups(keypoints, boxes, scores, view_of, sigmas, first.keypoint_threshold, match_oks)
    fused = [_fused(keypoints[g], boxes[g], scores[g], len(views)) for g in groups]
    merged = Poses(np.stack([k for k, _, _ in fused]), np.array([s for _, _, s in fused], np.float32),
                   np.stack([b for _, b, _ in fused]), first.skeleton, first.image_size, first.keypoint_threshold)
    order = np.argsort(-merged.scores, kind="stable")
    return Poses(merged.keypoints[order], merged.scores[order], merged.boxes[order], merged.skeleton,
                 merged.image_size, merged.keypoint_threshold)


def _scaled_spec(spec, scale: float):
    if scale == 1.0:
        return spec
    size = max(spec.stride, int(round(spec.size * scale / spec.stride)) * spec.stride)
    return spec.with_size(size)


def _unmirrored(poses: Poses) -> Poses:
    width = poses.image_size[0]
    keypoints = poses.skeleton.flip_keypoints(poses.keypoints, width)
    boxes = poses.boxes.copy()
    boxes[:, [0, 2]] = width - poses.boxes[:, [2, 0]]
    return Poses(keypoints, poses.scores, boxes, poses.skeleton, poses.image_size, poses.keypoint_threshold)


def _groups(keypoints, boxes, scores, view_of, sigmas, keypoint_threshold: float, match_oks: float) -> list[list[int]]:
    similarity, _ = object_keypoint_similarity(keypoints, boxes, keypoints, sigmas, keypoint_threshold)
    taken = np.zeros(len(scores), bool)
    groups = []
    for seed in np.argsort(-scores, kind="stable"):
        if taken[seed]:
            continue
        group = [seed]
        for view in set(view_of.tolist()) - {view_of[seed]}:
            candidates = np.flatnonzero((view_of == view) & ~taken & (similarity[seed] >= match_oks))
            if len(candidates):
                group.append(candidates[np.argmax(similarity[seed, candidates])])
        taken[group] = True
        groups.append(group)
    return groups


def _fused(keypoints, boxes, scores, views: int):
    confidence = keypoints[:, :, 2:3]
    weights = confidence / np.maximum(confidence.sum(0, keepdims=True), 1e-9)
    xy = (keypoints[:, :, :2] * weights).sum(0)
    fused_keypoints = np.concatenate([xy, confidence.sum(0) / views], axis=1).astype(np.float32)
    box = (boxes * scores[:, None]).sum(0) / max(scores.sum(), 1e-9)
    return fused_keypoints, box.astype(np.float32), float(scores.sum() / views)
