"""OpenPifPaf's composite-field loss (its default since 0.13) from the heads' raw maps and the
targets of encoders.cifcaf, per head three items, each summed over cells and divided by the
batch size:
- confidence: a focal binary cross-entropy (alpha 0.5, gamma 1), written as OpenPifPaf writes
  it: a smooth-L1 step of the logit towards a target that moves it by the focal loss's
  gradient; on claimed cells weighted by the predicted spread, 0.5 l exp(-s) + 0.5 s with
  s = 3 tanh(b / 3). (OpenPifPaf also zeroes it on background logits below -15: in float32
  the step is lost in the logit's rounding there already, well before -15);
- regression: the Laplace loss of each vector with the predicted spread, |d| / sigma exp(-log b)
  + log b, where |d| joins the (x, y) error and the spread floor, sigma is half the keypoint's
  scale (the predicted one where the person's scale is unknown), log b = s / 2 + ln 2;
- scale: a smooth L1 of the error of the softplus scale, relative to the scale (+ 0.1).
Distances above 5 are soft-clamped, 5 + ln(l - 4). Every item weighs 1 in the total.
Raw maps: (B, fields, components, H, W), components b, confidence logit, regressions relative
to the cell, scales before softplus (models.pifpaf's `raw_outputs`), CIF then CAF.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..encoders.cifcaf import CifCafEncoder, CifCafTargets
from .batched import batched

FOCAL_ALPHA = 0.5
SOFT_CLAMP = 5.0
SIGMA_FROM_SCALE = 0.5    # a keypoint's scale holds about 68 % of its position error at sigma = scale / 2
LOG_2 = 0.69314           # ln 2 as OpenPifPaf rounds it
SCALE_RELATIVE_EPS = 0.1


@dataclass(frozen=True)
class FieldBatch:
    """One head's targets of a batch as tensors, in encoders.cifcaf's layout."""

    confidence: Tensor       # (B, F, H, W)
    confidence_mask: Tensor  # (B, F, H, W) bool
    regression: Tensor       # (B, F, V, 2, H, W)
    scale: Tensor            # (B, F, V, H, W)
    scale_mask: Tensor       # (B, F, H, W) bool
    spread_min: float

    @classmethod
    def stacked(cls, fields: Sequence, device) -> "FieldBatch":
        names = ("confidence", "confidence_mask", "regression", "scale", "scale_mask")
        return cls(*(batched(fields, name, device) for name in names), float(fields[0].spread_min))


@dataclass(frozen=True)
class FieldTargetMaker:
    """One augmented sample's CIF / CAF targets on the output grid of a square input of `size`
    pixels (run in the data loading workers)."""

    encoder: CifCafEncoder

    def __call__(self, sample, size: int) -> CifCafTargets:
        cells = grid_size(size, self.encoder.cif_head)
        return self.encoder(sample.keypoints, cells, cells, sample.boxes, sample.crowd_boxes)


def grid_size(size: int, head) -> int:
    """Cells a side of a head's maps for an input side of `size` pixels (as models.pifpaf: the
    features a side of ceil(size / backbone stride), upsampled and cropped)."""
    features = -(-size // (head.stride * head.upsample))
    return features * head.upsample - head.upsample + 1


class CompositeFieldsLoss(nn.Module):
    """`forward((cif_raw, caf_raw), targets)` -> (total, items (6,) detached), in `names` order;
    `targets(sample, size)` makes one image's targets."""

    names = ("cif_confidence", "cif_regression", "cif_scale", "caf_confidence", "caf_regression", "caf_scale")

    def __init__(self, cif_head, caf_head, scale_spread: float = 1.0):
        super().__init__()
        self.heads = (cif_head, caf_head)
        self.scale_spread = scale_spread  # OpenPifPaf's --b-scale
        self.targets = FieldTargetMaker(CifCafEncoder(cif_head, caf_head))

    def forward(self, raw_outputs: Sequence[Tensor], targets: Sequence[CifCafTargets]) -> tuple[Tensor, Tensor]:
        if len(raw_outputs) != 2:
            raise ValueError(f"{len(raw_outputs)} raw outputs for a cif and a caf head")
        items = []
        for raw, head, name in zip(raw_outputs, self.heads, ("cif", "caf")):
            raw = raw.float()
            batch = FieldBatch.stacked([getattr(target, name) for target in targets], raw.device)
            expected = (head.fields, head.components) + tuple(batch.confidence.shape[2:])
            if tuple(raw.shape[1:]) != expected:
                raise ValueError(f"the {name} maps are {tuple(raw.shape[1:])}, their targets {expected}")
            items += [confidence_loss(raw, batch), regression_loss(raw, batch),
                      scale_loss(raw, batch, self.scale_spread)]
        items = torch.stack(items) / raw_outputs[0].shape[0]
        return items.sum(), items.detach()


