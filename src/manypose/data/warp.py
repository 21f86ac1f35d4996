"""A sample's image and annotations moved alike, for data.augment (whose docstring states the
decisions): mapped by an affine matrix onto a square output, mirrored with the left/right swap,
and rid of the people that left the image."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from ..skeleton import Skeleton
from .coco import Sample
from .transforms import bgr_triple


def warp(sample: Sample, matrix: np.ndarray, size: int, pad_value: int | tuple) -> Sample:
    """The sample mapped by a 2x3 matrix (continuous coordinates) onto a size x size image."""
    height, width = sample.image.shape[:2]
    image, image_matrix = shrink_before_warp(sample.image, matrix)
    warped = cv2.warpAffine(image, at_pixel_centres(image_matrix), (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=bgr_triple(pad_value))
    keypoints = sample.keypoints.copy()
    keypoints[~inside(keypoints, width, height), 2] = 0
    keypoints[..., :2] = transform_points(keypoints[..., :2], matrix)
    keypoints[~inside(keypoints, size, size), 2] = 0
    keypoints[keypoints[..., 2] == 0, :2] = 0
    return replace(sample, image=warped, keypoints=keypoints,
                   boxes=transform_boxes(sample.boxes, matrix, (width, height), size),
                   crowd_boxes=transform_boxes(sample.crowd_boxes, matrix, (width, height), size))


def shrink_before_warp(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """When the matrix shrinks, the image resized by area averaging first (bilinear sampling
    alone skips pixels and aliases), and the matrix that then applies to the smaller image."""
    linear_scale = abs(np.linalg.det(matrix[:, :2])) ** 0.5
    if linear_scale >= 1:
        return image, matrix
    height, width = image.shape[:2]
    new_width, new_height = max(1, round(width * linear_scale)), max(1, round(height * linear_scale))
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_AREA)
    adjusted = matrix.copy()
    adjusted[:, :2] = matrix[:, :2] * (width / new_width, height / new_height)
    return resized, adjusted


def at_pixel_centres(matrix: np.ndarray) -> np.ndarray:
    """The matrix for pixel indices (pixel i's centre is at i + 0.5), which cv2.warpAffine maps."""
    adjusted = matrix.copy()
    adjusted[:, 2] += matrix[:, :2] @ (0.5, 0.5) - 0.5
    return adjusted


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def inside(keypoints: np.ndarray, width: float, height: float) -> np.ndarray:
    x, y = keypoints[..., 0], keypoints[..., 1]
    return (x >= 0) & (x < width) & (y >= 0) & (y < height)


def transform_boxes(boxes: np.ndarray, matrix: np.ndarray, source_size: tuple[int, int], size: int) -> np.ndarray:
    """Boxes clipped to their source image, then the box around their transformed corners, clipped to the output."""
    clipped = clip_boxes(boxes, *source_size)
    x1, y1, x2, y2 = clipped.T
    corners = np.stack([np.stack(corner, axis=-1) for corner in ((x1, y1), (x2, y1), (x2, y2), (x1, y2))], axis=1)
    moved = transform_points(corners.reshape(-1, 4, 2), matrix)
    return clip_boxes(np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1), size, size)


def clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    return np.clip(boxes, 0, (width, height, width, height)).astype(np.float32).reshape(-1, 4)


def flip_horizontally(sample: Sample, skeleton: Skeleton) -> Sample:
    """The mirror image: keypoints swap left and right by the skeleton's flip map (a left wrist,
    mirrored, is the mirrored person's right wrist)."""
    if sample.keypoints.shape[1] != len(skeleton):
        raise ValueError(f"the sample has {sample.keypoints.shape[1]} keypoints per person, skeleton "
                         f"{skeleton.name!r} {len(skeleton)}")
    width = sample.image.shape[1]
    keypoints = skeleton.flip_keypoints(sample.keypoints, width)
    keypoints[keypoints[..., 2] == 0, :2] = 0
    return replace(sample, image=np.ascontiguousarray(sample.image[:, ::-1]), keypoints=keypoints,
                   boxes=mirror_boxes(sample.boxes, width), crowd_boxes=mirror_boxes(sample.crowd_boxes, width))


def mirror_boxes(boxes: np.ndarray, width: float) -> np.ndarray:
    mirrored = boxes.copy()
    mirrored[:, 0], mirrored[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
    return mirrored


def drop_lost_people(sample: Sample, min_box_size: float) -> Sample:
    """Without the people whose box has (nearly) left the image, and crowd regions wholly gone."""
    sizes = sample.boxes[:, 2:] - sample.boxes[:, :2]
    kept = (sizes >= min_box_size).all(axis=1)
    crowd_sizes = sample.crowd_boxes[:, 2:] - sample.crowd_boxes[:, :2]
    return replace(sample, boxes=sample.boxes[kept], keypoints=sample.keypoints[kept],
                   crowd_boxes=sample.crowd_boxes[(crowd_sizes > 0).all(axis=1)])
