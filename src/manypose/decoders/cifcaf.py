"""Poses from composite fields (OpenPifPaf, Kreiss et al. 2019 and 2021): seeds from the
intensity fields (CIF), people grown from them along the association fields (CAF). The steps and
their defaults are those of OpenPifPaf 0.13's decoder, written in numpy and numba.

Fields as the heads give them (heads.composite_fields): per keypoint, confidence, position and
scale in grid cells; per association, confidence, both ends' positions and scales. Positions are
multiplied by the stride first, so everything below is in input pixels.
1. High-resolution confidence (CifHr), a map per keypoint at stride 1: every CIF vector with a
   confidence of at least `cif_threshold` adds a Gaussian of height confidence / 16 (a keypoint
   is predicted by about 16 cells) and sigma half its scale (at least 1 pixel), cut at one sigma,
   at its position; the map saturates at 1.
2. Seeds: every CIF vector with a confidence of at least `seed_threshold`, rescored as 0.9 x the
   map at its position + 0.1 x its confidence, kept from `seed_threshold`, best first. The fast
   path (`seed_local_maxima`) first keeps only the cells whose confidence is the largest of their
   3 x 3 neighbourhood.
3. Scored associations: every CAF vector with a confidence of at least `caf_threshold`, read in
   both directions, its confidence times 0.1 + 0.9 x the map of the keypoint it points to, kept
   above `caf_threshold`.
4. Growth: seeds in turn; a seed inside the occupancy of a person already grown (a square of
   half-side its keypoint's scale, at least 4 pixels, on a half-resolution grid) is skipped.
   Otherwise a person starts at it and grows greedily, best connection first (a priority queue
   over the associations from its keypoints): a connection's value blends the two best
   associations near the source keypoint (a Gaussian of the source's scale weighs the distance),
   its confidence the geometric mean with the source's; it is taken when at least
   `keypoint_threshold` and half the source's confidence, and when the association read
   backwards from the new keypoint lands within the source's scale of the source (L1), the
   reverse match.
5. Keypoint NMS: people by their mean keypoint confidence, best first; a keypoint inside the
   occupancy of the same keypoint of a better person is suppressed (confidence x 1e-5: an
   OKS-like overlap rule, keypoint by keypoint); keypoints at or below `keypoint_threshold` are
   dropped, then people whose mean confidence is below `instance_threshold`.
6. A person's score is OpenPifPaf's: its keypoint confidences sorted, weighted by the CIF head's
   score weights (normalised). People scored below options.score_threshold are dropped, the rest
   kept best first up to options.max_detections. Boxes span the kept keypoints, widened by their
   scales.
Every association of the CAF head is used (OpenPifPaf's dense pairs: as --dense-connections).
With `options.complete_poses` (OpenPifPaf's --force-complete-pose, the setting of its COCO
evaluation), every person found gets every keypoint: steps 4 and 5 keep keypoints of any
confidence and people of any mean, and between them each person grows again from all its
keypoints along the associations scored from COMPLETION_CAF_THRESHOLD, searched COMPLETION_REACH
times as far, without the reverse match; a keypoint still missing then takes the place of a
connected one at confidence FILLED_CONFIDENCE.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
import numba
import numpy as np

from .options import DecoderOptions

VECTORS_PER_KEYPOINT = 16    # CIF cells that predict one keypoint: each adds 1/16 to the map
SEED_MAP_WEIGHT = 0.9        # seeds: the map's share of the rescored confidence
CAF_FLOOR = 0.1              # associations: kept share of the confidence where the map is empty
OCCUPANCY_REDUCTION = 2      # occupancy grid: input pixels per cell
OCCUPANCY_MIN_RADIUS = 4.0   # input pixels
SUPPRESSED = 1e-5            # factor on a keypoint inside a better person's occupancy
MIN_BLEND_SCALE = 0.5        # input pixels: the least source scale when blending associations
BLEND_SECOND_MIN = 0.01      # the second-best association blends in from this score...
BLEND_SECOND_RATIO = 0.5     # ...and from this share of the best's
CONNECTION_RELATIVE = 0.5    # a new keypoint's confidence must reach this share of its source's
COMPLETION_CAF_THRESHOLD = 0.001  # completing poses: associations read from this confidence...
COMPLETION_REACH = 4.0       # ...this many times as far from the source keypoint as usually
FILLED_CONFIDENCE = 1e-5     # completing poses: a keypoint no association reaches


@dataclass(frozen=True)
class CifCafDecoder:
    """Named outputs {"cif" (K, 5, H, W), "caf" (E, 8, H, W)} (batch removed) -> boxes xyxy (N, 4),
    scores (N,), keypoints (N, K, 3) x, y, confidence in input pixels."""

    cif_head: "heads.composite_fields.CifHead"
    caf_head: "heads.composite_fields.CafHead"
    options: DecoderOptions = DecoderOptions()
    cif_threshold: float = 0.3
    seed_threshold: float = 0.2
    caf_threshold: float = 0.3
    keypoint_threshold: float = 0.15
    instance_threshold: float = 0.15
    seed_local_maxima: bool = False

    def __post_init__(self):
        if self.cif_head.stride != self.caf_head.stride:
            raise ValueError(f"cif stride {self.cif_head.stride} and caf stride {self.caf_head.stride} differ")

    @property
    def stride(self) -> int:
        return self.cif_head.stride

    @property
    def associations(self) -> np.ndarray:
        return np.array(self.caf_head.associations, np.int64).reshape(-1, 2)

    def __call__(self, outputs: dict[str, np.ndarray]):
        joints = self.joints(outputs)
        keypoints = np.ascontiguousarray(joints[:, :, [1, 2, 0]], np.float32)
        scores = self.pose_scores(keypoints[:, :, 2])
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] >= self.options.score_threshold][:self.options.max_detections]
        return boxes_around(keypoints[order], joints[order, :, 3]), scores[order], keypoints[order]

    @property
    def thresholds(self) -> tuple[float, float, float]:
        """The keypoint threshold, the least share of its source's confidence a new keypoint
        needs, the instance threshold: as applied, none when completing poses."""
        if self.options.complete_poses:
            return 0.0, 0.0, 0.0
        return float(self.keypoint_threshold), CONNECTION_RELATIVE, float(self.instance_threshold)

    def joints(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """People (N, K, 4) as OpenPifPaf's decoder returns them: per keypoint confidence, x, y,
        scale, in input pixels; best mean confidence first."""
        cif = np.ascontiguousarray(outputs["cif"], np.float32)
        caf = np.ascontiguousarray(outputs["caf"], np.float32)
        fields, _, height, width = cif.shape
        confidence_map = _WORKSPACE.confidence_map((fields, (height - 1) * self.stride + 1,
                                                    (width - 1) * self.stride + 1))
        _accumulate(cif, self.stride, self.cif_threshold, confidence_map, False)
        try:
            return self.grown(cif, caf, confidence_map)
        finally:
            _accumulate(cif, self.stride, self.cif_threshold, confidence_map, True)  # zero for the next call

    def grown(self, cif: np.ndarray, caf: np.ndarray, confidence_map: np.ndarray) -> np.ndarray:
        """Steps 2 to 5 of the module docstring."""
        seed_fields, seeds = self.seeds(cif, confidence_map)
        forward, backward, starts = _scored_associations(caf, self.stride, confidence_map, self.associations,
                                                         self.caf_threshold)
        occupancy_shape = (cif.shape[0],) + tuple(side // OCCUPANCY_REDUCTION + 1 for side in confidence_map.shape[1:])
        occupancy, generation = _WORKSPACE.cleared_occupancy(occupancy_shape)
        people = np.zeros((len(seeds), cif.shape[0], 4))
        keypoint_threshold, relative_threshold, _ = self.thresholds
        rules = (keypoint_threshold, relative_threshold, 1.0, True)  # see _connection
        count = _grow_people(seed_fields, seeds, forward, backward, starts, self.associations, occupancy, generation,
                             rules, people)
        people = people[:count]
        if self.options.complete_poses:
            forward, backward, starts = _scored_associations(caf, self.stride, confidence_map, self.associations,
                                                             COMPLETION_CAF_THRESHOLD)
            _complete_people(people, forward, backward, starts, self.associations)
        return self.suppressed(people, occupancy_shape)

    def suppressed(self, people: np.ndarray, occupancy_shape) -> np.ndarray:
        """Step 5 of the module docstring."""
        people = people[np.argsort(-people[:, :, 0].mean(axis=1), kind="stable")]
        _suppress_keypoints(people, *_WORKSPACE.cleared_occupancy(occupancy_shape))
        keypoint_threshold, _, instance_threshold = self.thresholds
        confidences = people[:, :, 0]
        confidences[confidences <= keypoint_threshold] = 0.0
        means = confidences.mean(axis=1)
        people = people[means >= instance_threshold]
        return people[np.argsort(-means[means >= instance_threshold], kind="stable")]

    def seeds(self, cif: np.ndarray, confidence_map: np.ndarray):
        """Keypoint fields (S,) and (confidence, x, y, scale) (S, 4) of the seeds, best first."""
        fields, seeds = _seed_candidates(cif, self.stride, confidence_map, self.seed_threshold, self.seed_local_maxima)
        order = np.argsort(-seeds[:, 0], kind="stable")
        return fields[order], seeds[order]

    def pose_scores(self, confidences: np.ndarray) -> np.ndarray:
        """(N,) OpenPifPaf's person score: sorted keypoint confidences, weighted."""
        weights = np.asarray(self.cif_head.score_weights or (1.0,) * confidences.shape[1], np.float64)
        ranked = -np.sort(-confidences.astype(np.float64), axis=1)
        return (ranked @ (weights / weights.sum())).astype(np.float32)


