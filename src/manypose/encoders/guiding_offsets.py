"""People's keypoints -> SimplePose V2 (OffsetGuided) training targets on the output grid:
Gaussian keypoint heatmaps, refinement offsets near each keypoint and guiding offsets from the
cells near each limb's first keypoint to its second (heads.guiding_offsets has the layout).

As the seed: sigma 7 input pixels, refinement offsets on the 3 x 3 cells nearest a keypoint
(the nearest keypoint wins), guiding offsets on the 7 x 7 cells nearest the limb's first
keypoint (the shorter offset wins where people's overlap). Regions to ignore (crowds, people
without labelled keypoints) are left out of the heatmaps' loss.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cifcaf import ignored_cells

GAUSSIAN_REACH = 3.0  # sigmas: beyond, the heatmap is 0


@dataclass(frozen=True)
class GuidingOffsetTargets:
    """One image's targets; offsets in cells, masks True where a value is learnt."""

    heatmaps: np.ndarray         # (K, h, w) 0..1
    heatmap_mask: np.ndarray     # (h, w) bool: False in regions to ignore
    refinement: np.ndarray       # (K, 2, h, w)
    refinement_mask: np.ndarray  # (K, h, w) bool
    guiding: np.ndarray          # (L, 2, h, w)
    guiding_mask: np.ndarray     # (L, h, w) bool

    def as_outputs(self) -> np.ndarray:
        """The fields a network that learnt these targets would output (C, h, w)."""
        count, height, width = self.heatmaps.shape
        return np.concatenate((self.heatmaps, self.refinement.reshape(-1, height, width),
                               self.guiding.reshape(-1, height, width))).astype(np.float32)


@dataclass(frozen=True)
class GuidingOffsetEncoder:
    head: object  # heads.GuidingOffsetsHead
    sigma: float = 7.0
    refinement_side: int = 3
    guiding_side: int = 7

    def __call__(self, keypoints: np.ndarray, height: int, width: int, ignored_boxes=()) -> GuidingOffsetTargets:
        """Targets for people (N, K, 3) in input pixels (v > 0: labelled) on an h x w grid;
        `ignored_boxes`: xyxy input-pixel regions left out of the heatmaps' loss."""
        keypoints = np.asarray(keypoints, np.float32).reshape(-1, len(self.head.skeleton), 3)
        cells = keypoints[..., :2] / self.head.stride
        labelled = keypoints[..., 2] > 0
        return GuidingOffsetTargets(self._heatmaps(cells, labelled, height, width),
                                    self._heatmap_mask(ignored_boxes, height, width),
                                    *self._refinement(cells, labelled, height, width),
                                    *self._guiding(cells, labelled, height, width))

    def _heatmaps(self, cells, labelled, height, width) -> np.ndarray:
        sigma = self.sigma / self.head.stride
        reach = math.ceil(GAUSSIAN_REACH * sigma)
        heatmaps = np.zeros((cells.shape[1], height, width), np.float32)
        for person, keypoint in zip(*np.nonzero(labelled)):
            point = cells[person, keypoint]
            rows, cols, centres = _patch(point, 2 * reach + 1, height, width)
            if not len(rows):
                continue
            gaussian = np.exp(-((centres - point) ** 2).sum(-1) / (2 * sigma ** 2))
            heatmaps[keypoint, rows, cols] = np.maximum(heatmaps[keypoint, rows, cols], gaussian)
        return heatmaps

    def _heatmap_mask(self, boxes, height, width) -> np.ndarray:
        return ~ignored_cells(np.asarray(boxes, np.float64).reshape(-1, 4) / self.head.stride, 0.0, height, width)

    def _refinement(self, cells, labelled, height, width):
        count = cells.shape[1]
        offsets = np.zeros((count, 2, height, width), np.float32)
        distance = np.full((count, height, width), np.inf, np.float32)
        for person, keypoint in zip(*np.nonzero(labelled)):
            point = cells[person, keypoint]
            _claim(offsets[keypoint], distance[keypoint], point, point, self.refinement_side)
        return offsets, np.isfinite(distance)

    def _guiding(self, cells, labelled, height, width):
        limbs = self.head.limbs
        offsets = np.zeros((len(limbs), 2, height, width), np.float32)
        length = np.full((len(limbs), height, width), np.inf, np.float32)
        for index, (a, b) in enumerate(limbs):
            for person in np.flatnonzero(labelled[:, a] & labelled[:, b]):
                _claim(offsets[index], length[index], cells[person, a], cells[person, b], self.guiding_side)
        return offsets, np.isfinite(length)


def _patch(point: np.ndarray, side: int, height: int, width: int):
    """Rows, cols and centres (in cells) of the side x side cells nearest `point`, inside the grid."""
    first = np.floor(point).astype(int) - side // 2
    rows, cols = np.meshgrid(first[1] + np.arange(side), first[0] + np.arange(side), indexing="ij")
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    rows, cols = rows[inside], cols[inside]
    return rows, cols, np.stack((cols + 0.5, rows + 0.5), axis=-1).astype(np.float32)


def _claim(offsets: np.ndarray, lengths: np.ndarray, near: np.ndarray, target: np.ndarray, side: int) -> None:
    """Point the side x side cells nearest `near` at `target` where this offset is shorter than theirs."""
    rows, cols, centres = _patch(near, side, *lengths.shape)
    vectors = target - centres
    norm = np.hypot(vectors[:, 0], vectors[:, 1])
    shorter = norm < lengths[rows, cols]
    rows, cols = rows[shorter], cols[shorter]
    offsets[:, rows, cols] = vectors[shorter].T
    lengths[rows, cols] = norm[shorter]
