"""People's keypoints -> OpenPifPaf's composite-field training targets: a CIF (intensity) field
per keypoint and a CAF (association) field per keypoint pair, on the network's output grid.
Kept whole (about 300 lines): its rules below and the code that applies them read best together.

Positions are in grid cells: a keypoint at input pixel (x, y) sits at (x / stride, y / stride),
and cell (i, j) at (j, i) (the heads' layout, see heads.composite_fields). Per person, as
OpenPifPaf 0.13 encodes it:
- scale: the square root of the area of the box around the labelled keypoints, enlarged for the
  keypoints that are missing by how much of an upright reference person's box (or of its box
  turned 45 degrees, whichever enlarges less) they would add, at most 5 times; unknown when
  fewer than 3 keypoints are labelled. A keypoint's scale is the person's times its OKS sigma.
  The reference person is ours (UPRIGHT_PERSON), not OpenPifPaf's drawing: scales of partly
  labelled people differ from its by up to 18% on the dev set, the rest of the targets not;
- CIF: each labelled keypoint claims the 4 x 4 cells around it; a cell goes to the nearest of
  the keypoints of that kind that claim it. Confidence 1 there, regression the vector from the
  cell to the keypoint, scale the keypoint's;
- CAF: each association whose ends are both labelled (and not both outside the grid) claims the
  cells within one cell of its segment's middle part (from a quarter to at most 0.4 of its
  length from each end); a cell goes to the segment nearest to it (perpendicular distance).
  Confidence 1 there, regressions to the first and to the second keypoint, and their scales.
  An association beyond the skeleton's edges (the dense pairs) is skipped when an end is
  outside the grid, or when both its ends have a skeleton edge shorter than half its length:
  the dense pairs only bridge gaps;
- a hidden keypoint (v = 1) within 32 input pixels in x and y of a visible one (v = 2) of the
  same kind is dropped (it is likely the visible one's, mislabelled);
- ignored regions: crowd boxes and the boxes of people without a labelled keypoint, widened by
  1.5 cells (CIF) or 1 cell (CAF), are not learnt (confidence_mask False) except where a
  keypoint or segment lies within a cell of the cell.

Layout (`FieldTargets`, one per head; F fields, V vectors per field: 1 for CIF, 2 for CAF;
H x W the grid), what OpenPifPaf's loss reads:
- confidence (F, H, W) float32: 1 on claimed cells, 0 elsewhere;
- confidence_mask (F, H, W) bool: where the confidence is learnt (False in ignored regions);
- regression (F, V, 2, H, W) float32: (dx, dy) from the cell to the keypoint(s), in cells,
  defined where confidence is 1 (`regression_mask`), 0 elsewhere;
- scale (F, V, H, W) float32: the keypoint scale(s) in cells, defined where scale_mask (F, H, W)
  bool is True (cells claimed by a person with a known scale), 0 elsewhere; where a regression is
  defined but its scale unknown, OpenPifPaf's regression loss uses the predicted scale instead;
- spread_min: the floor of the regression's spread b (OpenPifPaf's bmin, 0.1 input pixel), in
  cells, the same on every defined cell.
OpenPifPaf also leaves the padding of a letterboxed input unlearnt only for the regressions;
here the padding is ordinary background (nothing can be claimed there: keypoints that leave
the image are unlabelled by the augmentation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CIF_SIDE = 4                 # cells claimed around a keypoint, a side
CIF_IGNORE_MARGIN = 1.5      # cells around an ignored box, CIF
CAF_IGNORE_MARGIN = 1.0      # cells around an ignored box, CAF
CAF_WIDTH = 3                # cells across a segment that it claims
CAF_END_MARGIN = (0.25, 0.4)  # fraction of the segment left unclaimed at each end, bounds
IGNORED_CLAIM_DISTANCE = 1.0  # cells: how near a keypoint or segment must be to claim an ignored cell
DENSE_TO_SPARSE = 2.0        # a dense pair is skipped when edges at both ends are shorter than its length / this
HIDDEN_NEAR_VISIBLE = 32.0   # input pixels
SPREAD_MIN_PIXELS = 0.1
MIN_LABELLED_FOR_SCALE = 3
MAX_SCALE_FACTOR = 5.0
MIN_SCALE = 0.1              # cells: a person this small has no scale
# a standing person, arms down, in statures (x right, y up), from Drillis and Contini's segment
# proportions: eye 0.936, shoulder 0.818, elbow 0.630, wrist 0.485, hip 0.530, knee 0.285, ankle
# 0.039 of the stature; shoulders 0.259 and hips 0.15 of it apart
UPRIGHT_PERSON = {
    "nose": (0.0, 0.905), "left_eye": (0.018, 0.936), "right_eye": (-0.018, 0.936),
    "left_ear": (0.045, 0.92), "right_ear": (-0.045, 0.92),
    "left_shoulder": (0.13, 0.818), "right_shoulder": (-0.13, 0.818),
    "left_elbow": (0.145, 0.630), "right_elbow": (-0.145, 0.630),
    "left_wrist": (0.14, 0.485), "right_wrist": (-0.14, 0.485),
    "left_hip": (0.075, 0.530), "right_hip": (-0.075, 0.530),
    "left_knee": (0.07, 0.285), "right_knee": (-0.07, 0.285),
    "left_ankle": (0.07, 0.039), "right_ankle": (-0.07, 0.039),
    "head": (0.0, 0.96), "neck": (0.0, 0.86),
}
# (x, y) from a point on a segment to the cells around it, rows of the square CAF_WIDTH a side
_SEGMENT_SHIFTS = np.stack(np.meshgrid(*[np.arange(CAF_WIDTH) - (CAF_WIDTH - 1) / 2] * 2), axis=-1).reshape(-1, 2)
# a reference subset whose box is thinner than this fraction of the whole reference box (the two
# eyes, say) says nothing about the person's size that way
MIN_REFERENCE_AREA_FRACTION = 0.004


@dataclass(eq=False)  # arrays do not compare as one truth value
class FieldTargets:
    """One head's training targets; see the module docstring for the layout."""

    confidence: np.ndarray
    confidence_mask: np.ndarray
    regression: np.ndarray
    scale: np.ndarray
    scale_mask: np.ndarray
    spread_min: float

    @property
    def regression_mask(self) -> np.ndarray:
        """(F, H, W) bool: where the regressions are defined."""
        return self.confidence > 0


    def as_outputs(self, missing_scale: float) -> np.ndarray:
        """(F, 1 + 1 + 3V, H, W): the fields a network that had learnt these targets exactly would
        output, in the heads' evaluation layout (b 0, confidence, absolute positions, scales);
        `missing_scale` (cells) where the scale is unknown."""
        fields, vectors, _, height, width = self.regression.shape
        rows, cols = np.mgrid[0:height, 0:width]
        positions = self.regression + np.stack((cols, rows)).astype(np.float32)
        scales = np.where(self.scale_mask[:, None], self.scale, np.float32(missing_scale))
        return np.concatenate((np.zeros((fields, 1, height, width), np.float32), self.confidence[:, None],
                               positions.reshape(fields, 2 * vectors, height, width), scales), axis=1)


