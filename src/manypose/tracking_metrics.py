"""How well a tracker keeps people's identities, scored against ground truth with exact ids.

A clip is a sequence of `FrameTracks` (each frame's ids and x1, y1, x2, y2 boxes), one for the
truth and one for the tracker. `score_tracking(truth, predicted)` gives:

- CLEAR MOT (Bernardin & Stiefelhagen 2008): per frame, a person's correspondence from earlier
  frames is kept while its box still overlaps by IoU >= the threshold; the rest are paired by the
  Hungarian method. Misses, false positives, identity switches (a person paired with another id
  than the one last paired with it) and MOTA = 1 - (misses + false positives + switches) / people.
- IDF1, IDP, IDR (Ristani et al. 2016): each true identity paired with at most one predicted id
  for the whole clip, the pairing that maximizes the frames where the pair overlaps by IoU >= the
  threshold (identity true positives).
- HOTA, DetA, AssA (Luiten et al. 2021), averaged over IoU thresholds 0.05 .. 0.95.

Ratios whose denominator is zero (no people in the truth, or none at all) are nan.
`without_ignored` leaves out predictions on people the truth ignores (mostly hidden ones);
`matched_pairs` pairs one frame's people by overlap alone, whatever their ids. Checked equal to
py-motmetrics and TrackEval by benchmarks/tracking_metrics_parity.py.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .decoders.nms import box_iou

HOTA_THRESHOLDS = np.round(np.arange(1, 20) * 0.05, 2)  # 0.05, 0.10 ... 0.95
_UNPAIRABLE = 1e6  # cost that keeps a pair below the threshold out of a maximum matching


@dataclass(frozen=True)
class FrameTracks:
    """One frame's people: `ids` (N,) and `boxes` (N, 4) x1, y1, x2, y2."""

    ids: np.ndarray
    boxes: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "ids", np.asarray(self.ids, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "boxes", np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4))
        if len(self.ids) != len(self.boxes):
            raise ValueError(f"{len(self.ids)} ids for {len(self.boxes)} boxes")
        if len(set(self.ids.tolist())) != len(self.ids):
            raise ValueError(f"an id appears twice in one frame: {self.ids.tolist()}")


@dataclass(frozen=True)
class TrackingScores:
    people: int            # true boxes over all frames
    predictions: int       # predicted boxes over all frames
    misses: int            # true boxes left unpaired (CLEAR MOT)
    false_positives: int   # predicted boxes left unpaired (CLEAR MOT)
    id_switches: int
    mota: float
    idf1: float
    idp: float
    idr: float
    hota: float
    deta: float
    assa: float
    true_ids: int          # distinct identities in the truth
    predicted_ids: int     # distinct ids the tracker gave


def without_ignored(predicted: FrameTracks, ignored_boxes, truth: FrameTracks,
                    iou_threshold: float = 0.5) -> FrameTracks:
    """One frame's predictions less those on people the truth leaves out (mostly hidden ones):
    a prediction overlapping an ignored box by IoU >= `iou_threshold`, and more than any person
    of `truth`, is neither a false positive nor a match (as MOTChallenge treats distractors)."""
    ignored_boxes = np.asarray(ignored_boxes, dtype=np.float64).reshape(-1, 4)
    on_ignored = _best_overlap(predicted.boxes, ignored_boxes)
    kept = (on_ignored < iou_threshold) | (on_ignored <= _best_overlap(predicted.boxes, truth.boxes))
    return FrameTracks(predicted.ids[kept], predicted.boxes[kept])


def _best_overlap(boxes, others) -> np.ndarray:
    """Each box's highest IoU with any of `others` (0 when there are none)."""
    if len(others) == 0:
        return np.zeros(len(boxes))
    return box_iou(boxes[:, None], others[None]).max(1)


