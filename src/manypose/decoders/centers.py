"""Poses from a centre heatmap, keypoint regression, keypoint heatmaps and offsets, in
vectorized numpy: the decoding that MoveNet MultiPose's graph runs after its heads
(CenterNet-style, Zhou et al. 2019), step for step in float32 so that every backend's outputs
decode as the original does.

For one image, on the output grid (H, W) (cell (i, j) at input pixel (stride j, stride i)):
1. People: centre scores that are the largest in their `peak_window` square (equal within
   `peak_tolerance`), the others zeroed; the `max_people` best cells (ties: the first in
   row-major order), whatever their score.
2. Each person's box: its cell plus the box offset, +- half the box size (sizes below zero
   count as zero), clipped to the grid.
3. Each keypoint: its regressed position (the person's cell plus the regression) weights the
   keypoint heatmap by exp(-d^2 / (min(H, W) * regression_spread)), d the distance in cells,
   zero outside the person's box (rows and columns from its top-left edge, excluding the
   bottom-right one); the keypoint lands on the best-weighted cell plus its offset. Its score
   is the best weighted value over all people at that cell.
4. The person's score: the centre score times the mean score of its keypoints scored above
   `keypoint_score_threshold` (0 when none is).
People scored 0 (the graph's suppressed slots) or below `score_threshold` are dropped.

Layouts (channel first, batch removed): centres (1, H, W) and keypoint heatmaps (K, H, W) are
scores (after the sigmoid); keypoint regression and offsets (2K, H, W) hold (dy, dx) of keypoint
k at channels 2k and 2k + 1; box sizes and offsets (2, H, W) hold (dy, dx); all in cells.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .displacements import window_maximum


@dataclass(frozen=True)
class CenterDecoder:
    """Named outputs {"centers", "keypoint_heatmaps", "keypoint_regression", "keypoint_offsets",
    "box_sizes", "box_offsets"} -> people in input pixels."""

    stride: int = 4
    max_people: int = 6
    peak_window: int = 5
    peak_tolerance: float = 1.0132789611816406e-06
    regression_spread: float = 0.300048828125
    keypoint_score_threshold: float = 0.126953125
    score_threshold: float = 0.25
    max_detections: int = 300

    def __call__(self, outputs: dict[str, np.ndarray]):
        """-> boxes xyxy (N, 4), scores (N,), keypoints (N, K, 3) as x, y, score; best first."""
        rows, cols, centre_scores = self.people(outputs["centers"])
        boxes = self.boxes(outputs, rows, cols)
        positions, keypoint_scores = self.keypoints(outputs, rows, cols, boxes)
        counted = keypoint_scores > np.float32(self.keypoint_score_threshold)
        counts = np.maximum(counted.sum(axis=1), 1).astype(np.float32)
        scores = (centre_scores[:, None] * np.where(counted, keypoint_scores, 0)).sum(axis=1) * (1 / counts)
        kept = np.flatnonzero((scores > 0) & (scores >= self.score_threshold))
        kept = kept[np.argsort(-scores[kept], kind="stable")][:self.max_detections]
        keypoints = np.concatenate((positions[kept, :, ::-1] * self.stride, keypoint_scores[kept, :, None]), axis=2)
        boxes = boxes[kept][:, [1, 0, 3, 2]] * self.stride  # y0, x0, y1, x1 cells -> x0, y0, x1, y1 pixels
        return boxes.astype(np.float32), scores[kept].astype(np.float32), keypoints.astype(np.float32)

    def people(self, centres: np.ndarray):
        """Rows, columns and centre scores of the `max_people` best centre peaks."""
        centres = centres.astype(np.float32)
        peaks = np.abs(centres - window_maximum(centres, self.peak_window // 2)) < np.float32(self.peak_tolerance)
        scores = (centres * peaks)[0].ravel()
        best = np.argsort(-scores, kind="stable")[:self.max_people]
        rows, cols = np.divmod(best, centres.shape[2])
        return rows, cols, scores[best]

    def boxes(self, outputs, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(P, 4) boxes as y0, x0, y1, x1 in cells, clipped to the grid."""
        height, width = outputs["centers"].shape[1:]
        half = np.maximum(outputs["box_sizes"][:, rows, cols].T.astype(np.float32), 0) * np.float32(0.5)
        centre = np.stack((rows, cols), axis=1).astype(np.float32) + outputs["box_offsets"][:, rows, cols].T
        limits = np.array([height, width], np.float32)
        return np.concatenate((np.clip(centre - half, 0, limits), np.clip(centre + half, 0, limits)), axis=1)

    def keypoints(self, outputs, rows: np.ndarray, cols: np.ndarray, boxes: np.ndarray):
        """(P, K, 2) keypoint positions as y, x in cells and (P, K) their scores."""
        heatmaps = outputs["keypoint_heatmaps"].astype(np.float32)
        keypoint_count, height, width = heatmaps.shape
        regression = outputs["keypoint_regression"][:, rows, cols].T.reshape(len(rows), keypoint_count, 2)
        regressed = np.stack((rows, cols), axis=1).astype(np.float32)[:, None] + regression  # (P, K, 2)
        grid_y = np.arange(height, dtype=np.float32)[:, None]
        grid_x = np.arange(width, dtype=np.float32)
        inside = ((grid_y >= boxes[:, 0, None, None]) & (grid_y < boxes[:, 2, None, None])
                  & (grid_x >= boxes[:, 1, None, None]) & (grid_x < boxes[:, 3, None, None]))  # (P, H, W)
        # heatmaps * exp(-d^2 / spread) * inside, in place on one (P, K, H, W) array
        weighted = (grid_y - regressed[..., 0, None, None]) ** 2 + (grid_x - regressed[..., 1, None, None]) ** 2
        np.negative(weighted, out=weighted)
        weighted /= np.float32(min(height, width)) * np.float32(self.regression_spread)
        np.exp(weighted, out=weighted)
        weighted *= heatmaps
        weighted *= inside[:, None]
        best = weighted.reshape(*weighted.shape[:2], -1).argmax(axis=2)  # (P, K), the first of equals
        best_rows, best_cols = np.divmod(best, width)
        channels = np.arange(keypoint_count)
        offsets = outputs["keypoint_offsets"].reshape(keypoint_count, 2, height, width)
        offsets = offsets[channels, :, best_rows, best_cols]  # (P, K, 2)
        positions = np.stack((best_rows, best_cols), axis=2).astype(np.float32) + offsets
        return positions, weighted.max(axis=0)[channels, best_rows, best_cols]