@dataclass(eq=False)
class CifCafTargets:
    cif: FieldTargets
    caf: FieldTargets

    def as_outputs(self, missing_scale: float = 1.0) -> dict[str, np.ndarray]:
        """Both heads' `FieldTargets.as_outputs` by output name, as a decoder reads them."""
        return {"cif": self.cif.as_outputs(missing_scale), "caf": self.caf.as_outputs(missing_scale)}


class _Field:
    """A head's targets while they are filled: `claim` keeps, per cell, the nearest claimant."""

    def __init__(self, fields: int, vectors: int, height: int, width: int, ignored: np.ndarray, stride: int):
        self.confidence = np.zeros((fields, height, width), np.float32)
        self.learnt = np.broadcast_to(~ignored, (fields, height, width)).copy()
        self.regression = np.zeros((fields, vectors, 2, height, width), np.float32)
        self.scale = np.full((fields, vectors, height, width), np.nan, np.float32)
        # distance of each cell's claimant; an ignored cell is only claimed from nearby
        self.claim_distance = np.where(ignored, IGNORED_CLAIM_DISTANCE, np.inf).astype(np.float32)
        self.claim_distance = np.broadcast_to(self.claim_distance, (fields, height, width)).copy()
        self.stride = stride

    def claim(self, field: int, rows, cols, distance, closer_wins, targets, scales) -> None:
        """Cells (rows, cols) of `field` at `distance` from a claimant whose keypoint(s) lie at
        `targets` (V, 2) and have `scales` (V,); `closer_wins(distance, current)` decides."""
        won = closer_wins(distance, self.claim_distance[field, rows, cols])
        rows, cols = rows[won], cols[won]
        self.claim_distance[field, rows, cols] = distance[won]
        self.confidence[field, rows, cols] = 1.0
        self.learnt[field, rows, cols] = True
        cells = np.stack((cols, rows)).astype(np.float64)                     # (2, n) x, y
        self.regression[field, :, :, rows, cols] = (targets[:, :, None] - cells).transpose(2, 0, 1)
        self.scale[field, :, rows, cols] = scales

    def targets(self) -> FieldTargets:
        known = np.isfinite(self.scale)
        return FieldTargets(confidence=self.confidence, confidence_mask=self.learnt, regression=self.regression,
                            scale=np.where(known, self.scale, 0).astype(np.float32), scale_mask=known.all(axis=1),
                            spread_min=SPREAD_MIN_PIXELS / self.stride)