def score_tracking(truth, predicted, iou_threshold: float = 0.5) -> TrackingScores:
    """Scores of the `predicted` clip against the `truth` clip (sequences of FrameTracks of
    the same length); a pair of boxes matches when their IoU is at least `iou_threshold`."""
    truth, predicted = list(truth), list(predicted)
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true frames but {len(predicted)} predicted")
    people = sum(len(f.ids) for f in truth)
    predictions = sum(len(f.ids) for f in predicted)
    misses, false_positives, switches = clear_mot_counts(truth, predicted, iou_threshold)
    identity_true_positives = _identity_true_positives(truth, predicted, iou_threshold)
    hota, deta, assa = hota_scores(truth, predicted)
    return TrackingScores(
        people=people, predictions=predictions, misses=misses, false_positives=false_positives,
        id_switches=switches, mota=_ratio(people - misses - false_positives - switches, people),
        idf1=_ratio(2 * identity_true_positives, people + predictions),
        idp=_ratio(identity_true_positives, predictions), idr=_ratio(identity_true_positives, people),
        hota=hota, deta=deta, assa=assa,
        true_ids=len({i for f in truth for i in f.ids.tolist()}),
        predicted_ids=len({i for f in predicted for i in f.ids.tolist()}))


def clear_mot_counts(truth, predicted, iou_threshold: float = 0.5) -> tuple[int, int, int]:
    """Misses, false positives and identity switches over the clip (CLEAR MOT)."""
    last_paired: dict[int, int] = {}  # true id -> the predicted id last paired with it
    misses = false_positives = switches = 0
    for true_frame, predicted_frame in zip(truth, predicted):
        iou = _iou_matrix(true_frame, predicted_frame)
        pairs = _kept_pairs(true_frame, predicted_frame, iou, iou_threshold, last_paired)
        pairs += _new_pairs(iou, iou_threshold, pairs)
        for row, column in pairs:
            true_id, predicted_id = int(true_frame.ids[row]), int(predicted_frame.ids[column])
            switches += last_paired.get(true_id, predicted_id) != predicted_id
            last_paired[true_id] = predicted_id
        misses += len(true_frame.ids) - len(pairs)
        false_positives += len(predicted_frame.ids) - len(pairs)
    return misses, false_positives, switches


def _kept_pairs(true_frame, predicted_frame, iou, iou_threshold, last_paired):
    """(row, column) pairs of earlier correspondences whose boxes still overlap enough."""
    columns = {int(i): c for c, i in enumerate(predicted_frame.ids)}
    pairs = []
    for row, true_id in enumerate(true_frame.ids.tolist()):
        column = columns.get(last_paired.get(true_id, -1))
        if column is not None and iou[row, column] >= iou_threshold:
            pairs.append((row, column))
    return pairs


def matched_pairs(true_frame: FrameTracks, predicted_frame: FrameTracks, iou_threshold: float = 0.5):
    """(true index, predicted index) pairs of one frame, whatever the ids: as many pairs with
    IoU >= `iou_threshold` as possible, then the highest total IoU."""
    return _maximum_matching(_iou_matrix(true_frame, predicted_frame), iou_threshold)


def _new_pairs(iou, iou_threshold, taken):
    """The most pairs, then the highest total IoU, among the rows and columns not `taken`."""
    rows = np.setdiff1d(np.arange(iou.shape[0]), [r for r, _ in taken])
    columns = np.setdiff1d(np.arange(iou.shape[1]), [c for _, c in taken])
    return [(int(rows[r]), int(columns[c])) for r, c in _maximum_matching(iou[np.ix_(rows, columns)], iou_threshold)]


def _maximum_matching(similarity, threshold):
    """Hungarian pairs of a similarity matrix, at least `threshold` each: as many pairs as
    possible, then the highest total similarity."""
    if similarity.size == 0:
        return []
    cost = np.where(similarity >= threshold, 1.0 - similarity, _UNPAIRABLE)
    rows, columns = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, columns) if similarity[r, c] >= threshold]


def _identity_true_positives(truth, predicted, iou_threshold) -> int:
    """Frames matched under the clip-wide one-to-one pairing of true and predicted ids that
    maximizes them (IDF1's identity true positives)."""
    overlaps: Counter = Counter()
    for true_frame, predicted_frame in zip(truth, predicted):
        rows, columns = np.nonzero(_iou_matrix(true_frame, predicted_frame) >= iou_threshold)
        overlaps.update(zip(true_frame.ids[rows].tolist(), predicted_frame.ids[columns].tolist()))
    if not overlaps:
        return 0
    table = _id_table(overlaps)
    rows, columns = linear_sum_assignment(-table)
    return int(table[rows, columns].sum())


