"""COCO keypoint evaluation as pycocotools computes it (OKS, greedy matching, 101-point
precision), kept in arrays so that the error analysis can re-evaluate with corrected detections
many times over: the same numbers, a small fraction of the time.

Conventions followed exactly (pycocotools 2.0 `COCOeval`, iouType keypoints): a ground truth is
ignored when it is a crowd or has no labelled keypoint, or when its area is outside the range; a
detection's area is its keypoints' extent; per image the 20 best-scored detections are matched,
best first, each to the unmatched ground truth of highest OKS at least the threshold (crowds
may take several, ignored ones only when nothing else matches); unmatched detections outside
the area range are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from ..evaluate import mean_valid

OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
AREA_RANGES = {"all": (0.0, 1e10), "medium": (32.0 ** 2, 96.0 ** 2), "large": (96.0 ** 2, 1e10)}
MAX_DETECTIONS = 20
EPSILON = np.spacing(1)


@dataclass
class ImageData:
    """One image's ground truths and detections (the best MAX_DETECTIONS, best first)."""

    image_id: int
    gt_ids: np.ndarray          # (G,)
    gt_keypoints: np.ndarray    # (G, K, 3)
    gt_areas: np.ndarray        # (G,)
    gt_boxes: np.ndarray        # (G, 4) x, y, w, h
    gt_crowd: np.ndarray        # (G,) bool
    gt_ignore: np.ndarray       # (G,) bool: crowd or no labelled keypoint
    dt_ids: np.ndarray          # (D,)
    dt_keypoints: np.ndarray    # (D, K, 3)
    dt_scores: np.ndarray       # (D,)
    dt_areas: np.ndarray        # (D,) as pycocotools' loadRes sets them (see `result_areas`)


@dataclass
class Matches:
    """One image's matching at every threshold: indices into its ground truths / detections
    (-1: unmatched) and the ignore flags, as pycocotools' evaluateImg gives them."""

    dt_match: np.ndarray        # (T, D)
    gt_match: np.ndarray        # (T, G)
    dt_ignore: np.ndarray       # (T, D) bool
    gt_ignore: np.ndarray       # (T, G) bool: ignored for this area range (per threshold for false-negative studies)
    scores: np.ndarray          # (D,)
    oks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (D, G)

    def missed(self, row: int) -> np.ndarray:
        """(G,) the people to find that no detection matched at threshold `row`."""
        return ~self.gt_ignore[row] & (self.gt_match[row] < 0)

    def unmatched(self, row: int) -> np.ndarray:
        """(D,) the detections, not ignored, that matched nobody at threshold `row`."""
        return (self.dt_match[row] < 0) & ~self.dt_ignore[row]


def images_from_coco(coco, results: list[dict], keypoint_count: int) -> list[ImageData]:
    """Every ground-truth image (sorted by id, as pycocotools evaluates them) with its
    annotations and the results on it."""
    by_image: dict = {}
    areas = result_areas(results)
    for index, result in enumerate(results):
        result = dict(result, area=areas[index])
        by_image.setdefault(result["image_id"], []).append((index + 1, result))
    images = []
    for image_id in sorted(coco.getImgIds()):
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        images.append(_image_data(image_id, annotations, by_image.get(image_id, []), keypoint_count))
    return images


def _image_data(image_id, annotations: list[dict], results: list, keypoint_count: int) -> ImageData:
    gt_keypoints = np.array([a["keypoints"] for a in annotations], float).reshape(-1, keypoint_count, 3)
    crowd = np.array([bool(a.get("iscrowd", 0)) for a in annotations], bool)
    labelled = np.array([a.get("num_keypoints", int((k[:, 2] > 0).sum())) > 0
                         for a, k in zip(annotations, gt_keypoints)], bool)
    order = np.argsort([-r["score"] for _, r in results], kind="mergesort")[:MAX_DETECTIONS]
    chosen = [results[i] for i in order]
    return ImageData(
        image_id, np.array([a["id"] for a in annotations]), gt_keypoints,
        np.array([a["area"] for a in annotations], float), np.array([a["bbox"] for a in annotations], float).reshape(-1, 4),
        crowd, crowd | ~labelled, np.array([i for i, _ in chosen], int),
        np.array([r["keypoints"] for _, r in chosen], float).reshape(-1, keypoint_count, 3),
        np.array([r["score"] for _, r in chosen], float), np.array([r["area"] for _, r in chosen], float))


