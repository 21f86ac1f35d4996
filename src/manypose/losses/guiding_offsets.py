"""SimplePose V2's (OffsetGuided) loss from the network's fields and the targets of
encoders.guiding_offsets, three items:
- heatmaps: the focal L2 loss, 0.5 (s - t)^2 |1 - s'| with s' = s where the target t is
  foreground (t >= 0.01), else 1 - s: confident mistakes weigh most, easy background least;
  summed over the cells outside regions to ignore, divided by the batch size;
- refinement and guiding: the L1 error of each offset component in input pixels, square-rooted
  (the seed's --sqrt-re: long limbs do not drown short ones; errors below 1e-5 are left out, where
  the root's slope has no bound), averaged over the labelled components (sum / (1 + count)).
Weights: heatmaps 1, offsets 12.5, the seed's 100 for a mean it also divides by its batch of 8.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from ..encoders.cifcaf import ignored_boxes
from ..encoders.guiding_offsets import GuidingOffsetEncoder, GuidingOffsetTargets
from .batched import batched

FOREGROUND = 0.01   # the seed's tau: heatmap targets from which a cell is foreground
FOCAL_GAMMA = 1.0
OFFSET_MARGIN = 1e-5
WEIGHTS = {"heatmaps": 1.0, "refinement": 12.5, "guiding": 12.5}
TARGET_FIELDS = ("heatmaps", "heatmap_mask", "refinement", "refinement_mask", "guiding", "guiding_mask")


@dataclass(frozen=True)
class GuidingOffsetTargetMaker:
    """One augmented sample's targets on the output grid of a square input of `size` pixels (run
    in the data loading workers): crowds and people without labelled keypoints are ignored."""

    encoder: GuidingOffsetEncoder

    def __call__(self, sample, size: int) -> GuidingOffsetTargets:
        cells = size // self.encoder.head.stride
        return self.encoder(sample.keypoints, cells, cells, ignored_boxes(sample.keypoints, sample.boxes,
                                                                          sample.crowd_boxes))


def focal_l2(predicted: Tensor, target: Tensor) -> Tensor:
    """Element-wise focal L2 loss of confidences in 0..1."""
    right = torch.where(target >= FOREGROUND, predicted, 1.0 - predicted)
    return 0.5 * (predicted - target) ** 2 * torch.abs(1.0 - right) ** FOCAL_GAMMA


def rooted_l1(predicted: Tensor, target: Tensor, mask: Tensor, stride: int) -> Tensor:
    """Mean square-rooted L1 error in input pixels of the masked components: sum / (1 + count)."""
    errors = torch.abs(predicted - target)[mask] * stride
    errors = errors[errors >= OFFSET_MARGIN]
    return torch.sqrt(errors).sum() / (1 + errors.numel())


class GuidingOffsetsLoss(nn.Module):
    """`forward((fields,), targets)` -> (total, items (3,) detached) in `weights` order;
    `targets(sample, size)` makes one image's targets."""

    weights = WEIGHTS

    def __init__(self, encoder: GuidingOffsetEncoder):
        super().__init__()
        self.head = encoder.head
        self.targets = GuidingOffsetTargetMaker(encoder)

    def forward(self, raw_outputs: Sequence[Tensor], targets: Sequence[GuidingOffsetTargets]):
        fields = raw_outputs[0]
        batch = {name: batched(targets, name, fields.device) for name in TARGET_FIELDS}
        count, height, width = len(self.head.skeleton), fields.shape[2], fields.shape[3]
        heatmaps = fields[:, :count]
        refinement = fields[:, count:3 * count].reshape(-1, count, 2, height, width)
        guiding = fields[:, 3 * count:].reshape(-1, len(self.head.limbs), 2, height, width)
        heatmap_mask = batch["heatmap_mask"][:, None].expand_as(heatmaps)
        items = torch.stack((
            focal_l2(heatmaps[heatmap_mask], batch["heatmaps"][heatmap_mask]).sum() / len(targets),
            rooted_l1(refinement, batch["refinement"], _per_component(batch["refinement_mask"]), self.head.stride),
            rooted_l1(guiding, batch["guiding"], _per_component(batch["guiding_mask"]), self.head.stride)))
        weighted = items * torch.tensor(list(self.weights.values()), device=items.device)
        return weighted.sum(), weighted.detach()


def _per_component(mask: Tensor) -> Tensor:
    """A (B, F, h, w) mask for both components of (B, F, 2, h, w) offsets."""
    return mask[:, :, None].expand(-1, -1, 2, -1, -1)
