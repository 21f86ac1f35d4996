"""SimplePose V2 (OffsetGuided) decoding: heatmap peaks, refined by their offsets, grouped into
people greedily by following each limb's guiding offsets.

1. Peaks: cells that no cell of their 3 x 3 neighbourhood exceeds (max-pool NMS) above
   `peak_threshold`, the `max_candidates` best per keypoint, placed at the cell's centre plus
   its refinement offset.
2. Per limb (a, b): each candidate of a points, by the guiding offset at its cell, to where b
   should be; a candidate of b within the tolerance there (a few cells, more for longer limbs)
   is a connection, scored by both keypoints' scores and how near it lands; connections are
   taken best first, each candidate once per limb.
3. Connections join people as they come (OpenPose's assembly): a new person, a keypoint added
   to the person of the other end, or two people merged when they share no keypoint kind.
A person's score is the sum of its keypoints' scores over the number of keypoints.
Finding peaks and steps 2 and 3 are compiled by numba; nothing loops in Python per limb or person.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .paf import boxes_around


@dataclass(frozen=True)
class GuidingOffsetDecoder:
    """Fields (channels, h, w), as heads.guiding_offsets lays them out -> people in input pixels."""

    limbs: tuple
    num_keypoints: int = 17
    stride: int = 4
    peak_threshold: float = 0.05
    max_candidates: int = 32
    min_tolerance: float = 2.0       # cells
    tolerance_fraction: float = 0.3  # of the guiding offset's length
    min_person_score: float = 0.25
    max_people: int = 300

    def __call__(self, fields: np.ndarray):
        count = self.num_keypoints
        channels, height, width = fields.shape
        heatmaps = fields[:count]
        refinement = fields[count:3 * count].reshape(count, 2, height, width)
        guiding = np.ascontiguousarray(fields[3 * count:], dtype=np.float32).reshape(len(self.limbs), 2, height, width)
        kinds, rows, cols, scores = self.peaks(heatmaps)
        positions = np.stack((cols + 0.5 + refinement[kinds, 0, rows, cols],
                              rows + 0.5 + refinement[kinds, 1, rows, cols]), axis=1).astype(np.float32)
        people = _group(kinds, rows, cols, positions, scores, guiding, np.asarray(self.limbs, np.int64).reshape(-1, 2),
                        count, self.min_tolerance, self.tolerance_fraction)
        keypoints = np.zeros((len(people), count, 3), np.float32)
        found = people >= 0
        members = people[found]
        keypoints[found] = np.concatenate((positions[members] * self.stride, scores[members, None]), axis=1)
        person_scores = keypoints[..., 2].sum(axis=1) / count
        keep = np.flatnonzero(person_scores >= self.min_person_score)
        keep = keep[np.argsort(-person_scores[keep], kind="stable")][:self.max_people]
        return boxes_around(keypoints[keep]), person_scores[keep], keypoints[keep]

    def peaks(self, heatmaps: np.ndarray):
        """Kinds, rows, cols and scores of the candidates, sorted by kind then score (best first)."""
        kinds, rows, cols, scores = _local_maxima(np.ascontiguousarray(heatmaps, dtype=np.float32),
                                                  np.float32(self.peak_threshold))
        order = np.lexsort((-scores, kinds))
        kinds, rows, cols, scores = kinds[order], rows[order], cols[order], scores[order]
        rank = np.arange(len(kinds)) - np.searchsorted(kinds, kinds)
        best = rank < self.max_candidates
        return kinds[best], rows[best], cols[best], scores[best]


@numba.njit(cache=True)
def _local_maxima(heatmaps, threshold):
    """Cells above `threshold` that no neighbour of their 3 x 3 neighbourhood exceeds (max-pool NMS)."""
    count, height, width = heatmaps.shape
    found = []
    for kind in range(count):
        for row in range(height):
            for col in range(width):
                value = heatmaps[kind, row, col]
                if value > threshold and _is_maximum(heatmaps[kind], row, col, value):
                    found.append((kind, row, col, value))
    kinds = np.empty(len(found), np.int64)
    rows = np.empty(len(found), np.int64)
    cols = np.empty(len(found), np.int64)
    scores = np.empty(len(found), np.float32)
    for index, (kind, row, col, value) in enumerate(found):
        kinds[index], rows[index], cols[index], scores[index] = kind, row, col, value
    return kinds, rows, cols, scores


@numba.njit(cache=True)
def _is_maximum(heatmap, row, col, value):
    for r in range(max(0, row - 1), min(heatmap.shape[0], row + 2)):
        for c in range(max(0, col - 1), min(heatmap.shape[1], col + 2)):
            if heatmap[r, c] > value:
                return False
    return True


@numba.njit(cache=True)
def _group(kinds, rows, cols, positions, scores, guiding, limbs, count, min_tolerance, tolerance_fraction):
    """People as (N, count) candidate indices, -1 where a keypoint is missing."""
    total = len(kinds)
    first = np.searchsorted(kinds, np.arange(count + 1))
    owner = np.full(total, -1, np.int64)
    people = np.full((total, count), -1, np.int64)
    made = 0
    for limb in range(len(limbs)):
        a, b = limbs[limb, 0], limbs[limb, 1]
        froms, tos, priorities = _connections(first[a], first[a + 1], first[b], first[b + 1], rows, cols, positions,
                                              scores, guiding[limb], min_tolerance, tolerance_fraction)
        used = np.zeros(total, np.bool_)
        for index in np.argsort(-priorities, kind="mergesort"):
            i, j = froms[index], tos[index]
            if used[i] or used[j]:
                continue
            used[i] = used[j] = True
            made = _join(people, owner, made, i, j, a, b)
    alive = np.zeros(made, np.bool_)
    for person in range(made):
        alive[person] = (people[person] >= 0).any()
    return people[:made][alive]


@numba.njit(cache=True)
def _connections(a_start, a_end, b_start, b_end, rows, cols, positions, scores, field, min_tolerance,
                 tolerance_fraction):
    """Candidate pairs (from, to) of one limb within the tolerance, and their priorities."""
    size = (a_end - a_start) * (b_end - b_start)
    froms = np.empty(size, np.int64)
    tos = np.empty(size, np.int64)
    priorities = np.empty(size, np.float32)
    found = 0
    for i in range(a_start, a_end):
        dx, dy = field[0, rows[i], cols[i]], field[1, rows[i], cols[i]]
        target_x, target_y = cols[i] + 0.5 + dx, rows[i] + 0.5 + dy
        tolerance = max(min_tolerance, tolerance_fraction * np.sqrt(dx * dx + dy * dy))
        for j in range(b_start, b_end):
            distance = np.sqrt((positions[j, 0] - target_x) ** 2 + (positions[j, 1] - target_y) ** 2)
            if distance <= tolerance:
                froms[found], tos[found] = i, j
                priorities[found] = 0.5 * (scores[i] + scores[j]) * (1.0 - 0.5 * distance / tolerance)
                found += 1
    return froms[:found], tos[:found], priorities[:found]


@numba.njit(cache=True)
def _join(people, owner, made, i, j, a, b):
    """Add the connection i (keypoint a) - j (keypoint b) to the people; returns how many were made."""
    p, q = owner[i], owner[j]
    if p < 0 and q < 0:
        people[made, a], people[made, b] = i, j
        owner[i] = owner[j] = made
        return made + 1
    if q < 0:
        if people[p, b] < 0:
            people[p, b], owner[j] = j, p
    elif p < 0:
        if people[q, a] < 0:
            people[q, a], owner[i] = i, q
    elif p != q and not ((people[p] >= 0) & (people[q] >= 0)).any():
        for kind in range(people.shape[1]):
            if people[q, kind] >= 0:
                people[p, kind] = people[q, kind]
                owner[people[q, kind]] = p
                people[q, kind] = -1
    return made