@dataclass(frozen=True)
class CifCafEncoder:
    """Targets for people given in input pixels: keypoints (N, K, 3) (v > 0: labelled, 2 visible,
    1 hidden), their boxes (N, 4) xyxy and the crowd boxes (M, 4) xyxy, the regions to ignore."""

    cif_head: "heads.composite_fields.CifHead"
    caf_head: "heads.composite_fields.CafHead"

    def __post_init__(self):
        if self.cif_head.stride != self.caf_head.stride:
            raise ValueError(f"cif stride {self.cif_head.stride} and caf stride {self.caf_head.stride} differ")

    @property
    def stride(self) -> int:
        return self.cif_head.stride

    def __call__(self, keypoints: np.ndarray, height: int, width: int, boxes=None, crowd_boxes=None) -> CifCafTargets:
        """The targets of both heads on an output grid `height` x `width`."""
        skeleton = self.cif_head.skeleton
        people = np.array(keypoints, np.float64).reshape(-1, len(skeleton), 3)
        ignored = ignored_boxes(people, boxes, crowd_boxes) / self.stride
        people = drop_hidden_near_visible(people)
        people[..., :2] /= self.stride
        scales = [person_scale(person, skeleton) for person in people]
        cif = _Field(len(skeleton), 1, height, width,
                     ignored_cells(ignored, CIF_IGNORE_MARGIN, height, width), self.stride)
        caf = _Field(len(self.caf_head.associations), 2, height, width,
                     ignored_cells(ignored, CAF_IGNORE_MARGIN, height, width), self.stride)
        sigmas = np.asarray(skeleton.sigmas, np.float64)
        for person, scale in zip(people, scales):
            fill_keypoints(cif, person, scale * sigmas)
            fill_associations(caf, person, scale * sigmas, self.caf_head.associations, skeleton.edges)
        return CifCafTargets(cif.targets(), caf.targets())


def ignored_boxes(people, boxes, crowd_boxes) -> np.ndarray:
    """xyxy boxes in input pixels: the crowds and the people without a labelled keypoint."""
    crowd_boxes = np.zeros((0, 4)) if crowd_boxes is None else np.asarray(crowd_boxes, np.float64).reshape(-1, 4)
    if boxes is None:
        return crowd_boxes
    unlabelled = ~(people[..., 2] > 0).any(axis=1)
    return np.concatenate((np.asarray(boxes, np.float64).reshape(-1, 4)[unlabelled], crowd_boxes))


def drop_hidden_near_visible(people: np.ndarray) -> np.ndarray:
    """A copy where each hidden keypoint near a visible one of the same kind (of another person)
    is unlabelled."""
    people = people.copy()
    visible, hidden = people[..., 2] == 2, people[..., 2] == 1                  # (N, K)
    apart = np.abs(people[:, None, :, :2] - people[None, :, :, :2]).max(axis=3)  # (hidden N, visible N, K)
    near_visible = ((apart <= HIDDEN_NEAR_VISIBLE) & visible[None]).any(axis=1)
    people[hidden & near_visible, 2] = 0
    return people


def ignored_cells(boxes: np.ndarray, margin: float, height: int, width: int) -> np.ndarray:
    """(H, W) bool: the cells of `boxes` (xyxy, cells) widened by `margin`, at least one cell each."""
    ignored = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in boxes:
        left = min(max(int(np.floor(x1 - margin)), 0), width - 1)
        top = min(max(int(np.floor(y1 - margin)), 0), height - 1)
        right = min(max(int(np.ceil(x2 + margin)) + 1, left + 1), width)
        bottom = min(max(int(np.ceil(y2 + margin)) + 1, top + 1), height)
        ignored[top:bottom, left:right] = True
    return ignored


def person_scale(person: np.ndarray, skeleton: "skeleton.Skeleton") -> float:
    """The person's scale in cells (NaN when unknown) from its keypoints (K, 3) in cells."""
    labelled = person[:, 2] > 0
    if labelled.sum() < MIN_LABELLED_FOR_SCALE:
        return np.nan
    factor = _missing_factor(labelled, skeleton)
    if np.isinf(factor):
        return np.nan
    scale = np.sqrt(_box_area(person[labelled, :2])) * min(MAX_SCALE_FACTOR, factor)
    return scale if scale >= MIN_SCALE else np.nan


