"""Poses from heatmaps, short offsets and displacements along a kinematic tree, in numpy: the
multi-person decoder of PoseNet (PersonLab, Papandreou et al. 2018; Google's tfjs PoseNet) and
of SimplePose V2 (OffsetGuided), whose guiding offsets play the displacements' part.

For one image:
1. Root candidates: keypoints whose heatmap score (sigmoid of the logits) reaches
   `score_threshold` and is the largest in its window of radius `local_maximum_radius` (ties
   count as maxima), best first.
2. A root sits at its cell's position plus its offset; a root within `nms_radius` of the same
   keypoint of a pose already decoded is skipped.
3. From the root the tree is walked up (child -> parent, backward displacements), then down
   (parent -> child, forward displacements). One step: the source plus the displacement at its
   nearest cell, then `refine_steps` times: the nearest cell's position plus the target
   keypoint's offset there. A keypoint's score is its heatmap score at its nearest cell.
4. The pose's score: the summed scores of its keypoints that are not within `nms_radius` of the
   same keypoint of an earlier pose, over the keypoint count.

Layouts (channel first, batch removed): offsets (2K, H, W) with dy of keypoint k at channel k
and dx at K + k; displacements (2E, H, W) with dy along edge e at e and dx at E + e. Cell (i, j)
sits at input pixel (stride * j, stride * i) (x, y): PoseNet's corner-aligned grid.

The steps follow @tensorflow-models/posenet 2.2.2 down to the rounding (JavaScript's
Math.round, float64 arithmetic on float32 outputs) so that poses match Google's decoder
(tests/decoders/test_displacement_decoder.py). Google keeps every pose it decodes whatever its
score; `min_pose_score` (0 by default, Google's behaviour) drops the weaker ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# @tensorflow-models/posenet's tree over COCO-17 keypoints, (parent, child), in its edge order:
# the order of its displacement channels
POSENET_TREE = (
    (0, 1), (1, 3), (0, 2), (2, 4), (0, 5), (5, 7), (7, 9), (5, 11), (11, 13), (13, 15),
    (0, 6), (6, 8), (8, 10), (6, 12), (12, 14), (14, 16),
)


def check_tree(tree_edges, keypoint_count: int) -> None:
    """The walk needs a tree over every keypoint whose edges come parent first: each edge's
    parent is the tree's root or the child of an earlier edge."""
    children = [child for _, child in tree_edges]
    if any(not (0 <= k < keypoint_count) for edge in tree_edges for k in edge):
        raise ValueError(f"tree: an edge names a keypoint outside 0..{keypoint_count - 1}")
    if len(tree_edges) != keypoint_count - 1 or len(set(children)) != len(children):
        raise ValueError(f"tree: {keypoint_count} keypoints need {keypoint_count - 1} edges, each child once")
    reached = set(range(keypoint_count)) - set(children)  # the root
    for parent, child in tree_edges:
        if parent not in reached:
            raise ValueError(f"tree: edge ({parent}, {child}) comes before an edge reaching {parent}")
        reached.add(child)


@dataclass(frozen=True)
class DisplacementDecoder:
    """Named outputs {"heatmaps" (K, H, W) logits, "offsets" (2K, H, W), "displacements_forward"
    and "displacements_backward" (2E, H, W)} -> people in input pixels."""

    tree_edges: tuple[tuple[int, int], ...] = POSENET_TREE
    stride: int = 16
    score_threshold: float = 0.5   # root candidates' least heatmap score
    nms_radius: float = 20.0       # input pixels
    max_poses: int = 10
    keypoint_count: int = 17
    refine_steps: int = 2          # as Google's decoder
    local_maximum_radius: int = 1  # cells
    min_pose_score: float = 0.0

    def __post_init__(self):
        check_tree(self.tree_edges, self.keypoint_count)

    def __call__(self, outputs: dict[str, np.ndarray]):
        """-> boxes xyxy (N, 4) around the keypoints, scores (N,), keypoints (N, K, 3) as x, y, score."""
        scores = sigmoid(outputs["heatmaps"])
        root_keypoints, rows, cols, roots = self.root_candidates(scores, outputs["offsets"])
        walk = _TreeWalk(self, scores, outputs)
        positions = np.zeros((self.max_poses, self.keypoint_count, 2))  # y, x
        keypoint_scores = np.zeros((self.max_poses, self.keypoint_count))
        pose_scores = np.zeros(self.max_poses)
        suppressed = np.zeros(len(roots), bool)  # near the same keypoint of a decoded pose
        squared_radius = self.nms_radius ** 2
        count = 0
        candidates = zip(root_keypoints.tolist(), rows.tolist(), cols.tolist(), roots.tolist())
        for candidate, (keypoint, row, col, root) in enumerate(candidates):
            if count == self.max_poses:
                break
            if suppressed[candidate]:
                continue
            positions[count], keypoint_scores[count] = walk.decode(keypoint, row, col, root)
            taken = (((positions[:count] - positions[count]) ** 2).sum(2) <= squared_radius).any(0)
            pose_scores[count] = keypoint_scores[count][~taken].sum() / self.keypoint_count
            suppressed |= ((roots - positions[count, root_keypoints]) ** 2).sum(1) <= squared_radius
            count += 1
        kept = np.flatnonzero(pose_scores[:count] >= self.min_pose_score)
        keypoints = np.concatenate((positions[kept, :, ::-1], keypoint_scores[kept, :, None]), axis=2)
        keypoints = keypoints.astype(np.float32)
        boxes = np.concatenate((keypoints[..., :2].min(1), keypoints[..., :2].max(1)), axis=1)
        return boxes.reshape(-1, 4), pose_scores[kept].astype(np.float32), keypoints

    def root_candidates(self, scores: np.ndarray, offsets: np.ndarray):
        """Keypoints, rows, cols and positions (M, 2) as y, x of the root candidates, best first;
        ties in the order of a scan by row, column, keypoint."""
        is_root = ((scores.astype(np.float64) >= self.score_threshold)
                   & (scores >= window_maximum(scores, self.local_maximum_radius)))
        rows, cols, keypoints = np.nonzero(is_root.transpose(1, 2, 0))
        order = np.argsort(-scores[keypoints, rows, cols], kind="stable")
        keypoints, rows, cols = keypoints[order], rows[order], cols[order]
        count = self.keypoint_count
        positions = np.stack((rows * self.stride + offsets[keypoints, rows, cols].astype(np.float64),
                              cols * self.stride + offsets[count + keypoints, rows, cols].astype(np.float64)), 1)
        return keypoints, rows, cols, positions.reshape(-1, 2)


