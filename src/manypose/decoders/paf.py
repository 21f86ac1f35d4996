"""Bottom-up grouping with part affinity fields (OpenPose), in vectorized numpy.

1. Heatmaps and fields are upsampled; heatmaps are smoothed and their local maxima above a
   threshold become part candidates (peaks).
2. For every limb, each pair of candidates is scored by sampling the limb's field along the
   segment between them (the line integral); pairs with enough aligned samples are kept, best
   first, each candidate used once per limb.
3. Limbs are assembled into people by shared candidates; people with too few parts or a low
   mean score are dropped.
No compiled extension: the per-limb work is a handful of array operations.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PafDecoder:
    """Fields (heatmaps + pafs, h, w) at the network's stride -> people in input pixels.

    `limbs`: (part a, part b, field channel x, field channel y) per limb, see heads.paf."""

    limbs: tuple
    num_parts: int = 18
    stride: int = 8
    upsample: int = 4
    smooth_sigma: float = 3.0
    peak_threshold: float = 0.05
    min_peak_distance: float = 3.0  # upsampled pixels; flat tops give several equal maxima
    samples: int = 10
    sample_threshold: float = 0.05
    min_aligned_samples: int = 7
    min_parts: int = 4
    min_person_score: float = 0.25
    max_people: int = 300

    def __call__(self, fields: np.ndarray):
        heatmaps, pafs = self.upsampled(fields)
        peaks = self.find_peaks(heatmaps)
        keypoints, scores = self.group(pafs, peaks)
        keypoints *= np.array([self.stride / self.upsample] * 2 + [1], dtype=np.float32)
        return boxes_around(keypoints), scores, keypoints

    def upsampled(self, fields: np.ndarray):
        parts = fields[:self.num_parts].transpose(1, 2, 0)
        pafs = fields[fields.shape[0] - 2 * len(self.limbs):].transpose(1, 2, 0)
        size = (fields.shape[2] * self.upsample, fields.shape[1] * self.upsample)
        heatmaps = cv2.resize(np.ascontiguousarray(parts), size, interpolation=cv2.INTER_CUBIC)
        pafs = cv2.resize(np.ascontiguousarray(pafs), size, interpolation=cv2.INTER_CUBIC)
        if self.smooth_sigma:
            heatmaps = cv2.GaussianBlur(heatmaps, (0, 0), self.smooth_sigma)
        return heatmaps.reshape(size[1], size[0], -1), pafs

    def find_peaks(self, heatmaps: np.ndarray) -> list[np.ndarray]:
        """Per part, candidates as rows (x, y, score): 3x3 local maxima above the threshold,
        at least `min_peak_distance` apart (the stronger one stays)."""
        maxima = cv2.dilate(heatmaps, np.ones((3, 3), np.uint8)).reshape(heatmaps.shape)
        is_peak = (heatmaps == maxima) & (heatmaps > self.peak_threshold)
        peaks = []
        for part in range(self.num_parts):
            ys, xs = np.nonzero(is_peak[:, :, part])
            candidates = np.stack((xs, ys, heatmaps[ys, xs, part]), axis=1).astype(np.float32)
            peaks.append(self._apart(candidates[np.argsort(-candidates[:, 2], kind="stable")]))
        return peaks

    def _apart(self, candidates: np.ndarray) -> np.ndarray:
        if len(candidates) < 2:
            return candidates
        distance = np.linalg.norm(candidates[:, None, :2] - candidates[None, :, :2], axis=2)
        keep = np.ones(len(candidates), bool)
        for i in range(len(candidates)):
            if keep[i]:
                keep[i + 1:] &= distance[i, i + 1:] >= self.min_peak_distance
        return candidates[keep]

    def group(self, pafs, peaks):
        """People's keypoints (N, parts, 3) in upsampled-map pixels, and their scores."""
        connections = [self.connect(pafs, peaks[a], peaks[b], cx, cy) for a, b, cx, cy in self.limbs]
        people, scores = self.assemble(peaks, connections)
        return self.keypoints_of(people, peaks), scores

    def connect(self, pafs, peaks_a, peaks_b, channel_x, channel_y) -> np.ndarray:
        """Chosen connections of one limb as rows (index a, index b, score)."""
        if not len(peaks_a) or not len(peaks_b):
            return np.zeros((0, 3), np.float32)
        start, end = peaks_a[:, None, :2], peaks_b[None, :, :2]
        vector = end - start                                       # (na, nb, 2)
        length = np.linalg.norm(vector, axis=2)
        unit = vector / np.maximum(length, 1e-6)[..., None]
        steps = np.linspace(0.0, 1.0, self.samples, dtype=np.float32)
        points = start[..., None, :] + vector[..., None, :] * steps[:, None]   # (na, nb, s, 2)
        xs = np.clip(np.round(points[..., 0]).astype(np.intp), 0, pafs.shape[1] - 1)
        ys = np.clip(np.round(points[..., 1]).astype(np.intp), 0, pafs.shape[0] - 1)
        alignment = pafs[ys, xs, channel_x] * unit[..., None, 0] + pafs[ys, xs, channel_y] * unit[..., None, 1]
        aligned = (alignment > self.sample_threshold).sum(axis=2)
        score = alignment.mean(axis=2)
        valid = (aligned >= self.min_aligned_samples) & (score > 0) & (length > 0)
        a_index, b_index = np.nonzero(valid)
        order = np.argsort(-score[a_index, b_index], kind="stable")
        chosen, used_a, used_b = [], set(), set()
        for a, b in zip(a_index[order], b_index[order]):
            if a not in used_a and b not in used_b:
                chosen.append((a, b, score[a, b]))
                used_a.add(a)
                used_b.add(b)
        return np.array(chosen, np.float32).reshape(-1, 3)

    def assemble(self, peaks, connections):
        """People as (N, parts) candidate indices (-1: missing) and their mean scores.

        A person's total is the sum of its parts' peak scores and its limbs' scores."""
        people: list[np.ndarray] = []
        totals: list[float] = []
        for (part_a, part_b, _, _), chosen in zip(self.limbs, connections):
            for a, b, score in chosen:
                a, b = int(a), int(b)
                owners = [i for i, person in enumerate(people) if person[part_a] == a or person[part_b] == b]
                if not owners:
                    person = np.full(self.num_parts, -1, np.int64)
                    person[part_a], person[part_b] = a, b
                    people.append(person)
                    totals.append(float(score + peaks[part_a][a, 2] + peaks[part_b][b, 2]))
                elif len(owners) == 1:
                    totals[owners[0]] += self._extend(people[owners[0]], ((part_a, a), (part_b, b)), peaks) + score
                else:
                    self._merge(people, totals, owners[0], owners[1], score)
        if self.min_parts == 1:
            self._add_unconnected_parts(people, totals, peaks)
        return self._keep_confident(people, totals)

    def _add_unconnected_parts(self, people, totals, peaks) -> None:
        """Parts joined to nobody become one-part people (only kept when min_parts is 1)."""
        for part, candidates in enumerate(peaks):
            used = {int(person[part]) for person in people}
            for index in set(range(len(candidates))) - used:
                person = np.full(self.num_parts, -1, np.int64)
                person[part] = index
                people.append(person)
                totals.append(float(candidates[index, 2]))

    @staticmethod
    def _extend(person, parts, peaks) -> float:
        """Fill the person's missing parts; the peak scores added."""
        added = 0.0
        for part, candidate in parts:
            if person[part] == -1:
                person[part] = candidate
                added += float(peaks[part][candidate, 2])
        return added

    @staticmethod
    def _merge(people, totals, first, second, score) -> None:
        a, b = people[first], people[second]
        if np.any((a >= 0) & (b >= 0) & (a != b)):
            return  # they disagree on a part: two people after all
        people[first] = np.where(a >= 0, a, b)
        totals[first] += totals[second] + float(score)
        del people[second], totals[second]

    def _keep_confident(self, people, totals):
        """People with enough parts and a high enough score, best first, at most `max_people`.

        OpenPose's per-part total (peak and limb scores, so up to about 2) is mapped onto 0..1 by
        t / (1 + t), which keeps the order: a well connected person scores about 0.65."""
        kept, scores = [], []
        for person, total in zip(people, totals):
            count = int((person >= 0).sum())  # one part at least: people are made from parts
            score = (total / count) / (1 + total / count)
            if count >= self.min_parts and score >= self.min_person_score:
                kept.append(person)
                scores.append(score)
        order = np.argsort(-np.array(scores, np.float32), kind="stable")[:self.max_people]
        kept = np.array(kept, np.int64).reshape(-1, self.num_parts)[order]
        return kept, np.array(scores, np.float32)[order]

    def keypoints_of(self, people: np.ndarray, peaks) -> np.ndarray:
        keypoints = np.zeros((len(people), self.num_parts, 3), np.float32)
        for part in range(self.num_parts):
            present = people[:, part] >= 0
            keypoints[present, part] = peaks[part][people[present, part]]
        return keypoints


def boxes_around(keypoints: np.ndarray) -> np.ndarray:
    """xyxy boxes around each person's found keypoints."""
    boxes = np.zeros((len(keypoints), 4), np.float32)
    for i, person in enumerate(keypoints):
        found = person[person[:, 2] > 0, :2]
        if len(found):
            boxes[i] = (*found.min(axis=0), *found.max(axis=0))
    return boxes
