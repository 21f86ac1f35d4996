"""A cheap appearance cue for tracking: colour histograms of a person's torso and legs, placed by
the keypoints (by the box where they are not seen), so that a person hidden for a while, or two
people crossing, are told apart by their clothes.

Hue and saturation only: brightness changes with the light as people walk. Each region's
histogram is normalised and square-rooted, so the dot product of two descriptors is the mean
Bhattacharyya coefficient of their regions: 1 for the same colours, 0 for colours with nothing
in common.
"""
from __future__ import annotations

import cv2
import numpy as np

HUE_BINS, SATURATION_BINS = 16, 4
HUE_SPREAD = np.array([1, 2, 3, 2, 1]) / 9  # a count shared with the neighbouring hues
REGION_SIZE = (16, 24)  # each region is shrunk to this before counting: the cue is coarse anyway
DARK = 40  # below this brightness hue is noise: such pixels count as one colour, black
# COCO keypoints that bound the torso (shoulders, hips) and the legs (hips, knees, ankles)
TORSO, LEGS = (5, 6, 11, 12), (11, 12, 13, 14, 15, 16)
# where the regions lie in the box when their keypoints are not seen: (top, bottom) fractions
TORSO_IN_BOX, LEGS_IN_BOX = (0.2, 0.55), (0.55, 0.95)
REGIONS = ((TORSO, TORSO_IN_BOX), (LEGS, LEGS_IN_BOX))
DESCRIPTOR_SIZE = len(REGIONS) * HUE_BINS * SATURATION_BINS


def appearance_descriptors(image: np.ndarray, keypoints: np.ndarray, boxes: np.ndarray,
                           keypoint_threshold: float) -> np.ndarray:
    """(N, DESCRIPTOR_SIZE) descriptors of the people in a BGR image; a row of zeros for a
    person too small or outside the picture (it then matches nothing by appearance)."""
    descriptors = np.zeros((len(boxes), DESCRIPTOR_SIZE), np.float32)
    if len(boxes) == 0:
        return descriptors
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    part = HUE_BINS * SATURATION_BINS
    for person, (points, box) in enumerate(zip(keypoints, boxes)):
        for region, (indices, in_box) in enumerate(REGIONS):
            rectangle = _region(points, box, indices, in_box, keypoint_threshold, hsv.shape)
            if rectangle is not None:
                descriptors[person, region * part:(region + 1) * part] = _histogram(hsv, rectangle)
    return descriptors / np.sqrt(len(REGIONS))


def appearance_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) similarity in 0..1 of two sets of descriptors."""
    return np.clip(a @ b.T, 0.0, 1.0)


def _region(points, box, indices, in_box, keypoint_threshold, shape):
    """x1, y1, x2, y2 of a body region in whole pixels inside the image, or None."""
    seen = points[list(indices)]
    seen = seen[seen[:, 2] >= keypoint_threshold]
    x1, y1, x2, y2 = box
    if len(seen) >= 3:  # bounded by its keypoints, a little narrower than the body's outline
        (left, top), (right, bottom) = seen[:, :2].min(0), seen[:, :2].max(0)
        margin = 0.1 * (right - left)
        left, right = left + margin, right - margin
    else:
        height, width = y2 - y1, x2 - x1
        left, right = x1 + 0.25 * width, x2 - 0.25 * width
        top, bottom = y1 + in_box[0] * height, y1 + in_box[1] * height
    left, top = max(int(left), 0), max(int(top), 0)
    right, bottom = min(int(np.ceil(right)), shape[1]), min(int(np.ceil(bottom)), shape[0])
    return (left, top, right, bottom) if right - left >= 4 and bottom - top >= 4 else None


def _histogram(hsv: np.ndarray, rectangle) -> np.ndarray:
    left, top, right, bottom = rectangle
    patch = cv2.resize(hsv[top:bottom, left:right], REGION_SIZE, interpolation=cv2.INTER_AREA)
    patch[patch[..., 2] < DARK, :2] = 0
    counts = cv2.calcHist([patch], [0, 1], None, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256])
    # spread over the neighbouring hues (a circle): a colour on a bin's edge then looks like
    # itself from frame to frame (one bin over: 0.86 alike; two: 0.61; three: 0.31)
    middle = len(HUE_SPREAD) // 2
    counts = sum(weight * np.roll(counts, shift - middle, axis=0) for shift, weight in enumerate(HUE_SPREAD))
    return np.sqrt(counts.ravel() / max(counts.sum(), 1.0))
