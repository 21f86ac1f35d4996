"""People's keypoints -> PoseNet / PersonLab training targets on the network's output grid:
keypoint heatmaps, short offsets, and forward / backward displacements along a kinematic tree
(SimplePose V2's guiding offsets are the forward ones).

Every keypoint owns the cells within `radius` input pixels of it (PersonLab's discs, R = 32);
where discs of the same keypoint overlap, the nearest person's keypoint owns the cell. Then:
- heatmaps (K, H, W): 1 on owned cells, 0 elsewhere (a binary disc, as PoseNet trains; no
  Gaussian), defined on every cell;
- offsets (2K, H, W): from the cell to the keypoint that owns it (dy at channel k, dx at K + k);
- displacements_forward (2E, H, W): on the cells a parent owns, from that parent keypoint to
  the same person's child (dy at channel e, dx at E + e); displacements_backward: on the cells a
  child owns, from the child to its parent. Both ends must be labelled, or routed: an unlabelled
  keypoint that lies on the tree between labelled ones of its person (a hidden nose between eyes
  and shoulders) is placed at the mean of the nearest labelled keypoints in its branches and
  carries displacements only (no heatmap, no offset), so that the walk along the tree crosses it
  instead of splitting the person in two.
Each `*_mask` (K or E, H, W) is 1 where its target is defined. Cell (i, j) sits at input pixel
(stride * j, stride * i) (x, y): PoseNet's corner-aligned grid, (input - 1) / stride + 1 cells a side.

A displacement is the same over its disc, keypoint to keypoint, not cell to keypoint as
PersonLab's mid-range offsets: PoseNet's decoder adds it to the source keypoint's position, and
Google's published network predicts it so (about constant around each keypoint).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DisplacementEncoder:
    """Targets for keypoints (N, K, 3) given in input pixels (v > 0: labelled); `tree_edges` the
    (parent, child) pairs in the order of the displacement channels."""

    tree_edges: tuple[tuple[int, int], ...]
    stride: int = 16
    keypoint_count: int = 17
    radius: float = 32.0  # input pixels

    def __post_init__(self):
        if any(not (0 <= k < self.keypoint_count) for edge in self.tree_edges for k in edge):
            raise ValueError(f"tree: an edge names a keypoint outside 0..{self.keypoint_count - 1}")

    def __call__(self, keypoints: np.ndarray, height: int, width: int) -> dict[str, np.ndarray]:
        """The targets and their masks, by name, for an output grid `height` x `width`."""
        nobody = np.zeros((1, self.keypoint_count, 3))  # keeps the per-person arrays non-empty
        people = np.concatenate((np.asarray(keypoints, np.float64).reshape(-1, self.keypoint_count, 3), nobody))
        labelled = people[..., 2] > 0
        positioned = self.with_routes(people, labelled)
        cell_ys = np.arange(height, dtype=np.float64)[:, None] * self.stride
        cell_xs = np.arange(width, dtype=np.float64)[None, :] * self.stride
        owner, owned = self.discs(people, labelled, cell_ys, cell_xs)
        route_owner, route_owned = self.discs(positioned, positioned[..., 2] > 0, cell_ys, cell_xs)
        every_keypoint = np.arange(self.keypoint_count)
        parents = np.array([parent for parent, _ in self.tree_edges], np.intp)
        children = np.array([child for _, child in self.tree_edges], np.intp)
        targets = {"heatmaps": owned.astype(np.float32)}
        targets["offsets"], targets["offsets_mask"] = self.vectors_to(
            people, labelled, owner, owned, every_keypoint, (cell_ys, cell_xs))
        for name, sources, ends in (("displacements_forward", parents, children),
                                    ("displacements_backward", children, parents)):
            source_points = positioned[route_owner[sources], sources[:, None, None]]  # (E, H, W, 3)
            targets[name], targets[f"{name}_mask"] = self.vectors_to(
                positioned, positioned[..., 2] > 0, route_owner[sources], route_owned[sources], ends,
                (source_points[..., 1], source_points[..., 0]))
        return targets

    def discs(self, people, present, cell_ys, cell_xs) -> tuple[np.ndarray, np.ndarray]:
        """Per keypoint and cell (K, H, W): the nearest present person, and whether it lies
        within the radius."""
        squared_distance = ((people[:, :, 1, None, None] - cell_ys) ** 2
                            + (people[:, :, 0, None, None] - cell_xs) ** 2)       # (N, K, H, W)
        squared_distance[~present] = np.inf
        return squared_distance.argmin(axis=0), squared_distance.min(axis=0) <= self.radius ** 2

    def with_routes(self, people: np.ndarray, labelled: np.ndarray) -> np.ndarray:
        """People with their routed keypoints placed and marked present (v = 1)."""
        neighbours = {k: [] for k in range(self.keypoint_count)}
        for parent, child in self.tree_edges:
            neighbours[parent].append(child)
            neighbours[child].append(parent)
        positioned = people.copy()
        for person, present in zip(positioned, labelled):
            for keypoint in np.flatnonzero(~present):
                ends = [nearest_labelled(keypoint, first, neighbours, present) for first in neighbours[keypoint]]
                ends = [branch for branch in ends if branch]
                if len(ends) >= 2:  # between labelled keypoints: the walk must cross it
                    person[keypoint, :2] = np.mean([person[k, :2] for branch in ends for k in branch], axis=0)
                    person[keypoint, 2] = 1
        return positioned

    @staticmethod
    def vectors_to(people, labelled, owners, owned, ends, origins) -> tuple[np.ndarray, np.ndarray]:
        """From `origins` (ys, xs) to keypoint `ends[s]` of each cell's owner, where source s owns
        the cell and that keypoint is labelled: (dy for every source, then dx) (2S, H, W), and
        the mask (S, H, W)."""
        ends = ends[:, None, None]
        end_points = people[owners, ends]                                         # (S, H, W, 3)
        defined = owned & labelled[owners, ends]
        origin_ys, origin_xs = origins
        dy = np.where(defined, end_points[..., 1] - origin_ys, 0.0)
        dx = np.where(defined, end_points[..., 0] - origin_xs, 0.0)
        return np.concatenate((dy, dx)).astype(np.float32), defined.astype(np.float32)


def nearest_labelled(start: int, first: int, neighbours: dict, labelled: np.ndarray) -> list[int]:
    """The labelled keypoints nearest to `start` on the tree in the branch through `first`."""
    seen, layer = {start}, [first]
    while layer:
        found = [k for k in layer if labelled[k]]
        if found:
            return found
        seen.update(layer)
        layer = [n for k in layer for n in neighbours[k] if n not in seen]
    return []
