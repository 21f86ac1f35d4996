"""The YOLO-pose training loss (YOLOv8/YOLO11 definitions) from the head's raw per-level outputs.

Five terms, on the anchors the task-aligned assigner puts in the foreground unless said:
- box: 1 - CIoU with the assigned box, weighted by the anchor's target score;
- dfl: distribution focal loss of the l, t, r, b distance distributions (in stride units)
  against the two bins around the true distance;
- cls: binary cross-entropy of the class scores against the target scores, on all anchors;
- pose: 1 - exp(-OKS error) per labelled keypoint, the error scaled by the assigned box's
  area and the keypoint's sigma, so it weighs pixels as COCO's evaluation does;
- kobj: binary cross-entropy of the keypoint visibility logit against "labelled".
A head with KAPAO's keypoint objects also learns each labelled keypoint as an object of its own
class (`keypoint_object_targets`) by box, dfl and cls, with target score 1 as KAPAO's class
targets (a person-shaped box overlaps a keypoint's small square too little for an IoU-scaled
target to teach the class); pose and kobj stay the people's, as KAPAO's keypoint loss.
Box, dfl and cls are normalized by the sum of target scores, pose and kobj are means. Each is
multiplied by its gain; the total is their sum times the batch size (the gradient scale the
published training hyperparameters were tuned for).
"""
from __future__ import annotations

from dataclasses import astuple, dataclass, replace
from functools import partial
from typing import NamedTuple, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..decoders.yolo_pose import anchor_grid
from ..encoders.pose_objects import (Assignment, PaddedTargets, PoseTargets, TaskAlignedAssigner,
                                     complete_iou, pad_targets)
from ..skeleton import Skeleton

LOSS_NAMES = ("box", "pose", "kobj", "cls", "dfl")
DISTANCE_MARGIN = 0.01  # target distances stop this short of the last bin, so both neighbours exist
OKS_EPS = 1e-9


@dataclass(frozen=True)
class PoseLossGains:
    """Weights of the loss terms (YOLOv8/YOLO11 pose defaults), in LOSS_NAMES order."""

    box: float = 7.5
    pose: float = 12.0
    kobj: float = 1.0
    cls: float = 0.5
    dfl: float = 1.5


class Predictions(NamedTuple):
    """The raw levels flattened, anchors in level order, finest first."""

    box_logits: Tensor  # (B, A, 4, bins): l, t, r, b distance distributions
    class_logits: Tensor  # (B, A, C)
    keypoints: Tensor  # (B, A, K, D): raw offsets (x, y) and visibility logit
    anchors: Tensor  # (A, 2) cell centres in grid units
    strides: Tensor  # (A, 1)


def pose_targets(sample, size: int) -> PoseTargets:
    """One augmented sample's targets: its people as they are (the loss assigns them to anchors)."""
    return PoseTargets(torch.from_numpy(sample.boxes), torch.from_numpy(sample.keypoints))


def keypoint_object_targets(sample, size: int, object_size: float) -> PoseTargets:
    """One sample's people (class 0) and, as KAPAO trains, each labelled keypoint as an object of
    its own (class 1 + its index): a square of `object_size` times the input side around it,
    with no keypoints of its own."""
    people = torch.from_numpy(sample.boxes).reshape(-1, 4)
    keypoints = torch.from_numpy(sample.keypoints)
    person, keypoint = torch.nonzero(keypoints[..., 2] > 0, as_tuple=True)
    centres = keypoints[person, keypoint, :2]
    half = object_size * size / 2
    parts = torch.cat((centres - half, centres + half), 1)
    classes = torch.cat((torch.zeros(len(people), dtype=torch.long), keypoint + 1))
    no_keypoints = torch.zeros(len(parts), *keypoints.shape[1:])
    return PoseTargets(torch.cat((people, parts)), torch.cat((keypoints, no_keypoints)), classes)


