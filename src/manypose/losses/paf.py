"""Lightweight OpenPose's loss (Osokin, 2018) from every stage's raw maps and the targets of
encoders.paf: for the initial stage and each refinement stage, half the squared error of the
heatmaps (parts and background) and of the part affinity fields, summed over cells and divided
by the batch size; each stage's maps learn the same targets. Two items, the heatmaps' and the
fields' over all stages; the total is their sum.

Unlearnt cells: the original masks crowds (their segmentations); samples here carry boxes, so
the cells of crowd boxes and of people without a labelled keypoint are masked, in every channel.
Raw maps: heatmaps (B, stages, parts + 1, H, W) and fields (B, stages, 2 * limbs, H, W), the
network's `raw_outputs`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..encoders.cifcaf import ignored_boxes, ignored_cells
from ..encoders.paf import PafEncoder
from .batched import batched


@dataclass(frozen=True)
class PafTargets:
    """One image's targets on the output grid: heatmaps (parts + 1, H, W), fields (2 * limbs,
    H, W), mask (H, W) float32, 0 where nothing is learnt."""

    heatmaps: np.ndarray
    fields: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class PafTargetMaker:
    """One augmented sample's targets for a square input of `size` pixels (run in the data
    loading workers)."""

    encoder: PafEncoder

    def __call__(self, sample, size: int) -> PafTargets:
        cells = -(-size // self.encoder.stride)  # the network's stride-2 layers round up
        heatmaps, fields = self.encoder(sample.keypoints, cells, cells)
        people = np.asarray(sample.keypoints, np.float64).reshape(-1, self.encoder.num_parts, 3)
        unlearnt = ignored_cells(ignored_boxes(people, sample.boxes, sample.crowd_boxes) / self.encoder.stride,
                                 0.0, cells, cells)
        return PafTargets(heatmaps, fields, (~unlearnt).astype(np.float32))


def masked_l2(predicted: Tensor, truth: Tensor, mask: Tensor) -> Tensor:
    """Half the squared error where the mask is 1, summed: predicted (B, S, C, H, W) against
    truth (B, C, H, W) for every stage S, mask (B, H, W)."""
    error = (predicted - truth[:, None]) * mask[:, None, None]
    return 0.5 * (error * error).sum()


class PafLoss(nn.Module):
    """`forward((heatmaps, fields), targets)` -> (total, items (2,) detached), in `names` order;
    `targets(sample, size)` makes one image's targets."""

    names = ("heatmaps", "fields")

    def __init__(self, encoder: PafEncoder):
        super().__init__()
        self.targets = PafTargetMaker(encoder)

    def forward(self, raw_outputs: Sequence[Tensor], targets: Sequence[PafTargets]) -> tuple[Tensor, Tensor]:
        if len(raw_outputs) != 2:
            raise ValueError(f"{len(raw_outputs)} raw outputs for the stages' heatmaps and fields")
        device = raw_outputs[0].device
        mask = batched(targets, "mask", device)
        items = []
        for raw, name in zip(raw_outputs, self.names):
            truth = batched(targets, name, device)
            if raw.shape[0] != truth.shape[0] or raw.shape[2:] != truth.shape[1:]:
                raise ValueError(f"the {name} are {tuple(raw.shape)} (batch, stages, ...), their targets "
                                 f"{tuple(truth.shape)}")
            items.append(masked_l2(raw.float(), truth, mask))
        items = torch.stack(items) / len(targets)
        return items.sum(), items.detach()