def soft_clamp(values: Tensor) -> Tensor:
    """Values above SOFT_CLAMP grow logarithmically beyond it (their gradient fades, no jump)."""
    return torch.where(values > SOFT_CLAMP, SOFT_CLAMP + torch.log1p(values.clamp(min=SOFT_CLAMP) - SOFT_CLAMP),
                       values)


def spread_log(raw: Tensor) -> Tensor:
    """The predicted log spread s of every cell (B, F, H, W), bounded to (-3, 3)."""
    return 3.0 * torch.tanh(raw[:, :, 0] / 3.0)


def confidence_loss(raw: Tensor, batch: FieldBatch) -> Tensor:
    mask = batch.confidence_mask
    logits, truth = raw[:, :, 1][mask], batch.confidence[mask]
    sign = torch.where(truth > 0, 1.0, -1.0)
    detached = logits.detach()
    wrong = torch.sigmoid(-sign * detached)  # the probability given to the wrong answer
    focal = FOCAL_ALPHA * (wrong + (1.0 - wrong) * F.softplus(-sign * detached))
    losses = soft_clamp(F.smooth_l1_loss(logits, detached + sign * wrong * focal, reduction="none"))
    claimed = truth > 0
    spread = spread_log(raw)[mask]
    losses = torch.where(claimed, 0.5 * losses * torch.exp(-spread) + 0.5 * spread, losses)
    return losses.sum()


def regression_loss(raw: Tensor, batch: FieldBatch) -> Tensor:
    mask = batch.confidence > 0  # where the regressions are defined
    vectors = batch.regression.shape[2]
    log_b = 0.5 * spread_log(raw)[mask] + LOG_2
    total = raw.new_zeros(())
    for vector in range(vectors):
        predicted = raw[:, :, 2 + 2 * vector:4 + 2 * vector].permute(0, 1, 3, 4, 2)[mask]
        truth = batch.regression[:, :, vector].permute(0, 1, 3, 4, 2)[mask]
        raw_scale = raw[:, :, 2 + 2 * vectors + vector][mask]
        known = batch.scale_mask[mask]
        scale = torch.where(known, batch.scale[:, :, vector][mask], F.softplus(raw_scale.detach()))
        error = torch.sqrt(((predicted - truth) ** 2).sum(-1) + batch.spread_min ** 2)
        losses = soft_clamp(error / (SIGMA_FROM_SCALE * scale))
        total = total + (losses * torch.exp(-log_b) + log_b).sum()
    return total


def scale_loss(raw: Tensor, batch: FieldBatch, spread: float) -> Tensor:
    mask = batch.scale_mask
    vectors = batch.scale.shape[2]
    total = raw.new_zeros(())
    for vector in range(vectors):
        predicted = F.softplus(raw[:, :, 2 + 2 * vectors + vector][mask])
        truth = batch.scale[:, :, vector][mask]
        relative = soft_clamp((predicted - truth).abs() / (spread * (SCALE_RELATIVE_EPS + truth)))
        total = total + F.smooth_l1_loss(relative, torch.zeros_like(relative), reduction="none").sum()
    return total