class PoseObjectsLoss(nn.Module):
    """Loss of a YOLO-pose head; `forward(raw_levels, targets)` -> (total, items) in `names`
    order; `targets(sample, size)` makes one image's targets."""

    names = LOSS_NAMES
    targets = staticmethod(pose_targets)

    def __init__(self, skeleton: Skeleton, num_classes: int = 1, strides: Sequence[int] = (8, 16, 32),
                 box_bins: int = 16, keypoint_dims: int = 3, gains: PoseLossGains = PoseLossGains(),
                 top_k: int = 10):
        super().__init__()
        self.num_classes = num_classes
        self.keypoint_objects = False  # classes 1.. are keypoints (for_head sets it)
        self.num_keypoints = len(skeleton)
        self.keypoint_dims = keypoint_dims
        self.strides = tuple(int(s) for s in strides)
        self.box_bins = box_bins
        self.gains = gains
        # small people are widened to the second level's cell so they still cover anchors
        self.assigner = TaskAlignedAssigner(top_k=top_k, min_box_side=float(self.strides[min(1, len(strides) - 1)]))
        self.register_buffer("sigmas", torch.tensor(skeleton.sigmas, dtype=torch.float32), persistent=False)
        self.register_buffer("bins", torch.arange(box_bins, dtype=torch.float32), persistent=False)

    @classmethod
    def for_head(cls, head, gains: PoseLossGains = PoseLossGains(),
                 top_k: int = 10) -> "PoseObjectsLoss":
        """The loss of a network with this head (a heads.PoseObjectsHead)."""
        loss = cls(head.skeleton, head.num_classes, head.strides, head.box_bins, head.keypoint_dims, gains, top_k)
        if head.keypoint_objects:
            loss.keypoint_objects = True
            loss.targets = partial(keypoint_object_targets, object_size=head.keypoint_object_size)
        return loss

    @property
    def level_channels(self) -> int:
        return 4 * self.box_bins + self.num_classes + self.num_keypoints * self.keypoint_dims

    def forward(self, raw_levels: Sequence[Tensor],
                targets: Union[PaddedTargets, Sequence[PoseTargets]]) -> tuple[Tensor, Tensor]:
        """raw_levels: per stride (B, 4*bins + classes + K*D, H, W); targets: per image, or
        padded. Returns the total (scalar, for backward) and the gained items (5,), detached."""
        predictions = self.flatten(raw_levels)
        if not isinstance(targets, PaddedTargets):
            targets = pad_targets(targets)
        targets = targets.to(predictions.class_logits.device)
        boxes = self.decode_boxes(predictions)
        pixel_anchors = predictions.anchors * predictions.strides
        assignment = self.assigner(predictions.class_logits.detach().sigmoid(), boxes.detach(), pixel_anchors,
                                   targets.labels, targets.boxes, targets.mask)
        if self.keypoint_objects:
            assignment = full_keypoint_object_scores(assignment, targets.labels)
        score_sum = assignment.scores.sum().clamp(min=1)
        box, dfl = self._box_losses(predictions, boxes, assignment, score_sum)
        cls = F.binary_cross_entropy_with_logits(predictions.class_logits, assignment.scores,
                                                 reduction="sum") / score_sum
        pose, kobj = self._keypoint_losses(predictions, assignment, targets)
        items = torch.stack((box, pose, kobj, cls, dfl)) * torch.tensor(astuple(self.gains), device=box.device)
        return items.sum() * len(boxes), items.detach()

    def flatten(self, raw_levels: Sequence[Tensor]) -> Predictions:
        if len(raw_levels) != len(self.strides):
            raise ValueError(f"{len(raw_levels)} levels for {len(self.strides)} strides")
        batch = raw_levels[0].shape[0]
        for level in raw_levels:
            if level.shape[1] != self.level_channels:
                raise ValueError(f"a level has {level.shape[1]} channels, the head {self.level_channels}")
        # the loss is computed in float32 whatever precision the network ran in
        flat = torch.cat([level.reshape(batch, level.shape[1], -1) for level in raw_levels], 2).float()
        flat = flat.permute(0, 2, 1)
        box_logits, class_logits, keypoints = flat.split(
            (4 * self.box_bins, self.num_classes, self.num_keypoints * self.keypoint_dims), -1)
        anchors, strides = anchor_grid([level.shape[2:] for level in raw_levels], self.strides)
        return Predictions(
            box_logits=box_logits.reshape(batch, -1, 4, self.box_bins),
            class_logits=class_logits,
            keypoints=keypoints.reshape(batch, -1, self.num_keypoints, self.keypoint_dims),
            anchors=torch.from_numpy(anchors.T).to(flat.device),
            strides=torch.from_numpy(strides).to(flat.device).unsqueeze(-1),
        )

    def decode_boxes(self, predictions: Predictions) -> Tensor:
        """(B, A, 4) xyxy in input pixels: the expected distance of each side's distribution."""
        distances = predictions.box_logits.softmax(-1) @ self.bins
        anchors = predictions.anchors
        return torch.cat((anchors - distances[..., :2], anchors + distances[..., 2:]), -1) * predictions.strides

    @staticmethod
    def decode_keypoints(predictions: Predictions) -> Tensor:
        """(B, A, K, 2) keypoints in input pixels: offsets of up to two cells around the anchor
        cell (as models.yolo_pose.PoseHead.decode_keypoints)."""
        offsets = predictions.keypoints[..., :2]
        cells = offsets * 2.0 + (predictions.anchors - 0.5).unsqueeze(1)
        return cells * predictions.strides.unsqueeze(1)

    def _box_losses(self, predictions: Predictions, boxes: Tensor, assignment: Assignment,
                    score_sum: Tensor) -> tuple[Tensor, Tensor]:
        foreground = assignment.foreground
        weight = assignment.scores[foreground].sum(-1)
        target_boxes = assignment.boxes[foreground]
        overlap = complete_iou(boxes[foreground], target_boxes)
        box = ((1.0 - overlap) * weight).sum() / score_sum
        anchor_index = foreground.nonzero(as_tuple=True)[1]
        anchors, strides = predictions.anchors[anchor_index], predictions.strides[anchor_index]
        target_cells = target_boxes / strides
        target_distances = torch.cat((anchors - target_cells[:, :2], target_cells[:, 2:] - anchors), -1)
        target_distances = target_distances.clamp(0, self.box_bins - 1 - DISTANCE_MARGIN)
        dfl = distribution_focal_loss(predictions.box_logits[foreground], target_distances).mean(-1)
        return box, (dfl * weight).sum() / score_sum

    def _keypoint_losses(self, predictions: Predictions, assignment: Assignment,
                         targets: PaddedTargets) -> tuple[Tensor, Tensor]:
        foreground = assignment.foreground
        if self.keypoint_objects:
            foreground = foreground & (targets.labels.gather(1, assignment.gt_index) == 0)
        image_index = foreground.nonzero(as_tuple=True)[0]
        true_keypoints = targets.keypoints[image_index, assignment.gt_index[foreground]]
        labelled = true_keypoints[..., 2] != 0
        predicted = self.decode_keypoints(predictions)[foreground]
        target_boxes = assignment.boxes[foreground]
        area = ((target_boxes[:, 2] - target_boxes[:, 0]) * (target_boxes[:, 3] - target_boxes[:, 1])).unsqueeze(-1)
        squared_distance = ((predicted - true_keypoints[..., :2]) ** 2).sum(-1)
        oks_error = squared_distance / ((2 * self.sigmas) ** 2 * (area + OKS_EPS) * 2)  # COCO eval's scaling
        # people with few labelled keypoints weigh as much as fully labelled ones
        per_person = self.num_keypoints / (labelled.sum(1, keepdim=True) + OKS_EPS)
        pose = mean_or_zero(per_person * (1 - torch.exp(-oks_error)) * labelled)
        if self.keypoint_dims < 3:
            return pose, torch.zeros_like(pose)
        visibility_logits = predictions.keypoints[..., 2][foreground]
        kobj = F.binary_cross_entropy_with_logits(visibility_logits, labelled.float(), reduction="sum")
        return pose, kobj / max(labelled.numel(), 1)


