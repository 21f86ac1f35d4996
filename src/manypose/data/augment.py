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
from .mosaic import MOSAIC_TILES, mosaic
from .transforms import centred_offset
from .warp import drop_lost_people, flip_horizontally, warp

CROWD_COLOUR = (0, 0, 255)  # BGR red: regions training ignores


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
    left_top = np.array((centred_offset(round(width), size), centred_offset(round(height), size)))
    return left_top + np.array((width, height)) / 2


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