def _missing_factor(labelled: np.ndarray, skeleton: "skeleton.Skeleton") -> float:
    """How much larger the whole reference person is than its labelled keypoints, as a length."""
    if any(name not in UPRIGHT_PERSON for name in skeleton.keypoints):
        return 1.0
    upright = np.array([UPRIGHT_PERSON[name] for name in skeleton.keypoints])
    turned = upright @ (np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2.0))
    ratios = []
    for reference in (upright, turned):
        whole = _box_area(reference)
        part = _box_area(reference[labelled])
        ratios.append(whole / part if part > MIN_REFERENCE_AREA_FRACTION * whole else np.inf)
    return float(np.sqrt(min(ratios)))  # inf: no view tells the size


def _box_area(points: np.ndarray) -> float:
    extent = points.max(axis=0) - points.min(axis=0)
    return float(extent[0] * extent[1])


def fill_keypoints(field: _Field, person: np.ndarray, keypoint_scales: np.ndarray) -> None:
    """Claim the cells around each labelled keypoint of one person (K, 3), in cells."""
    height, width = field.confidence.shape[1:]
    offsets = np.arange(CIF_SIDE)
    for keypoint in np.flatnonzero(person[:, 2] > 0):
        point = person[keypoint, :2]
        corner_x, corner_y = np.round(point - (CIF_SIDE - 1) / 2).astype(int)
        rows, cols = np.meshgrid(corner_y + offsets, corner_x + offsets, indexing="ij")
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        rows, cols = rows[inside], cols[inside]
        distance = np.hypot(point[0] - cols, point[1] - rows)
        field.claim(keypoint, rows, cols, distance, np.less, point[None], keypoint_scales[keypoint])


def fill_associations(field: _Field, person: np.ndarray, keypoint_scales: np.ndarray, associations, edges) -> None:
    """Claim the cells along each association of one person (K, 3), in cells."""
    height, width = field.confidence.shape[1:]
    labelled = person[:, 2] > 0
    outside = ((person[:, 0] < 0) | (person[:, 1] < 0) | (person[:, 0] > width - 1) | (person[:, 1] > height - 1))
    edge_set = set(edges)
    for index, (a, b) in enumerate(associations):
        if not (labelled[a] and labelled[b]) or (outside[a] and outside[b]):
            continue
        if (a, b) not in edge_set and (outside[a] or outside[b] or _bridged_by_edges(person, labelled, a, b, edges)):
            continue
        rows, cols, distance = _segment_cells(person[a, :2], person[b, :2], height, width)
        field.claim(index, rows, cols, distance, np.less_equal, person[[a, b], :2], keypoint_scales[[a, b]])


def _bridged_by_edges(person, labelled, a, b, edges) -> bool:
    """A dense pair is redundant when both its ends have a labelled skeleton edge shorter than
    half its length."""
    reach = np.linalg.norm(person[a, :2] - person[b, :2]) / DENSE_TO_SPARSE

    def shortest_edge(k):
        lengths = [np.linalg.norm(person[p, :2] - person[q, :2]) for p, q in edges
                   if k in (p, q) and labelled[p] and labelled[q]]
        return min(lengths, default=np.inf)

    return shortest_edge(a) < reach and shortest_edge(b) < reach


def _segment_cells(start: np.ndarray, end: np.ndarray, height: int, width: int):
    """Rows, cols of the grid cells near the segment's middle part, each once, and their
    perpendicular distances to the segment's line."""
    offset = end - start
    length = math.hypot(*offset)
    margin = min(max(CAF_WIDTH / 2 / (length + np.spacing(1)), CAF_END_MARGIN[0]), CAF_END_MARGIN[1])
    along = np.linspace(margin, 1 - margin, max(2, math.ceil(length)))
    cells = np.round(start + along[:, None, None] * offset + _SEGMENT_SHIFTS).astype(int).reshape(-1, 2)
    cells = cells[(cells[:, 0] >= 0) & (cells[:, 0] < width) & (cells[:, 1] >= 0) & (cells[:, 1] < height)]
    rows, cols = np.divmod(np.unique(cells[:, 1] * width + cells[:, 0]), width)
    distance = np.abs(offset[1] * (cols - start[0]) - offset[0] * (rows - start[1])) / (length + 0.01)
    return rows, cols, distance