def result_areas(results: list[dict]) -> np.ndarray:
    """Each result's area as pycocotools' loadRes sets it: from the boxes when the first result
    has a box, else from the extent of the keypoints."""
    if not results:
        return np.zeros(0)
    if results[0].get("bbox"):
        return np.array([r["bbox"][2] * r["bbox"][3] for r in results], float)
    keypoints = [np.asarray(r["keypoints"], float) for r in results]
    return np.array([(k[0::3].max() - k[0::3].min()) * (k[1::3].max() - k[1::3].min()) for k in keypoints])


def oks_matrix(dt_keypoints: np.ndarray, image: ImageData, sigmas: np.ndarray) -> np.ndarray:
    """(D, G) object keypoint similarity, pycocotools' computeOks: over the labelled keypoints,
    or, for a ground truth without any, by the distance outside its box doubled."""
    variances = (np.asarray(sigmas, float) * 2) ** 2
    result = np.zeros((len(dt_keypoints), len(image.gt_ids)))
    if result.size == 0:
        return result
    xd, yd = dt_keypoints[:, None, :, 0], dt_keypoints[:, None, :, 1]
    xg, yg, vg = (image.gt_keypoints[None, :, :, i] for i in range(3))
    labelled = vg > 0
    counts = labelled.sum(2)  # (1, G)
    box = image.gt_boxes
    x0, x1 = (box[:, 0] - box[:, 2])[None, :, None], (box[:, 0] + box[:, 2] * 2)[None, :, None]
    y0, y1 = (box[:, 1] - box[:, 3])[None, :, None], (box[:, 1] + box[:, 3] * 2)[None, :, None]
    dx = np.where(counts[..., None] > 0, xd - xg, np.maximum(0, x0 - xd) + np.maximum(0, xd - x1))
    dy = np.where(counts[..., None] > 0, yd - yg, np.maximum(0, y0 - yd) + np.maximum(0, yd - y1))
    e = (dx ** 2 + dy ** 2) / variances / (image.gt_areas[None, :, None] + EPSILON) / 2
    similarity = np.exp(-e)
    with_labels = (similarity * labelled).sum(2) / np.maximum(counts, 1)
    return np.where(counts > 0, with_labels, similarity.mean(2))


def match_image(image: ImageData, oks: np.ndarray, area_range, thresholds=OKS_THRESHOLDS, scores=None) -> Matches:
    """pycocotools' evaluateImg for one image, area range and every threshold."""
    low, high = area_range
    gt_ignore = image.gt_ignore | (image.gt_areas < low) | (image.gt_areas > high)
    gt_order = np.argsort(gt_ignore, kind="mergesort")
    scores = image.dt_scores if scores is None else scores
    dt_order = np.argsort(-scores, kind="mergesort")
    ordered_oks = oks[dt_order][:, gt_order] if oks.size else np.zeros((len(dt_order), len(gt_order)))
    dt_match, gt_match = _greedy_matches(ordered_oks, gt_ignore[gt_order], image.gt_crowd[gt_order],
                                         np.asarray(thresholds, float))
    # back to the images' own orders
    gt_position = np.empty_like(gt_order)
    gt_position[gt_order] = np.arange(len(gt_order))
    dt_match = _unsorted_columns(_renumbered(dt_match, gt_order), dt_order)
    gt_match = _renumbered(gt_match, dt_order)[:, gt_position]
    dt_ignore = (dt_match >= 0) & gt_ignore[np.maximum(dt_match, 0)] if len(gt_ignore) else dt_match >= 0
    outside = (image.dt_areas < low) | (image.dt_areas > high)
    dt_ignore |= (dt_match < 0) & outside[None, :]
    return Matches(dt_match, gt_match, dt_ignore, np.repeat(gt_ignore[None], len(thresholds), 0), scores, oks)


