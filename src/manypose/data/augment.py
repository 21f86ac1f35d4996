"""Training augmentation: one random affine, a flip and colour jitter, applied alike to the
image, the people's boxes and keypoints and the crowd regions, ending letterboxed.

The random scale, rotation and translation and the letterbox into the square training input
are one matrix, so the image is resampled once (cv2.warpAffine; shrinking first by area
averaging, so downscaled images do not alias). With every option at rest the result is the
plain letterbox that inference uses: the image centred, long side `size`, padded with 114.

Coordinates are continuous pixel positions (0 is the left edge of the first pixel), as in
`transforms.Letterbox`; the image's warp is adjusted to pixel centres to match.

Decisions:
- a transformed box is the box around its four transformed corners, clipped to the output
  (exact without rotation; loose with it, as no person outline is known);
- a keypoint that leaves the output, or that lay outside its source image, becomes invisible
  (visibility 0, x = y = 0); the visibility of the others is kept as labelled;
- a person whose clipped box is narrower or lower than `min_box_size` pixels is dropped, with
  its keypoints; crowd regions are dropped only when nothing of them is left;
- colour jitter is applied to the source image, before the warp, so the padding keeps the
  value inference pads with.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, Sequence

import cv2
import numpy as np

from ..draw import draw_poses
from ..poses import Poses
from ..skeleton import Skeleton
from .coco import Sample
from .transforms import bgr_triple

CROWD_COLOUR = (0, 0, 255)  # BGR red: regions training ignores
MOSAIC_TILES = 4


@dataclass(frozen=True)
class AugmentOptions:
    """How strongly to augment; the defaults suit fine-tuning a pretrained model.

    size: side of the square training input; scale: range of the random zoom (1 fills the input's
    long side); degrees: rotation drawn from +-degrees; translate: shift drawn from +-translate of
    `size`, in x and y; flip: probability of a horizontal flip; hsv: hue, saturation and value
    jitter (hue as a fraction of the colour circle, the others as factors 1 +- gain); mosaic:
    probability of combining four images; pad_value: the padding's grey level or BGR triple (the
    trainer sets the model's, as inference pads); min_box_size: people whose box ends narrower
    or lower than this (pixels) are dropped.
    """

    size: int = 640
    scale: tuple[float, float] = (0.5, 1.5)
    degrees: float = 0.0
    translate: float = 0.1
    flip: float = 0.5
    hsv: tuple[float, float, float] = (0.015, 0.7, 0.4)
    mosaic: float = 0.0
    pad_value: int | tuple[int, int, int] = 114
    min_box_size: float = 2.0

    def __post_init__(self):
        checks = {
            "size": isinstance(self.size, int) and self.size > 0,
            "scale": len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1],
            "degrees": 0 <= self.degrees <= 180,
            "translate": 0 <= self.translate < 1,
            "flip": 0 <= self.flip <= 1,
            "hsv": len(self.hsv) == 3 and all(gain >= 0 for gain in self.hsv),
            "mosaic": 0 <= self.mosaic <= 1,
            "pad_value": all(0 <= value <= 255 for value in np.atleast_1d(self.pad_value))
            and np.size(self.pad_value) in (1, 3),
            "min_box_size": self.min_box_size >= 0,
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise ValueError(f"augment options out of range: {', '.join(f'{n}={getattr(self, n)!r}' for n in wrong)}")

    @classmethod
    def letterbox_only(cls, size: int = 640) -> "AugmentOptions":
        """No augmentation: the letterbox alone, for validation images."""
        return cls(size=size, scale=(1.0, 1.0), degrees=0.0, translate=0.0, flip=0.0, hsv=(0.0, 0.0, 0.0),
                   mosaic=0.0)


def augment(sample: Sample, skeleton: Skeleton, options: AugmentOptions, rng: np.random.Generator) -> Sample:
    """One randomly augmented, letterboxed copy of a sample; the same generator state gives the same result."""
    image = jitter_hsv(sample.image, options.hsv, rng)
    fit = options.size / max(image.shape[:2])
    return warp_randomly(replace(sample, image=image), skeleton, options, rng, fit)


def augment_mosaic(samples: Sequence[Sample], skeleton: Skeleton, options: AugmentOptions,
                   rng: np.random.Generator) -> Sample:
    """Four samples as a mosaic, then augmented like one: the output shows the mosaic's middle."""
    tiles = [replace(sample, image=jitter_hsv(sample.image, options.hsv, rng)) for sample in samples]
    combined = mosaic(tiles, options.size, options.pad_value, rng)
    return warp_randomly(combined, skeleton, options, rng, fit=1.0)


