"""Poses from composite fields (OpenPifPaf, Kreiss et al. 2019 and 2021): seeds from the
intensity fields (CIF), people grown from them along the association fields (CAF). The steps and
their defaults are those of OpenPifPaf 0.13's decoder, written in numpy and numba (the compiled
steps: 1 to 3 in decoders.cifcaf_candidates, 4 and 5 in decoders.cifcaf_growth).

Fields as the heads give them (heads.composite_fields): per keypoint, confidence, position and
scale in grid cells; per association, confidence, both ends' positions and scales. Positions are
multiplied by the stride first, so everything below is in input pixels.
1. High-resolution confidence (CifHr), a map per keypoint at stride 1: every CIF vector with a
   confidence of at least `cif_threshold` adds a Gaussian of height confidence / 16 (a keypoint
   is predicted by about 16 cells) and sigma half its scale (at least 1 pixel), cut at one sigma,
   at its position; the map saturates at 1.
2. Seeds: every CIF vector with a confidence of at least `seed_threshold`, rescored as 0.9 x the
   map at its position + 0.1 x its confidence, kept from `seed_threshold`, best first. The fast
   path (`seed_local_maxima`) first keeps only the cells whose confidence is the largest of their
   3 x 3 neighbourhood.
3. Scored associations: every CAF vector with a confidence of at least `caf_threshold`, read in
   both directions, its confidence times 0.1 + 0.9 x the map of the keypoint it points to, kept
   above `caf_threshold`.
4. Growth: seeds in turn; a seed inside the occupancy of a person already grown (a square of
   half-side its keypoint's scale, at least 4 pixels, on a half-resolution grid) is skipped.
   Otherwise a person starts at it and grows greedily, best connection first (a priority queue
   over the associations from its keypoints): a connection's value blends the two best
   associations near the source keypoint (a Gaussian of the source's scale weighs the distance),
   its confidence the geometric mean with the source's; it is taken when at least
   `keypoint_threshold` and half the source's confidence, and when the association read
   backwards from the new keypoint lands within the source's scale of the source (L1), the
   reverse match.
5. Keypoint NMS: people by their mean keypoint confidence, best first; a keypoint inside the
   occupancy of the same keypoint of a better person is suppressed (confidence x 1e-5: an
   OKS-like overlap rule, keypoint by keypoint); keypoints at or below `keypoint_threshold` are
   dropped, then people whose mean confidence is below `instance_threshold`.
6. A person's score is OpenPifPaf's: its keypoint confidences sorted, weighted by the CIF head's
   score weights (normalised). People scored below options.score_threshold are dropped, the rest
   kept best first up to options.max_detections. Boxes span the kept keypoints, widened by their
   scales.
Every association of the CAF head is used (OpenPifPaf's dense pairs: as --dense-connections).
With `options.complete_poses` (OpenPifPaf's --force-complete-pose, the setting of its COCO
evaluation), every person found gets every keypoint: steps 4 and 5 keep keypoints of any
confidence and people of any mean, and between them each person grows again from all its
keypoints along the associations scored from COMPLETION_CAF_THRESHOLD, searched COMPLETION_REACH
times as far, without the reverse match; a keypoint still missing then takes the place of a
connected one at confidence FILLED_CONFIDENCE.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
import numpy as np

from .cifcaf_candidates import accumulate, scored_associations, seed_candidates
from .cifcaf_growth import OCCUPANCY_REDUCTION, complete_people, grow_people, suppress_keypoints
from .options import DecoderOptions

CONNECTION_RELATIVE = 0.5    # a new keypoint's confidence must reach this share of its source's
COMPLETION_CAF_THRESHOLD = 0.001  # completing poses: associations read from this confidence


@dataclass(frozen=True)
class CifCafDecoder:
    """Named outputs {"cif" (K, 5, H, W), "caf" (E, 8, H, W)} (batch removed) -> boxes xyxy (N, 4),
    scores (N,), keypoints (N, K, 3) x, y, confidence in input pixels."""

    cif_head: "heads.composite_fields.CifHead"
    caf_head: "heads.composite_fields.CafHead"
    options: DecoderOptions = DecoderOptions()
    cif_threshold: float = 0.3
    seed_threshold: float = 0.2
    caf_threshold: float = 0.3
    keypoint_threshold: float = 0.15
    instance_threshold: float = 0.15
    seed_local_maxima: bool = False

    def __post_init__(self):
        if self.cif_head.stride != self.caf_head.stride:
            raise ValueError(f"cif stride {self.cif_head.stride} and caf stride {self.caf_head.stride} differ")

    @property
    def stride(self) -> int:
        return self.cif_head.stride

    @property
    def associations(self) -> np.ndarray:
        return np.array(self.caf_head.associations, np.int64).reshape(-1, 2)

    def __call__(self, outputs: dict[str, np.ndarray]):
        joints = self.joints(outputs)
        keypoints = np.ascontiguousarray(joints[:, :, [1, 2, 0]], np.float32)
        scores = self.pose_scores(keypoints[:, :, 2])
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] >= self.options.score_threshold][:self.options.max_detections]
        return boxes_around(keypoints[order], joints[order, :, 3]), scores[order], keypoints[order]

    @property
    def thresholds(self) -> tuple[float, float, float]:
        """The keypoint threshold, the least share of its source's confidence a new keypoint
        needs, the instance threshold: as applied, none when completing poses."""
        if self.options.complete_poses:
            return 0.0, 0.0, 0.0
        return float(self.keypoint_threshold), CONNECTION_RELATIVE, float(self.instance_threshold)

    def joints(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """People (N, K, 4) as OpenPifPaf's decoder returns them: per keypoint confidence, x, y,
        scale, in input pixels; best mean confidence first."""
        cif = np.ascontiguousarray(outputs["cif"], np.float32)
        caf = np.ascontiguousarray(outputs["caf"], np.float32)
        fields, _, height, width = cif.shape
        confidence_map = _WORKSPACE.confidence_map((fields, (height - 1) * self.stride + 1,
                                                    (width - 1) * self.stride + 1))
        accumulate(cif, self.stride, self.cif_threshold, confidence_map, False)
        try:
            return self.grown(cif, caf, confidence_map)
        finally:
            accumulate(cif, self.stride, self.cif_threshold, confidence_map, True)  # zero for the next call

    def grown(self, cif: np.ndarray, caf: np.ndarray, confidence_map: np.ndarray) -> np.ndarray:
        """Steps 2 to 5 of the module docstring."""
        seed_fields, seeds = self.seeds(cif, confidence_map)
        forward, backward, starts = scored_associations(caf, self.stride, confidence_map, self.associations,
                                                        self.caf_threshold)
        occupancy_shape = (cif.shape[0],) + tuple(side // OCCUPANCY_REDUCTION + 1 for side in confidence_map.shape[1:])
        occupancy, generation = _WORKSPACE.cleared_occupancy(occupancy_shape)
        people = np.zeros((len(seeds), cif.shape[0], 4))
        keypoint_threshold, relative_threshold, _ = self.thresholds
        rules = (keypoint_threshold, relative_threshold, 1.0, True)  # see cifcaf_growth._connection
        count = grow_people(seed_fields, seeds, forward, backward, starts, self.associations, occupancy, generation,
                            rules, people)
        people = people[:count]
        if self.options.complete_poses:
            forward, backward, starts = scored_associations(caf, self.stride, confidence_map, self.associations,
                                                            COMPLETION_CAF_THRESHOLD)
            complete_people(people, forward, backward, starts, self.associations)
        return self.suppressed(people, occupancy_shape)

    def suppressed(self, people: np.ndarray, occupancy_shape) -> np.ndarray:
        """Step 5 of the module docstring."""
        people = people[np.argsort(-people[:, :, 0].mean(axis=1), kind="stable")]
        suppress_keypoints(people, *_WORKSPACE.cleared_occupancy(occupancy_shape))
        keypoint_threshold, _, instance_threshold = self.thresholds
        confidences = people[:, :, 0]
        confidences[confidences <= keypoint_threshold] = 0.0
        means = confidences.mean(axis=1)
        people = people[means >= instance_threshold]
        return people[np.argsort(-means[means >= instance_threshold], kind="stable")]

    def seeds(self, cif: np.ndarray, confidence_map: np.ndarray):
        """Keypoint fields (S,) and (confidence, x, y, scale) (S, 4) of the seeds, best first."""
        fields, seeds = seed_candidates(cif, self.stride, confidence_map, self.seed_threshold, self.seed_local_maxima)
        order = np.argsort(-seeds[:, 0], kind="stable")
        return fields[order], seeds[order]

    def pose_scores(self, confidences: np.ndarray) -> np.ndarray:
        """(N,) OpenPifPaf's person score: sorted keypoint confidences, weighted."""
        weights = np.asarray(self.cif_head.score_weights or (1.0,) * confidences.shape[1], np.float64)
        ranked = -np.sort(-confidences.astype(np.float64), axis=1)
        return (ranked @ (weights / weights.sum())).astype(np.float32)


