"""People's keypoints -> OpenPose training targets: part heatmaps (plus background) and part
affinity fields, on the network's output grid."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PafEncoder:
    """Targets for keypoints given in input pixels (v > 0: labelled); `limbs` as in heads.paf."""

    limbs: tuple
    num_parts: int = 18
    stride: int = 8
    sigma: float = 7.0       # heatmap spread, input pixels
    limb_width: float = 1.0  # field half-width, output cells

    def __call__(self, keypoints: np.ndarray, height: int, width: int):
        """(heatmaps (parts + 1, h, w), pafs (2 * limbs, h, w)) for an output grid h x w."""
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        centres = np.stack(((xs + 0.5) * self.stride - 0.5, (ys + 0.5) * self.stride - 0.5), axis=-1)
        heatmaps = np.zeros((self.num_parts + 1, height, width), np.float32)
        for part in range(self.num_parts):
            for x, y, v in keypoints[:, part]:
                if v > 0:
                    distance2 = ((centres - (x, y)) ** 2).sum(-1)
                    np.maximum(heatmaps[part], np.exp(-distance2 / (2 * self.sigma ** 2)), out=heatmaps[part])
        heatmaps[-1] = 1.0 - heatmaps[:-1].max(axis=0)
        pafs = np.zeros((2 * len(self.limbs), height, width), np.float32)
        for a, b, channel_x, channel_y in self.limbs:
            self._limb_field(pafs, keypoints, a, b, channel_x, channel_y, centres / self.stride)
        return heatmaps, pafs

    def _limb_field(self, pafs, keypoints, a, b, channel_x, channel_y, cells) -> None:
        count = np.zeros(cells.shape[:2], np.float32)
        for person in keypoints:
            if person[a, 2] <= 0 or person[b, 2] <= 0:
                continue
            start, end = person[a, :2] / self.stride, person[b, :2] / self.stride
            length = np.linalg.norm(end - start)
            if length < 1e-3:
                continue
            unit = (end - start) / length
            offset = cells - start
            along = offset @ unit
            across = np.abs(offset @ np.array([-unit[1], unit[0]], np.float32))
            on_limb = (along >= 0) & (along <= length) & (across <= self.limb_width)
            pafs[channel_x][on_limb] += unit[0]
            pafs[channel_y][on_limb] += unit[1]
            count += on_limb
        covered = count > 0
        pafs[channel_x][covered] /= count[covered]
        pafs[channel_y][covered] /= count[covered]