def warp_randomly(sample: Sample, skeleton: Skeleton, options: AugmentOptions, rng: np.random.Generator,
                  fit: float) -> Sample:
    """Scale (`fit` times the random zoom), rotate and shift into the square input, maybe flip."""
    height, width = sample.image.shape[:2]
    matrix = random_affine(width, height, fit, options, rng)
    flipped = rng.random() < options.flip
    warped = warp(sample, matrix, options.size, options.pad_value)
    if flipped:
        warped = flip_horizontally(warped, skeleton)
    return drop_lost_people(warped, options.min_box_size)


def random_affine(width: int, height: int, fit: float, options: AugmentOptions,
                  rng: np.random.Generator) -> np.ndarray:
    """2x3 matrix taking the source's centre to the output's (plus a random shift), scaled
    by `fit` times a random zoom and rotated about that centre."""
    zoom = rng.uniform(*options.scale)
    angle = rng.uniform(-options.degrees, options.degrees)
    shift = rng.uniform(-options.translate, options.translate, 2) * options.size
    matrix = cv2.getRotationMatrix2D((0.0, 0.0), angle, fit * zoom)
    output_centre = letterbox_centre(width * fit * zoom, height * fit * zoom, options.size) + shift
    matrix[:, 2] = output_centre - matrix[:, :2] @ (width / 2, height / 2)
    return matrix


def letterbox_centre(width: float, height: float, size: int) -> np.ndarray:
    """Where the centre of an image scaled to `width` x `height` lies in a square letterbox of
    `size`: placed on whole pixels as inference's letterbox places it, so an unaugmented sample
    is the inference input, not a half-pixel shifted, resampled copy."""
    scaled = np.round((width, height))
    left_top = np.round((size - scaled) / 2 - 0.1)  # as data.transforms.letterbox rounds
    return left_top + np.array((width, height)) / 2


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


def jitter_hsv(image: np.ndarray, gains: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Hue shifted, saturation and value scaled, by random amounts within the gains."""
    hue_shift, saturation_gain, value_gain = rng.uniform(-1, 1, 3) * gains  # drawn always: a steady random stream
    if not any(gains):
        return image
    hue, saturation, value = cv2.split(cv2.cvtColor(image, cv2.COLOR_BGR2HSV))
    levels = np.arange(256, dtype=np.float32)
    hue_table = ((levels + hue_shift * 180) % 180).astype(np.uint8)  # OpenCV's 8-bit hue runs 0..179
    saturation_table = np.clip(levels * (1 + saturation_gain), 0, 255).astype(np.uint8)
    value_table = np.clip(levels * (1 + value_gain), 0, 255).astype(np.uint8)
    jittered = cv2.merge((cv2.LUT(hue, hue_table), cv2.LUT(saturation, saturation_table),
                          cv2.LUT(value, value_table)))
    return cv2.cvtColor(jittered, cv2.COLOR_HSV2BGR)


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


class SampleSource(Protocol):
    """What AugmentedDataset reads from: a KeypointDataset, or anything alike."""

    skeleton: Skeleton

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


class AugmentedDataset:
    """A dataset's samples augmented, reproducibly: item i of epoch e is the same whatever
    order (or worker process) asks for it, being drawn from a generator seeded by (seed, e, i).
    With `repeats`, each sample appears that many times per epoch, each time augmented anew."""

    def __init__(self, dataset: SampleSource, options: AugmentOptions = AugmentOptions(), seed: int = 0,
                 repeats: int = 1):
        self.dataset = dataset
        self.options = options
        self.seed = seed
        self.repeats = repeats
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset) * self.repeats

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        skeleton = self.dataset.skeleton
        sample = self.dataset[index % len(self.dataset)]
        if rng.random() < self.options.mosaic:
            partners = rng.integers(len(self.dataset), size=MOSAIC_TILES - 1)
            samples = [sample] + [self.dataset[int(i)] for i in partners]
            return augment_mosaic(samples, skeleton, self.options, rng)
        return augment(sample, skeleton, self.options, rng)


def draw_sample(sample: Sample, skeleton: Skeleton) -> np.ndarray:
    """A copy of the sample's image with its people (boxes, labelled keypoints, hidden ones
    too) and crowd regions (red) drawn, to check what training sees."""
    height, width = sample.image.shape[:2]
    poses = Poses(keypoints=sample.keypoints, scores=np.ones(len(sample.boxes), np.float32), boxes=sample.boxes,
                  skeleton=skeleton, image_size=(width, height))
    drawn = draw_poses(sample.image.copy(), poses, keypoint_threshold=1)  # visibility 1 and 2 both labelled
    thickness = max(1, round(max(height, width) / 400))
    for x1, y1, x2, y2 in np.round(sample.crowd_boxes).astype(int):
        cv2.rectangle(drawn, (x1, y1), (x2, y2), CROWD_COLOUR, thickness)
    return drawn
