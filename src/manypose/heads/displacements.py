"""Heatmaps + short offsets + guiding displacements along a keypoint tree (PoseNet, SimplePose
V2): per grid cell a heatmap logit and a (dy, dx) offset per keypoint, and per tree edge the
displacement to the child (forward) and to the parent (backward)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..decoders.displacements import POSENET_TREE, DisplacementDecoder, check_tree
from ..skeleton import Skeleton
from .base import Codec, HeadMeta, register


@dataclass(frozen=True)
class DisplacementsHead(HeadMeta):
    """`tree`: (parent, child) keypoint indices, parents first, in the displacement channels'
    order; cell (i, j) of the output grid sits at input pixel (stride j, stride i)."""

    stride: int = 16
    tree: tuple[tuple[int, int], ...] = POSENET_TREE
    kind = "displacements"

    def __post_init__(self):
        check_tree(self.tree, len(self.skeleton))

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("heatmaps", "offsets", "displacements_forward", "displacements_backward")


class DisplacementsCodec(Codec):
    """Greedy grouping from the strongest keypoints outwards along the tree (see
    decoders.displacements), starting from keypoints scored at least the root threshold; people
    scored below the score threshold are dropped."""

    kinds = ("displacements",)
    honoured_options = ("score_threshold", "root_threshold", "max_detections")

    @property
    def head(self) -> DisplacementsHead:
        return self.heads[0]

    def _decoder(self, options):
        head = self.head
        roots = options.score_threshold if options.root_threshold is None else options.root_threshold
        return DisplacementDecoder(head.tree, head.stride, roots, max_poses=options.max_detections,
                                   keypoint_count=len(head.skeleton), min_pose_score=options.score_threshold)

    def encoder(self):
        from ..encoders.displacements import DisplacementEncoder

        head = self.head
        return DisplacementEncoder(head.tree, head.stride, len(head.skeleton))

    def _retargeted(self, head, skeleton):
        return replace(head, skeleton=skeleton, tree=spanning_tree(skeleton))


def spanning_tree(skeleton: Skeleton) -> tuple[tuple[int, int], ...]:
    """A tree over the skeleton's edges, parents first, breadth first from keypoint 0 (the
    displacements walk along it); refused when the edges leave keypoints unconnected."""
    neighbours = {index: [] for index in range(len(skeleton))}
    for a, b in skeleton.edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    tree, reached, frontier = [], {0}, [0]
    for parent in frontier:  # grows as children are reached
        for child in neighbours[parent]:
            if child not in reached:
                tree.append((parent, child))
                reached.add(child)
                frontier.append(child)
    if len(reached) < len(skeleton):
        cut_off = ", ".join(skeleton.keypoints[index] for index in sorted(neighbours.keys() - reached))
        raise ValueError(f"displacement heads need a tree over every keypoint; the edges of {skeleton.name!r} "
                         f"do not reach {cut_off}")
    return tuple(tree)


register(DisplacementsHead, DisplacementsCodec)
