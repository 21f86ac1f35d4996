"""The random affine's documented ranges (zoom within `scale`, rotation within +-degrees, shift
within +-translate of the input, drawn both ways) and where an unrotated, unshifted image lands:
scaled by `size / long side` times the zoom, centred on whole pixels of padding (an odd one after),
as inference's letterbox places it."""
import math

import numpy as np
import pytest

from manypose.data.augment import AugmentOptions, augment, random_affine
from manypose.data.coco import Sample
from manypose.skeleton import COCO17

SEEDS = range(40)


def test_zoom_rotation_and_shift_stay_within_their_ranges_both_ways():
    size, width, height = 400, 300, 200
    fit = size / width
    options = AugmentOptions(size=size, scale=(0.5, 1.5), degrees=30, translate=0.2)
    zooms, angles, shifts = [], [], []
    for seed in SEEDS:
        matrix = random_affine(width, height, fit, options, np.random.default_rng(seed))
        (a, b, _), (c, d, _) = matrix
        assert math.isclose(a, d, abs_tol=1e-9) and math.isclose(b, -c, abs_tol=1e-9), "a rotation and a zoom alone"
        zooms.append(math.hypot(a, b) / fit)
        angles.append(math.degrees(math.atan2(b, a)))
        # the source's centre goes to the output's (within the half pixel of whole-pixel padding), plus the shift
        shifts.append(matrix @ (width / 2, height / 2, 1) - size / 2)
    zooms, angles, shifts = np.array(zooms), np.array(angles), np.array(shifts)
    assert zooms.min() >= 0.5 and zooms.max() <= 1.5 and zooms.min() < 0.6 and zooms.max() > 1.4
    assert np.abs(angles).max() <= 30 and angles.min() < -20 and angles.max() > 20
    assert np.abs(shifts).max() <= 0.2 * size + 0.5
    for axis in (0, 1):
        assert shifts[:, axis].min() < -0.6 * 0.2 * size and shifts[:, axis].max() > 0.6 * 0.2 * size


def person_across(width: int, height: int) -> Sample:
    """A plain image with one person whose keypoints spread over it (their exact places matter)."""
    keypoints = np.zeros((1, len(COCO17), 3), np.float32)
    keypoints[0, :, 0] = np.linspace(0.13, 0.91, len(COCO17)) * width
    keypoints[0, :, 1] = np.linspace(0.87, 0.09, len(COCO17)) * height
    keypoints[0, :, 2] = 2
    return Sample(image=np.full((height, width, 3), 60, np.uint8), keypoints=keypoints,
                  boxes=np.array([[0.1 * width, 0.05 * height, 0.95 * width, 0.9 * height]], np.float32))


@pytest.mark.parametrize("width,height,size,zoom", [
    (300, 200, 640, 1.0), (200, 300, 640, 1.0), (300, 200, 640, 0.75), (200, 300, 640, 0.75),
    (250, 170, 320, 0.7), (170, 250, 320, 0.7), (250, 170, 320, 1.3), (170, 250, 320, 1.3),
])
def test_an_unrotated_image_is_centred_on_whole_pixels(width, height, size, zoom):
    options = AugmentOptions(size=size, scale=(zoom, zoom), translate=0.0, flip=0.0, hsv=(0, 0, 0))
    sample = person_across(width, height)
    augmented = augment(sample, COCO17, options, np.random.default_rng(0))
    scale = size / max(width, height) * zoom
    # whole pixels before the scaled image, half of what is left over (an odd one goes after);
    # a negative offset when the zoomed image overflows the input
    offset = np.array([(size - round(width * scale)) // 2, (size - round(height * scale)) // 2])
    expected = sample.keypoints[0, :, :2] * scale + offset
    inside = ((expected >= 0) & (expected < size)).all(axis=1)
    assert inside.sum() >= 5
    assert np.allclose(augmented.keypoints[0, inside, :2], expected[inside], atol=1e-3)
    expected_box = np.clip(sample.boxes[0].reshape(2, 2) * scale + offset, 0, size).reshape(4)
    assert np.allclose(augmented.boxes[0], expected_box, atol=1e-3)


def test_a_tiny_image_is_scaled_by_its_long_side():
    """Two pixels wide, one high: into an 8 x 8 input it is scaled 4 times, 8 x 4, two rows of padding above."""
    keypoints = np.zeros((1, len(COCO17), 3), np.float32)
    keypoints[0, 0] = (1.0, 0.5, 2)  # the image's centre
    keypoints[0, 1] = (0.25, 0.75, 2)
    sample = Sample(image=np.full((1, 2, 3), 60, np.uint8), keypoints=keypoints,
                    boxes=np.array([[0, 0, 2, 1]], np.float32))
    augmented = augment(sample, COCO17, AugmentOptions.letterbox_only(8), np.random.default_rng(0))
    assert augmented.image.shape == (8, 8, 3)
    assert np.allclose(augmented.boxes, [[0, 2, 8, 6]])
    assert np.allclose(augmented.keypoints[0, :2], [[4, 4, 2], [1, 5, 2]])