class _TreeWalk:
    """One image's fields, read cell by cell along the tree. Values are read as Python floats
    (float64, as JavaScript computes; `item` is also the fastest single read)."""

    def __init__(self, decoder: DisplacementDecoder, scores: np.ndarray, outputs: dict[str, np.ndarray]):
        self.upward = [(edge, child, parent) for edge, (parent, child) in reversed(list(enumerate(decoder.tree_edges)))]
        self.downward = [(edge, parent, child) for edge, (parent, child) in enumerate(decoder.tree_edges)]
        self.stride = decoder.stride
        self.refine_steps = decoder.refine_steps
        self.scores = scores
        self.offsets = outputs["offsets"]
        self.forward = outputs["displacements_forward"]
        self.backward = outputs["displacements_backward"]
        self.keypoint_count, self.height, self.width = scores.shape

    def decode(self, root: int, row: int, col: int, root_position: list[float]):
        """One pose from its root: positions [(y, x)] * K and keypoint scores [score] * K."""
        positions = [None] * self.keypoint_count
        keypoint_scores = [0.0] * self.keypoint_count
        positions[root] = root_position
        keypoint_scores[root] = self.scores.item(root, row, col)
        for steps, displacements in ((self.upward, self.backward), (self.downward, self.forward)):
            for edge, source, target in steps:
                if positions[source] is not None and positions[target] is None:
                    positions[target], keypoint_scores[target] = self.step(
                        edge, target, positions[source], displacements)
        return positions, keypoint_scores

    def step(self, edge: int, target: int, source, displacements: np.ndarray):
        """The target keypoint's position (y, x) and score, from the source's position."""
        edges = displacements.shape[0] // 2
        y, x = source
        row, col = self.nearest_cell(y, x)
        y, x = y + displacements.item(edge, row, col), x + displacements.item(edges + edge, row, col)
        for _ in range(self.refine_steps):
            row, col = self.nearest_cell(y, x)
            y = row * self.stride + self.offsets.item(target, row, col)
            x = col * self.stride + self.offsets.item(self.keypoint_count + target, row, col)
        row, col = self.nearest_cell(y, x)
        return (y, x), self.scores.item(target, row, col)

    def nearest_cell(self, y: float, x: float) -> tuple[int, int]:
        return (min(max(round_half_up(y / self.stride), 0), self.height - 1),
                min(max(round_half_up(x / self.stride), 0), self.width - 1))


def window_maximum(values: np.ndarray, radius: int) -> np.ndarray:
    """Per channel of (C, H, W), the largest value within `radius` cells (a square window cut
    at the borders): a maximum along rows, then along columns."""
    channels, height, width = values.shape
    padded = np.full((channels, height + 2 * radius, width + 2 * radius), -np.inf, values.dtype)
    padded[:, radius:radius + height, radius:radius + width] = values
    along_rows = np.max([padded[:, shift:shift + height] for shift in range(2 * radius + 1)], axis=0)
    return np.max([along_rows[:, :, shift:shift + width] for shift in range(2 * radius + 1)], axis=0)


def round_half_up(value: float) -> int:
    """JavaScript's Math.round: the nearest integer, halves up (exact, unlike floor(v + 0.5))."""
    below = math.floor(value)
    return below + 1 if value - below >= 0.5 else below


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """float32 scores, correctly rounded from float64."""
    with np.errstate(over="ignore"):  # exp overflowing gives the right score, 0
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
