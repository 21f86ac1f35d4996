"""Greedy non-maximum suppression on boxes, in numpy."""
from __future__ import annotations

import numpy as np


def corner_boxes(centres: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """x1, y1, x2, y2 boxes (N, 4) from centres (N, 2) and widths and heights (N, 2)."""
    return np.concatenate((centres - sizes / 2, centres + sizes / 2), axis=1)


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Area shared by x1, y1, x2, y2 boxes, broadcast like arithmetic (as box_iou)."""
    top_left = np.maximum(a[..., :2], b[..., :2])
    bottom_right = np.minimum(a[..., 2:], b[..., 2:])
    return np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of x1, y1, x2, y2 boxes (the last axis)."""
    return np.prod(boxes[..., 2:] - boxes[..., :2], axis=-1)


def box_share_inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The share of each `a` box's area that lies inside `b`, broadcast like box_iou."""
    return box_intersection(a, b) / np.maximum(box_area(a), 1e-9)


def box_extent(box: np.ndarray) -> float:
    """The longer side of an x1, y1, x2, y2 box: a person's height, which an obstacle beside
    them does not cut."""
    return float(max(box[2:] - box[:2]))


def box_scale(box: np.ndarray) -> float:
    """The side of the square as large as an x1, y1, x2, y2 box (at least 1 pixel)."""
    width, height = box[2:] - box[:2]
    return float(np.sqrt(max(width * height, 1.0)))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of x1, y1, x2, y2 boxes, broadcast like arithmetic: one box against (N, 4) boxes
    gives (N,); a[:, None] against b[None] gives the (A, B) matrix."""
    intersection = box_intersection(a, b)
    return intersection / np.maximum(box_area(a) + box_area(b) - intersection, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int) -> np.ndarray:
    """Indices of kept boxes, best first: each suppresses later boxes overlapping it by > threshold."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size and len(keep) < max_keep:
        best = order[0]
        keep.append(best)
        rest = order[1:]
        order = rest[box_iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