def hota_scores(truth, predicted) -> tuple[float, float, float]:
    """HOTA, DetA and AssA, each the mean over HOTA_THRESHOLDS of its value at that IoU."""
    ious = [_iou_matrix(t, p) for t, p in zip(truth, predicted)]
    alignment = _alignment(truth, predicted, ious)
    true_positives = np.zeros(len(HOTA_THRESHOLDS))
    pair_counts = [Counter() for _ in HOTA_THRESHOLDS]
    for true_frame, predicted_frame, iou in zip(truth, predicted, ious):
        for row, column in _hota_pairs(true_frame, predicted_frame, iou, alignment):
            pair = (int(true_frame.ids[row]), int(predicted_frame.ids[column]))
            for k in np.flatnonzero(HOTA_THRESHOLDS <= iou[row, column] + 1e-12):
                true_positives[k] += 1
                pair_counts[k][pair] += 1
    people = sum(len(f.ids) for f in truth)
    predictions = sum(len(f.ids) for f in predicted)
    true_counts, predicted_counts = _id_counts(truth), _id_counts(predicted)
    deta = np.array([_ratio(tp, people + predictions - tp) for tp in true_positives])
    assa = np.array([_association(counts, tp, true_counts, predicted_counts)
                     for counts, tp in zip(pair_counts, true_positives)])
    hota = np.sqrt(deta * assa)
    return float(np.mean(hota)), float(np.mean(deta)), float(np.mean(assa))


def _alignment(truth, predicted, ious) -> dict:
    """How much each (true id, predicted id) pair belongs together over the whole clip (HOTA's
    global alignment score), which breaks ties in the per-frame matching toward consistent ids."""
    potential: Counter = Counter()
    for true_frame, predicted_frame, iou in zip(truth, predicted, ious):
        if iou.size == 0:
            continue
        # each overlap shared out against the other overlaps of its row and column
        shared = iou / np.maximum(iou.sum(1, keepdims=True) + iou.sum(0, keepdims=True) - iou, 1e-12)
        for row, column in zip(*np.nonzero(iou > 0)):
            potential[int(true_frame.ids[row]), int(predicted_frame.ids[column])] += shared[row, column]
    true_counts, predicted_counts = _id_counts(truth), _id_counts(predicted)
    return {pair: value / (true_counts[pair[0]] + predicted_counts[pair[1]] - value)
            for pair, value in potential.items()}


def _hota_pairs(true_frame, predicted_frame, iou, alignment):
    """One frame's pairs with any overlap, chosen for overlap weighted by alignment."""
    if iou.size == 0:
        return []
    weight = np.array([[alignment.get((int(t), int(p)), 0.0) for p in predicted_frame.ids] for t in true_frame.ids])
    rows, columns = linear_sum_assignment(-(iou * weight))
    return [(r, c) for r, c in zip(rows, columns) if iou[r, c] > 0]


def _association(pair_counts: Counter, true_positives, true_counts, predicted_counts) -> float:
    """AssA at one threshold: each true positive's pair scored by its frames together over the
    frames either id is present, averaged over the true positives."""
    if true_positives == 0:
        return 0.0
    total = sum(count * count / (true_counts[t] + predicted_counts[p] - count)
                for (t, p), count in pair_counts.items())
    return total / true_positives


def _id_counts(frames) -> Counter:
    return Counter(i for f in frames for i in f.ids.tolist())


def _id_table(counts: Counter):
    """The counts keyed by (true id, predicted id) as a dense table, a row per true id."""
    true_ids = sorted({t for t, _ in counts})
    predicted_ids = sorted({p for _, p in counts})
    table = np.zeros((len(true_ids), len(predicted_ids)))
    rows = {t: r for r, t in enumerate(true_ids)}
    columns = {p: c for c, p in enumerate(predicted_ids)}
    for (t, p), count in counts.items():
        table[rows[t], columns[p]] = count
    return table


def _iou_matrix(true_frame: FrameTracks, predicted_frame: FrameTracks) -> np.ndarray:
    return box_iou(true_frame.boxes[:, None], predicted_frame.boxes[None])


def _ratio(numerator, denominator) -> float:
    return float(numerator) / denominator if denominator else float("nan")