def full_keypoint_object_scores(assignment: Assignment, labels: Tensor) -> Assignment:
    """The assignment with target score 1 on the anchors assigned to keypoint objects (labels
    (B, M), class 0 the person)."""
    assigned = labels.gather(1, assignment.gt_index)
    keypoint_anchors = assignment.foreground & (assigned > 0)
    one_hot = torch.nn.functional.one_hot(assigned, assignment.scores.shape[-1]).to(assignment.scores.dtype)
    scores = torch.where(keypoint_anchors.unsqueeze(-1), one_hot, assignment.scores)
    return replace(assignment, scores=scores)


def distribution_focal_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """(..., bins) logits, (...) targets in bin units (0 <= t < bins - 1) -> (...): cross-entropy
    against the two bins around the target, weighted by closeness (Li et al. 2020)."""
    left = targets.long()
    weight_left = (left + 1) - targets
    log_probabilities = logits.log_softmax(-1)
    at_left = log_probabilities.gather(-1, left.unsqueeze(-1)).squeeze(-1)
    at_right = log_probabilities.gather(-1, (left + 1).unsqueeze(-1)).squeeze(-1)
    return -(at_left * weight_left + at_right * (1 - weight_left))


def mean_or_zero(values: Tensor) -> Tensor:
    """Mean that is 0 (and still in the graph) when there is nothing to average."""
    return values.sum() / max(values.numel(), 1)