def _renumbered(indices: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Indices into a sorted list as indices into the unsorted one (-1 stays)."""
    if not len(order):
        return indices
    return np.where(indices >= 0, order[np.maximum(indices, 0)], -1)


def _unsorted_columns(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    result = np.empty_like(values)
    result[:, order] = values
    return result


@numba.njit(cache=True)
def _greedy_matches(oks, gt_ignore, crowd, thresholds):
    """dt (best first) x gt (ignored last) -> matched indices per threshold, -1 for none."""
    detections, truths = oks.shape
    dt_match = np.full((len(thresholds), detections), -1)
    gt_match = np.full((len(thresholds), truths), -1)
    for t in range(len(thresholds)):
        for d in range(detections):
            best = min(thresholds[t], 1 - 1e-10)
            chosen = -1
            for g in range(truths):
                if gt_match[t, g] >= 0 and not crowd[g]:
                    continue
                if chosen > -1 and not gt_ignore[chosen] and gt_ignore[g]:
                    break
                if oks[d, g] < best:
                    continue
                best = oks[d, g]
                chosen = g
            if chosen >= 0:
                dt_match[t, d] = chosen
                gt_match[t, chosen] = d
    return dt_match, gt_match


def accumulate(matches: list[Matches], thresholds=OKS_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """pycocotools' accumulate for one area range: precision (T, 101) and recall (T,), -1 where
    there is no ground truth to find."""
    thresholds = len(thresholds)
    precision, recall = -np.ones((thresholds, len(RECALL_POINTS))), -np.ones(thresholds)
    used = [m for m in matches if m.dt_match.shape[1] or m.gt_match.shape[1]]
    if not used:
        return precision, recall
    scores = np.concatenate([m.scores[np.argsort(-m.scores, kind="mergesort")] for m in used])
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([_by_score(m, m.dt_match >= 0) for m in used], axis=1)[:, order]
    ignored = np.concatenate([_by_score(m, m.dt_ignore) for m in used], axis=1)[:, order]
    positives = np.concatenate([~m.gt_ignore for m in used], axis=1).sum(1)
    true_positive = np.cumsum(matched & ~ignored, axis=1).astype(float)
    false_positive = np.cumsum(~matched & ~ignored, axis=1).astype(float)
    for t in range(thresholds):
        if positives[t] == 0:
            continue
        precision[t], recall[t] = _curve(true_positive[t], false_positive[t], positives[t])
    return precision, recall


def _by_score(matches: Matches, values: np.ndarray) -> np.ndarray:
    return values[:, np.argsort(-matches.scores, kind="mergesort")]


def _curve(true_positive, false_positive, positives) -> tuple[np.ndarray, float]:
    count = len(true_positive)
    recalled = true_positive / positives
    precise = true_positive / (false_positive + true_positive + np.spacing(1))
    points = np.zeros(len(RECALL_POINTS))
    if not count:
        return points, 0.0
    precise = np.maximum.accumulate(precise[::-1])[::-1]  # pycocotools' envelope, right to left
    indices = np.searchsorted(recalled, RECALL_POINTS, side="left")
    found = indices < count
    points[found] = precise[indices[found]]
    return points, float(recalled[-1])


def threshold_row(oks: float) -> int:
    """The row of OKS_THRESHOLDS nearest `oks` (0.5 is row 0, 0.75 row 5)."""
    return int(np.argmin(np.abs(OKS_THRESHOLDS - oks)))


def summary_stats(precision: dict, recall: dict) -> dict:
    """pycocotools' keypoint summary from the precision and recall of each area range."""
    fifty, seventy_five = threshold_row(0.5), threshold_row(0.75)
    return {"AP": mean_valid(precision["all"]), "AP50": mean_valid(precision["all"][fifty]),
            "AP75": mean_valid(precision["all"][seventy_five]), "APm": mean_valid(precision["medium"]),
            "APl": mean_valid(precision["large"]), "AR": mean_valid(recall["all"]),
            "AR50": mean_valid(recall["all"][fifty:fifty + 1]),
            "AR75": mean_valid(recall["all"][seventy_five:seventy_five + 1]), "ARm": mean_valid(recall["medium"]),
            "ARl": mean_valid(recall["large"])}


def evaluate(images: list[ImageData], sigmas, dt_keypoints=None, scores=None) -> tuple[dict, dict, dict]:
    """Precision, recall and matches per area range; `dt_keypoints` and `scores` (lists per
    image) replace the detections' own."""
    precision, recall, matched = {}, {}, {}
    keypoints = dt_keypoints or [image.dt_keypoints for image in images]
    chosen_scores = scores or [image.dt_scores for image in images]
    similarities = [oks_matrix(k, image, sigmas) for k, image in zip(keypoints, images)]
    for name, area_range in AREA_RANGES.items():
        matched[name] = [match_image(image, oks, area_range, scores=s)
                         for image, oks, s in zip(images, similarities, chosen_scores)]
        precision[name], recall[name] = accumulate(matched[name])
    return precision, recall, matched
