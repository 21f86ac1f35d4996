"""Mosaic augmentation: four samples combined into one image, their annotations moved with them."""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import cv2
import numpy as np

from .coco import Sample
from .transforms import bgr_triple

MOSAIC_TILES = 4


def mosaic(samples: Sequence[Sample], size: int, pad_value: int | tuple, rng: np.random.Generator) -> Sample:
    """Four samples, each resized to long side `size`, around a random point of a 2*size square
    canvas: the first to its upper left, then upper right, lower left, lower right."""
    if len(samples) != MOSAIC_TILES:
        raise ValueError(f"a mosaic takes {MOSAIC_TILES} samples, not {len(samples)}")
    canvas = np.full((2 * size, 2 * size, 3), bgr_triple(pad_value), np.uint8)
    centre_x, centre_y = (int(v) for v in rng.uniform(size / 2, 3 * size / 2, 2))
    placed = []
    for (left_of_centre, above_centre), sample in zip(((True, True), (False, True), (True, False), (False, False)),
                                                      samples):
        tile, factors = resized_to_long_side(sample.image, size)
        tile_height, tile_width = tile.shape[:2]
        x0 = centre_x - tile_width if left_of_centre else centre_x
        y0 = centre_y - tile_height if above_centre else centre_y
        paste(canvas, tile, x0, y0)
        placed.append(moved(sample, factors, (x0, y0)))
    return Sample(image=canvas,
                  boxes=np.concatenate([s.boxes for s in placed]),
                  keypoints=np.concatenate([s.keypoints for s in placed]),
                  crowd_boxes=np.concatenate([s.crowd_boxes for s in placed]),
                  image_id=tuple(s.image_id for s in samples))


def resized_to_long_side(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float]]:
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (new_width, new_height), interpolation=interpolation), \
        (new_width / width, new_height / height)


def paste(canvas: np.ndarray, tile: np.ndarray, x0: int, y0: int) -> None:
    """The tile onto the canvas with its upper left corner at (x0, y0), cut at the canvas's edges."""
    height, width = canvas.shape[:2]
    left, top = max(x0, 0), max(y0, 0)
    right, bottom = min(x0 + tile.shape[1], width), min(y0 + tile.shape[0], height)
    canvas[top:bottom, left:right] = tile[top - y0:bottom - y0, left - x0:right - x0]


def moved(sample: Sample, factors: tuple[float, float], offset: tuple[int, int]) -> Sample:
    """The sample's annotations scaled by (x, y) factors and shifted by an offset (the image
    is left as it is). Unlabelled keypoints stay at 0; the warp's bounds check drops what the
    canvas cut off."""
    scale = np.array(factors + factors, np.float32)
    shift = np.array(offset + offset, np.float32)
    keypoints = sample.keypoints.copy()
    labelled = keypoints[..., 2] > 0
    keypoints[..., :2] = np.where(labelled[..., None], keypoints[..., :2] * scale[:2] + shift[:2], 0)
    return replace(sample, keypoints=keypoints, boxes=sample.boxes * scale + shift,
                   crowd_boxes=sample.crowd_boxes * scale + shift)
