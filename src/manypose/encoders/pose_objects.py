"""Training targets of poses as objects (YOLO-pose): which anchor learns which person.

The task-aligned assigner (TOOD, Feng et al. 2021, as YOLOv8 and YOLO11 train it) ranks the
anchors whose centre lies inside a ground-truth box by how well they already do both tasks,
score^alpha * CIoU^beta, keeps the best `top_k` per ground truth, gives an anchor claimed by
several ground truths to the one its box overlaps most, and sets each chosen anchor's target
score to its alignment, rescaled so that a ground truth's best anchor gets that anchor's IoU.

Ground truths come padded per image, (B, M, ...) with a mask (see `pad_targets`), so the
whole batch is assigned at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor


@dataclass(frozen=True)
class PoseTargets:
    """One image's people: boxes (N, 4) xyxy and keypoints (N, K, 3) (x, y, visibility; 0 =
    not labelled) in input pixels, class ids (N,) (all 0 when None)."""

    boxes: Tensor
    keypoints: Tensor
    classes: Optional[Tensor] = None


@dataclass(frozen=True)
class PaddedTargets:
    """A batch's targets padded to the most people in one image, M: labels (B, M), boxes
    (B, M, 4), keypoints (B, M, K, 3), mask (B, M) (True where a person is real)."""

    labels: Tensor
    boxes: Tensor
    keypoints: Tensor
    mask: Tensor

    def to(self, device: torch.device) -> "PaddedTargets":
        return PaddedTargets(self.labels.to(device), self.boxes.to(device), self.keypoints.to(device),
                             self.mask.to(device))


def pad_targets(targets: Sequence[PoseTargets]) -> PaddedTargets:
    """Stack per-image targets (tensors or arrays) into padded batch tensors with a mask."""
    boxes = [torch.as_tensor(t.boxes, dtype=torch.float32).reshape(-1, 4) for t in targets]
    keypoints = [torch.as_tensor(t.keypoints, dtype=torch.float32) for t in targets]
    num_keypoints = keypoints[0].shape[1]
    most = max(len(b) for b in boxes)
    padded = PaddedTargets(
        labels=torch.zeros(len(targets), most, dtype=torch.long),
        boxes=torch.zeros(len(targets), most, 4),
        keypoints=torch.zeros(len(targets), most, num_keypoints, 3),
        mask=torch.zeros(len(targets), most, dtype=torch.bool),
    )
    for image, target in enumerate(targets):
        count = len(boxes[image])
        padded.boxes[image, :count] = boxes[image]
        padded.keypoints[image, :count] = keypoints[image].reshape(count, num_keypoints, 3)
        padded.mask[image, :count] = True
        if target.classes is not None:
            padded.labels[image, :count] = torch.as_tensor(target.classes, dtype=torch.long).reshape(-1)
    return padded


def complete_iou(boxes_a: Tensor, boxes_b: Tensor, eps: float = 1e-7) -> Tensor:
    """CIoU (Zheng et al. 2020) of xyxy boxes, broadcast over the leading dimensions: IoU less
    the squared centre distance over the enclosing box's squared diagonal, less an aspect-ratio
    term whose trade-off weight is held constant for the gradient."""
    ax1, ay1, ax2, ay2 = boxes_a.unbind(-1)
    bx1, by1, bx2, by2 = boxes_b.unbind(-1)
    width_a, height_a = ax2 - ax1, ay2 - ay1 + eps
    width_b, height_b = bx2 - bx1, by2 - by1 + eps
    intersection = ((torch.minimum(ax2, bx2) - torch.maximum(ax1, bx1)).clamp(min=0)
                    * (torch.minimum(ay2, by2) - torch.maximum(ay1, by1)).clamp(min=0))
    union = width_a * height_a + width_b * height_b - intersection + eps
    iou = intersection / union
    enclosing_diagonal2 = ((torch.maximum(ax2, bx2) - torch.minimum(ax1, bx1)) ** 2
                           + (torch.maximum(ay2, by2) - torch.minimum(ay1, by1)) ** 2 + eps)
    centre_distance2 = ((bx1 + bx2 - ax1 - ax2) ** 2 + (by1 + by2 - ay1 - ay2) ** 2) / 4
    aspect = (4 / math.pi ** 2) * (torch.atan(width_b / height_b) - torch.atan(width_a / height_a)) ** 2
    with torch.no_grad():
        trade_off = aspect / (1 - iou + aspect + eps)
    return iou - (centre_distance2 / enclosing_diagonal2 + aspect * trade_off)


@dataclass(frozen=True)
class Assignment:
    """Per anchor: target box (B, A, 4) xyxy in pixels, target score (B, A, C) (0 off the
    foreground), foreground (B, A) and the index of the assigned ground truth (B, A) (0 off
    the foreground), to gather its keypoints."""

    boxes: Tensor
    scores: Tensor
    foreground: Tensor
    gt_index: Tensor


@dataclass(frozen=True)
class TaskAlignedAssigner:
    """Task-aligned assignment. `min_box_side`: ground-truth sides shorter than this (pixels)
    are widened to it about their centre before the inside-the-box test, so a small person
    still covers anchors (YOLOv8/YOLO11 take the second level's stride)."""

    top_k: int = 10
    alpha: float = 0.5
    beta: float = 6.0
    min_box_side: float = 16.0
    eps: float = 1e-9

    @torch.no_grad()
    def __call__(self, scores: Tensor, boxes: Tensor, anchor_points: Tensor, gt_labels: Tensor,
                 gt_boxes: Tensor, gt_mask: Tensor) -> Assignment:
        """scores (B, A, C) after sigmoid, boxes (B, A, 4) xyxy and anchor_points (A, 2) in
        pixels; gt_labels (B, M), gt_boxes (B, M, 4) xyxy in pixels, gt_mask (B, M) bool."""
        if gt_boxes.shape[1] == 0:
            return Assignment(torch.zeros_like(boxes), torch.zeros_like(scores),
                              torch.zeros(scores.shape[:2], dtype=torch.bool, device=scores.device),
                              torch.zeros(scores.shape[:2], dtype=torch.long, device=scores.device))
        candidates = self._anchors_inside(anchor_points, gt_boxes) & gt_mask.bool().unsqueeze(-1)
        alignment, overlaps = self._alignment(scores, boxes, gt_labels, gt_boxes, candidates)
        positives = self._best_anchors(alignment) & candidates
        positives = self._one_gt_per_anchor(positives, overlaps)
        foreground = positives.any(1)
        gt_index = positives.float().argmax(1)
        target_labels = gt_labels.long().gather(1, gt_index)
        target_boxes = gt_boxes.gather(1, gt_index.unsqueeze(-1).expand(-1, -1, 4))
        strength = self._normalized_alignment(alignment, overlaps, positives)
        one_hot = torch.nn.functional.one_hot(target_labels.clamp(min=0), scores.shape[-1]).to(scores.dtype)
        return Assignment(target_boxes, one_hot * strength.unsqueeze(-1), foreground, gt_index)

    def _anchors_inside(self, anchor_points: Tensor, gt_boxes: Tensor) -> Tensor:
        """(B, M, A): anchor centre strictly inside the (widened) ground-truth box."""
        centres = (gt_boxes[..., :2] + gt_boxes[..., 2:]) / 2
        half_sizes = (gt_boxes[..., 2:] - gt_boxes[..., :2]).clamp(min=self.min_box_side) / 2
        top_left = (centres - half_sizes).unsqueeze(2)
        bottom_right = (centres + half_sizes).unsqueeze(2)
        return (((anchor_points - top_left) > self.eps) & ((bottom_right - anchor_points) > self.eps)).all(-1)

    def _alignment(self, scores: Tensor, boxes: Tensor, gt_labels: Tensor, gt_boxes: Tensor,
                   candidates: Tensor) -> tuple[Tensor, Tensor]:
        """(B, M, A) alignment metric and CIoU (clamped at 0), computed on candidate pairs only."""
        image, gt, anchor = candidates.nonzero(as_tuple=True)
        overlap = complete_iou(gt_boxes[image, gt], boxes[image, anchor]).clamp(min=0)
        score = scores[image, anchor, gt_labels[image, gt].long()]
        overlaps = torch.zeros(candidates.shape, dtype=boxes.dtype, device=boxes.device)
        alignment = torch.zeros(candidates.shape, dtype=scores.dtype, device=scores.device)
        overlaps[image, gt, anchor] = overlap
        alignment[image, gt, anchor] = score.pow(self.alpha) * overlap.pow(self.beta)
        return alignment, overlaps

    def _best_anchors(self, alignment: Tensor) -> Tensor:
        """(B, M, A): the top_k anchors by alignment of each ground truth."""
        top = alignment.topk(min(self.top_k, alignment.shape[-1]), dim=-1).indices
        return torch.zeros_like(alignment, dtype=torch.bool).scatter_(-1, top, True)

    @staticmethod
    def _one_gt_per_anchor(positives: Tensor, overlaps: Tensor) -> Tensor:
        """An anchor chosen by several ground truths keeps only the one it overlaps most."""
        shared = (positives.sum(1) > 1).unsqueeze(1)
        best = torch.zeros_like(positives).scatter_(1, overlaps.argmax(1, keepdim=True), True)
        return torch.where(shared, best, positives)

    def _normalized_alignment(self, alignment: Tensor, overlaps: Tensor, positives: Tensor) -> Tensor:
        """(B, A): alignment over its ground truth's best alignment, times that ground truth's
        best IoU, so scores stay in 0..1 and track box quality."""
        alignment = alignment * positives
        best_alignment = alignment.amax(-1, keepdim=True)
        best_overlap = (overlaps * positives).amax(-1, keepdim=True)
        return (alignment * best_overlap / (best_alignment + self.eps)).amax(1)