def boxes_around(keypoints: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy around each person's kept keypoints, widened by their scales (zeros if none)."""
    kept = keypoints[:, :, 2] > 0
    low = np.where(kept[..., None], keypoints[:, :, :2] - scales[..., None], np.inf).min(axis=1)
    high = np.where(kept[..., None], keypoints[:, :, :2] + scales[..., None], -np.inf).max(axis=1)
    boxes = np.concatenate((low, high), axis=1)
    return np.where(kept.any(axis=1)[:, None], boxes, 0).astype(np.float32).reshape(-1, 4)


class _Workspace(threading.local):
    """Per thread, the large arrays of a decoding, kept from call to call: new ones would cost
    more than the decoding (glibc hands out large blocks cleared by memset). The map is zeroed
    again after each use; an occupancy mark is the generation that made it, so a new generation
    clears them all."""

    def __init__(self):
        self.map = np.zeros((0, 0, 0), np.float32)
        self.occupancy = np.zeros((0, 0, 0), np.int32)
        self.generation = 0

    def confidence_map(self, shape) -> np.ndarray:
        """(K, H, W) float32 zeros, to be left zero."""
        if self.map.shape != shape:
            self.map = np.zeros(shape, np.float32)
        return self.map

    def cleared_occupancy(self, shape) -> tuple[np.ndarray, int]:
        """The occupancy grid and the generation that marks it from now on: nothing marked yet."""
        if self.occupancy.shape != shape or self.generation == np.iinfo(np.int32).max:
            self.occupancy = np.zeros(shape, np.int32)
            self.generation = 0
        self.generation += 1
        return self.occupancy, self.generation


_WORKSPACE = _Workspace()


@numba.njit(cache=True, nogil=True)
def _accumulate(cif, stride, threshold, confidence_map, clear):
    """Step 1 of the module docstring, into `confidence_map` (zeros); `clear`: zero again what
    the same fields added."""
    for field in range(cif.shape[0]):
        for row in range(cif.shape[2]):
            for col in range(cif.shape[3]):
                confidence = cif[field, 1, row, col]
                if confidence < threshold or cif[field, 4, row, col] < 0.0:
                    continue
                sigma = max(1.0, 0.5 * cif[field, 4, row, col] * stride)
                x, y = cif[field, 2, row, col] * stride, cif[field, 3, row, col] * stride
                left, top, right, bottom = _gaussian_box(confidence_map.shape[1:], x, y, sigma)
                plane = confidence_map[field]
                if clear:
                    for pixel_row in range(top, bottom):
                        for pixel_col in range(left, right):
                            plane[pixel_row, pixel_col] = 0.0
                else:
                    _add_gaussian(plane, confidence / VECTORS_PER_KEYPOINT, x, y, sigma, left, top, right, bottom)


@numba.njit(cache=True)
def _gaussian_box(shape, x, y, sigma):
    """The pixels (left, top, right, bottom, ends excluded) of a Gaussian cut at one sigma."""
    height, width = shape
    left = min(max(int(x - sigma), 0), width - 1)
    top = min(max(int(y - sigma), 0), height - 1)
    return left, top, min(max(int(x + sigma + 1), left + 1), width), min(max(int(y + sigma + 1), top + 1), height)


@numba.njit(cache=True)
def _add_gaussian(plane, value, x, y, sigma, left, top, right, bottom):
    """Add a Gaussian cut at one sigma (the nearest pixel gets `value`), saturating at 1."""
    sigma2 = sigma * sigma
    for row in range(top, bottom):
        dy2 = (row - y) * (row - y)
        for col in range(left, right):
            dx2 = (col - x) * (col - x)
            if dx2 + dy2 > sigma2:
                continue
            added = value if (dx2 < 0.25 and dy2 < 0.25) else value * _approximate_exp(-0.5 * (dx2 + dy2) / sigma2)
            plane[row, col] = min(plane[row, col] + added, 1.0)


@numba.njit(cache=True)
def _approximate_exp(x):
    """(1 + x / 8)^8, OpenPifPaf's exp on [-2, 0] (0 below)."""
    if x < -2.0:
        return 0.0
    x = 1.0 + x / 8.0
    x *= x
    x *= x
    return x * x


@numba.njit(cache=True, nogil=True)
def _scored_associations(caf, stride, confidence_map, associations, threshold):
    """Step 3 of the module docstring: forward and backward associations as rows (confidence,
    x from, y from, x to, y to, scale from, scale to) grouped by association in scan order, and
    `starts` (2, E + 1) delimiting the groups, forward then backward."""
    candidates = _count_at_least(caf, threshold)
    forward, backward = np.empty((candidates, 7)), np.empty((candidates, 7))
    starts = np.zeros((2, caf.shape[0] + 1), np.int64)
    ahead = behind = 0
    for field in range(caf.shape[0]):
        starts[0, field], starts[1, field] = ahead, behind
        first, second = associations[field, 0], associations[field, 1]
        for row in range(caf.shape[2]):
            for col in range(caf.shape[3]):
                confidence = caf[field, 1, row, col]
                if confidence < threshold:
                    continue
                x1, y1 = caf[field, 2, row, col] * stride, caf[field, 3, row, col] * stride
                x2, y2 = caf[field, 4, row, col] * stride, caf[field, 5, row, col] * stride
                scale1, scale2 = caf[field, 6, row, col] * stride, caf[field, 7, row, col] * stride
                rescored = confidence * (CAF_FLOOR + (1 - CAF_FLOOR) * _map_value(confidence_map, second, x2, y2, 0.0))
                if rescored > threshold:
                    _put_row(forward, ahead, rescored, x1, y1, x2, y2, scale1, scale2)
                    ahead += 1
                rescored = confidence * (CAF_FLOOR + (1 - CAF_FLOOR) * _map_value(confidence_map, first, x1, y1, 0.0))
                if rescored > threshold:
                    _put_row(backward, behind, rescored, x2, y2, x1, y1, scale2, scale1)
                    behind += 1
    starts[0, -1], starts[1, -1] = ahead, behind
    return forward[:ahead], backward[:behind], starts


@numba.njit(cache=True)
def _put_row(rows, index, confidence, x_from, y_from, x_to, y_to, scale_from, scale_to):
    rows[index, 0], rows[index, 1], rows[index, 2], rows[index, 3] = confidence, x_from, y_from, x_to
    rows[index, 4], rows[index, 5], rows[index, 6] = y_to, scale_from, scale_to


@numba.njit(cache=True, nogil=True)
def _seed_candidates(cif, stride, confidence_map, threshold, local_maxima):
    """Step 2 of the module docstring before the sort: fields (S,) and rows (confidence, x, y,
    scale) (S, 4), in scan order."""
    candidates = _count_at_least(cif, threshold)
    fields, seeds = np.empty(candidates, np.int64), np.empty((candidates, 4))
    count = 0
    for field in range(cif.shape[0]):
        for row in range(cif.shape[2]):
            for col in range(cif.shape[3]):
                confidence = cif[field, 1, row, col]
                if confidence < threshold or (local_maxima and not _local_maximum(cif[field, 1], row, col)):
                    continue
                x, y = cif[field, 2, row, col] * stride, cif[field, 3, row, col] * stride
                rescored = (SEED_MAP_WEIGHT * _map_value(confidence_map, field, x, y, -1.0)
                            + (1 - SEED_MAP_WEIGHT) * confidence)
                if rescored < threshold:
                    continue
                fields[count] = field
                seeds[count, 0], seeds[count, 1], seeds[count, 2] = rescored, x, y
                seeds[count, 3] = cif[field, 4, row, col] * stride
                count += 1
    return fields[:count], seeds[:count]


@numba.njit(cache=True)
def _count_at_least(fields, threshold):
    """How many vectors of (F, C, H, W) fields have a confidence (component 1) of `threshold` or more."""
    count = 0
    for field in range(fields.shape[0]):
        for row in range(fields.shape[2]):
            for col in range(fields.shape[3]):
                count += fields[field, 1, row, col] >= threshold
    return count


@numba.njit(cache=True)
def _local_maximum(plane, row, col):
    """Whether no cell of the 3 x 3 neighbourhood is larger."""
    for neighbour_row in range(max(row - 1, 0), min(row + 2, plane.shape[0])):
        for neighbour_col in range(max(col - 1, 0), min(col + 2, plane.shape[1])):
            if plane[neighbour_row, neighbour_col] > plane[row, col]:
                return False
    return True


@numba.njit(cache=True)
def _map_value(confidence_map, field, x, y, outside):
    """The map at the pixel nearest to (x, y), `outside` beyond its edges."""
    height, width = confidence_map.shape[1:]
    if x < -0.49 or y < -0.49 or x > width - 0.51 or y > height - 0.51:
        return outside
    return confidence_map[field, int(y + 0.5), int(x + 0.5)]


@numba.njit(cache=True, nogil=True)
def _grow_people(seed_fields, seeds, forward, backward, starts, associations, occupancy, generation,
                 rules, people):
    """Step 4 of the module docstring: fills `people` (one per seed at most, zeros) with
    confidence, x, y, scale per keypoint; returns how many it grew."""
    keypoint_count = occupancy.shape[0]
    lookup = _association_lookup(associations, keypoint_count)
    frontier = _frontier(len(associations), keypoint_count)
    count = 0
    for seed in range(len(seeds)):
        field = seed_fields[seed]
        if _occupied(occupancy, generation, field, seeds[seed, 1], seeds[seed, 2]):
            continue
        joints = people[count]
        for component in range(4):
            joints[field, component] = seeds[seed, component]
        _grow(joints, lookup, associations, forward, backward, starts, rules, frontier)
        for keypoint in range(keypoint_count):
            if joints[keypoint, 0] != 0.0:
                _occupy(occupancy, generation, keypoint, joints[keypoint, 1], joints[keypoint, 2], joints[keypoint, 3])
        count += 1
    return count


@numba.njit(cache=True, nogil=True)
def _complete_people(people, forward, backward, starts, associations):
    """Give each person every keypoint (see `complete_poses` in the module docstring)."""
    keypoint_count = people.shape[1]
    lookup = _association_lookup(associations, keypoint_count)
    frontier = _frontier(len(associations), keypoint_count)
    rules = (0.0, 0.0, COMPLETION_REACH, False)
    for person in range(len(people)):
        _grow(people[person], lookup, associations, forward, backward, starts, rules, frontier)
        _grow(people[person], lookup, associations, forward, backward, starts, rules, frontier, True)


@numba.njit(cache=True)
def _frontier(association_count, keypoint_count):
    """The frontier's storage: entries (priority, source and target, joint once computed), a
    heap of them, and which pairs were queued."""
    capacity = 4 * association_count + 4
    return (np.zeros(capacity, np.float32), np.zeros((capacity, 2), np.int64), np.zeros((capacity, 4)),
            np.zeros(capacity, np.int64), np.zeros((keypoint_count, keypoint_count), np.bool_))


@numba.njit(cache=True)
def _association_lookup(associations, keypoint_count):
    """(K, K): for source, target the association index, + 1 read forwards, - 1 - index read
    backwards, 0 none; the first association of a pair wins, as OpenPifPaf looks them up."""
    lookup = np.zeros((keypoint_count, keypoint_count), np.int64)
    for index in range(len(associations) - 1, -1, -1):
        lookup[associations[index, 0], associations[index, 1]] = index + 1
        lookup[associations[index, 1], associations[index, 0]] = -1 - index
    return lookup


@numba.njit(cache=True)
def _grow(joints, lookup, associations, forward, backward, starts, rules, frontier, fill_in=False):
    """Fill a person's joints from those it has, best connection first: an entry is queued with
    its source's confidence, then requeued with its own once computed, and taken when it comes
    out on top computed. `fill_in`: an entry is taken at once, as its source's place at
    FILLED_CONFIDENCE (OpenPifPaf's flood fill)."""
    priorities, links, found, heap, queued = frontier
    queued.fill(False)
    size = entries = 0
    for keypoint in range(joints.shape[0]):
        if joints[keypoint, 0] != 0.0:
            size, entries = _queue_from(joints, keypoint, associations, queued, priorities, links, found,
                                        heap, size, entries)
    while size > 0:
        entry = heap[0]
        size = _heap_pop(heap, size, priorities)
        source, target = links[entry, 0], links[entry, 1]
        if joints[target, 0] > 0.0:
            continue
        if fill_in:
            found[entry, 0] = FILLED_CONFIDENCE
            found[entry, 1:] = joints[source, 1:]
        elif found[entry, 0] == 0.0:
            confidence, x, y, scale = _connection(joints[source], lookup[source, target], forward, backward,
                                                  starts, rules)
            if confidence > 0.0:
                priorities[entries] = confidence
                links[entries, 0], links[entries, 1] = source, target
                found[entries, 0], found[entries, 1], found[entries, 2], found[entries, 3] = confidence, x, y, scale
                size = _heap_push(heap, size, priorities, entries)
                entries += 1
            continue
        for component in range(4):
            joints[target, component] = found[entry, component]
        size, entries = _queue_from(joints, target, associations, queued, priorities, links, found,
                                    heap, size, entries)


@numba.njit(cache=True)
def _queue_from(joints, source, associations, queued, priorities, links, found, heap, size, entries):
    """Queue the connections from `source` to keypoints not yet found, each pair once."""
    for index in range(len(associations)):
        if associations[index, 0] == source:
            target = associations[index, 1]
        elif associations[index, 1] == source:
            target = associations[index, 0]
        else:
            continue
        if joints[target, 0] > 0.0 or queued[source, target]:
            continue
        queued[source, target] = True
        priorities[entries] = math.sqrt(joints[source, 0])
        links[entries, 0], links[entries, 1] = source, target
        found[entries, 0] = 0.0
        size = _heap_push(heap, size, priorities, entries)
        entries += 1
    return size, entries


@numba.njit(cache=True)
def _connection(source, association, forward, backward, starts, rules):
    """The target joint (confidence, x, y, scale) reached from `source` along `association`
    (as in `_association_lookup`), confidence 0 when refused. `rules`: the least confidence, the
    least share of the source's, how far associations are searched (in sigmas of `_blend`),
    whether the association read back must lead to the source (the reverse match)."""
    keypoint_threshold, relative_threshold, sigmas, reverse_match = rules
    index = association - 1 if association > 0 else -1 - association
    there, back = (forward, backward) if association > 0 else (backward, forward)
    side = 0 if association > 0 else 1
    rows_there = there[starts[side, index]:starts[side, index + 1]]
    rows_back = back[starts[1 - side, index]:starts[1 - side, index + 1]]
    confidence, x, y, scale = _blend(rows_there, source[1], source[2], source[3], sigmas)
    if confidence == 0.0:
        return 0.0, x, y, scale
    confidence = math.sqrt(confidence * source[0])
    if confidence < keypoint_threshold or confidence < source[0] * relative_threshold:
        return 0.0, x, y, scale
    if not reverse_match:
        return confidence, x, y, scale
    back_confidence, back_x, back_y, _ = _blend(rows_back, x, y, scale, sigmas)
    if back_confidence == 0.0 or abs(source[1] - back_x) + abs(source[2] - back_y) > source[3]:
        return 0.0, x, y, scale
    return confidence, x, y, scale


@numba.njit(cache=True)
def _blend(rows, x, y, scale, sigmas):
    """(confidence, x, y, scale) at the far end of the associations starting within `sigmas`
    sigmas of (x, y) in x and y (a sigma is half the scale): the best one weighted by a Gaussian
    of the distance, blended with the second best when that one is about as good and lands near
    it; confidence 0 when none is near."""
    scale = max(scale, MIN_BLEND_SCALE)
    reach = np.float32(sigmas * scale / 2.0)
    sigma2 = np.float32(0.25 * scale * scale)
    best = second = 0
    best_score = second_score = np.float32(0.0)
    for row in range(len(rows)):
        if abs(rows[row, 1] - x) > reach or abs(rows[row, 2] - y) > reach:
            continue
        d2 = np.float32((rows[row, 1] - x) ** 2 + (rows[row, 2] - y) ** 2)
        score = np.float32(math.exp(-0.5 * d2 / sigma2) * rows[row, 0])
        if score >= best_score:
            second, second_score = best, best_score
            best, best_score = row, score
        elif score > second_score:
            second, second_score = row, score
    if best_score == 0.0:
        return 0.0, 0.0, 0.0, 0.0
    best_x, best_y, best_scale = rows[best, 3], rows[best, 4], max(0.0, rows[best, 6])
    if second_score < BLEND_SECOND_MIN or second_score < BLEND_SECOND_RATIO * best_score:
        return 0.5 * best_score, best_x, best_y, best_scale
    second_x, second_y, second_scale = rows[second, 3], rows[second, 4], max(0.0, rows[second, 6])
    if (best_x - second_x) ** 2 + (best_y - second_y) ** 2 > best_scale ** 2 / 4.0:
        return 0.5 * best_score, best_x, best_y, best_scale
    total = best_score + second_score
    return (0.5 * total, (best_score * best_x + second_score * second_x) / total,
            (best_score * best_y + second_score * second_y) / total,
            (best_score * best_scale + second_score * second_scale) / total)


@numba.njit(cache=True)
def _heap_push(heap, size, priorities, entry):
    """Add an entry to the max-heap on priorities, as std::push_heap does (so that ties come
    out in OpenPifPaf's order)."""
    hole = size
    while hole > 0 and priorities[heap[(hole - 1) // 2]] < priorities[entry]:
        heap[hole] = heap[(hole - 1) // 2]
        hole = (hole - 1) // 2
    heap[hole] = entry
    return size + 1


@numba.njit(cache=True)
def _heap_pop(heap, size, priorities):
    """Remove the top entry as std::pop_heap does: the hole at the top sinks to a leaf along the
    larger children, and the last entry is pushed up from there."""
    last = size - 1
    entry = heap[last]
    hole = child = 0
    while child < (last - 1) // 2:
        child = 2 * child + 2
        if priorities[heap[child]] < priorities[heap[child - 1]]:
            child -= 1
        heap[hole] = heap[child]
        hole = child
    if last % 2 == 0 and child == (last - 2) // 2:
        child = 2 * child + 2
        heap[hole] = heap[child - 1]
        hole = child - 1
    _heap_push(heap, hole, priorities, entry)
    return last


@numba.njit(cache=True)
def _occupied(occupancy, generation, field, x, y):
    height, width = occupancy.shape[1:]
    col = min(max(int(x / OCCUPANCY_REDUCTION), 0), width - 1)
    row = min(max(int(y / OCCUPANCY_REDUCTION), 0), height - 1)
    return occupancy[field, row, col] == generation


@numba.njit(cache=True)
def _occupy(occupancy, generation, field, x, y, scale):
    """Mark the square of half-side `scale` (at least OCCUPANCY_MIN_RADIUS) around (x, y)."""
    height, width = occupancy.shape[1:]
    x, y = x / OCCUPANCY_REDUCTION, y / OCCUPANCY_REDUCTION
    radius = max(OCCUPANCY_MIN_RADIUS / OCCUPANCY_REDUCTION, scale / OCCUPANCY_REDUCTION)
    left = min(max(int(x - radius), 0), width - 1)
    top = min(max(int(y - radius), 0), height - 1)
    right = min(max(int(x + radius), left + 1), width)
    bottom = min(max(int(y + radius), top + 1), height)
    for row in range(top, bottom):
        for col in range(left, right):
            occupancy[field, row, col] = generation


@numba.njit(cache=True, nogil=True)
def _suppress_keypoints(people, occupancy, generation):
    """Scale down each keypoint inside the occupancy of the same keypoint of an earlier person."""
    for person in range(len(people)):
        for keypoint in range(people.shape[1]):
            joint = people[person, keypoint]
            if joint[0] == 0.0:
                continue
            if _occupied(occupancy, generation, keypoint, joint[1], joint[2]):
                joint[0] *= SUPPRESSED
            else:
                _occupy(occupancy, generation, keypoint, joint[1], joint[2], joint[3])