def boxes_around(keypoints: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy around each person's kept keypoints, widened by their scales (zeros if none)."""
    kept = keypoints[:, :, 2] > 0
    low = np.where(kept[..., None], keypoints[:, :, :2] - scales[..., None], np.inf).min(axis=1)
    high = np.where(kept[..., None], keypoints[:, :, :2] + scales[..., None], -np.inf).max(axis=1)
    boxes = np.concatenate((low, high), axis=1)
    return np.where(kept.any(axis=1)[:, None], boxes, 0).astype(np.float32).reshape(-1, 4)


class _Workspace(threading.local):
    """Per thread, the large arrays of a decoding, kept from call to call: new ones would cost
    more than the decoding (glibc hands out large blocks cleared by memset). The map is zeroed
    again after each use; an occupancy mark is the generation that made it, so a new generation
    clears them all."""

    def __init__(self):
        self.map = np.zeros((0, 0, 0), np.float32)
        self.occupancy = np.zeros((0, 0, 0), np.int32)
        self.generation = 0

    def confidence_map(self, shape) -> np.ndarray:
        """(K, H, W) float32 zeros, to be left zero."""
        if self.map.shape != shape:
            self.map = np.zeros(shape, np.float32)
        return self.map

    def cleared_occupancy(self, shape) -> tuple[np.ndarray, int]:
        """The occupancy grid and the generation that marks it from now on: nothing marked yet."""
        if self.occupancy.shape != shape or self.generation == np.iinfo(np.int32).max:
            self.occupancy = np.zeros(shape, np.int32)
            self.generation = 0
        self.generation += 1
        return self.occupancy, self.generation


_WORKSPACE = _Workspace()
