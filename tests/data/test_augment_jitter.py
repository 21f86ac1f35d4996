"""Colour jitter (AugmentOptions.hsv): hue shifted by up to +-gain of the colour circle (OpenCV's
8-bit hue runs 0..179, so a whole circle is 180 levels), saturation and value scaled by factors
within 1 +- gain, clipped to 0..255; the image keeps its shape and dtype, and a zero gain leaves
its channel as it was. Expectations are built in HSV by hand and turned into BGR by OpenCV."""
import cv2
import numpy as np
import pytest

from manypose.data.augment import AugmentOptions, augment_mosaic, jitter_hsv
from manypose.data.coco import Sample
from manypose.skeleton import COCO17

SEEDS = range(40)


class DrawsAtTheEnd:
    """A generator whose uniform draws all land on one end of the range they are asked in: the
    extremes of the jitter, which random draws approach but never pin down."""

    def __init__(self, end: str):
        self.end = end

    def uniform(self, low, high, size=None):
        return np.full(size, low if self.end == "low" else high, np.float64)


def bgr(hsv_pixels) -> np.ndarray:
    """A one-row BGR image of the given (hue, saturation, value) pixels (OpenCV's 8-bit ranges)."""
    return cv2.cvtColor(np.array([hsv_pixels], np.uint8), cv2.COLOR_HSV2BGR)


def hsv_of(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(int)


def jittered_at_both_ends(image, gains):
    return [jitter_hsv(image, gains, DrawsAtTheEnd(end)) for end in ("low", "high")]


def assert_the_two_ends_are(results, one_end, other_end):
    """The draws at the two ends give the two expected images (which end moves which way is the
    generator's business: both directions are equally likely)."""
    low, high = results
    assert (np.array_equal(low, one_end) and np.array_equal(high, other_end)) or \
        (np.array_equal(low, other_end) and np.array_equal(high, one_end)), f"{low.tolist()}, {high.tolist()}"


# colours whose BGR -> HSV conversion is exact (checked below), so the jitter starts from known HSV
HUES = [(0, 255, 255), (30, 255, 255), (150, 255, 255), (60, 255, 200)]
SATURATIONS = [(0, 200, 255), (0, 240, 255), (0, 0, 255), (0, 255, 255)]
VALUES = [(0, 0, 160), (60, 255, 200), (0, 0, 240), (0, 0, 0)]


@pytest.mark.parametrize("pixels", [HUES, SATURATIONS, VALUES], ids=["hues", "saturations", "values"])
def test_the_test_colours_convert_exactly(pixels):
    assert hsv_of(bgr(pixels))[0].tolist() == [list(p) for p in pixels]


def test_hue_moves_by_up_to_its_gain_of_the_colour_circle_wrapping_around():
    image = bgr(HUES + [(0, 0, 160)])  # and a grey, which has no hue to move
    gain = 0.25  # a quarter of the circle: 45 of OpenCV's 180 hue levels
    forward = bgr([((hue + 45) % 180, s, v) for hue, s, v in HUES] + [(0, 0, 160)])
    back = bgr([((hue - 45) % 180, s, v) for hue, s, v in HUES] + [(0, 0, 160)])
    assert_the_two_ends_are(jittered_at_both_ends(image, (gain, 0, 0)), forward, back)


def test_saturation_is_scaled_by_one_plus_or_minus_its_gain_within_0_255():
    image = bgr(SATURATIONS)
    more = bgr([(0, 250, 255), (0, 255, 255), (0, 0, 255), (0, 255, 255)])  # 200 * 1.25; 240 * 1.25 > 255
    less = bgr([(0, 150, 255), (0, 180, 255), (0, 0, 255), (0, 191, 255)])  # * 0.75 (191.25 to a whole level)
    assert_the_two_ends_are(jittered_at_both_ends(image, (0, 0.25, 0)), more, less)


def test_value_is_scaled_by_one_plus_or_minus_its_gain_within_0_255():
    image = bgr(VALUES)
    more = bgr([(0, 0, 200), (60, 255, 250), (0, 0, 255), (0, 0, 0)])  # * 1.25; black stays black
    less = bgr([(0, 0, 120), (60, 255, 150), (0, 0, 180), (0, 0, 0)])  # * 0.75
    assert_the_two_ends_are(jittered_at_both_ends(image, (0, 0, 0.25)), more, less)


def test_a_factor_below_zero_clips_to_grey_and_black():
    """Gains above 1 are allowed: the factor 1 - gain then goes below zero, and the channel to 0."""
    grey_for_colours = bgr([(0, 0, 255), (0, 0, 200)])
    low, high = jittered_at_both_ends(bgr([(0, 200, 255), (60, 255, 200)]), (0, 2.0, 0))
    assert np.array_equal(low, grey_for_colours) or np.array_equal(high, grey_for_colours)
    black = np.zeros((1, 2, 3), np.uint8)
    low, high = jittered_at_both_ends(bgr([(0, 0, 160), (60, 255, 200)]), (0, 0, 2.0))
    assert np.array_equal(low, black) or np.array_equal(high, black)


def test_jitter_keeps_the_image_shape_and_dtype():
    image = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    for seed in range(3):
        jittered = jitter_hsv(image, (0.015, 0.7, 0.4), np.random.default_rng(seed))
        assert jittered.shape == image.shape and jittered.dtype == np.uint8
        assert not np.array_equal(jittered, image)


def test_zero_gains_leave_their_channels_as_they_were():
    greys = np.repeat(np.arange(0, 256, 15, dtype=np.uint8)[None, :, None], 3, axis=2)
    for seed in SEEDS[:10]:
        rng = np.random.default_rng(seed)
        assert np.array_equal(jitter_hsv(greys, (0.5, 0.7, 0), rng), greys), "greys have no hue or saturation"
        colours = bgr(HUES)
        hue_only = hsv_of(jitter_hsv(colours, (0.5, 0, 0), np.random.default_rng(seed)))
        assert np.array_equal(hue_only[..., 1:], hsv_of(colours)[..., 1:]), "saturation and value kept"


def test_random_hue_saturation_and_value_stay_within_their_gains_both_ways():
    """Over many draws the changes reach both ways, close to the gains but never past them."""
    hues, saturations, values = [], [], []
    green, pink, grey = (60, 255, 255), (0, 100, 255), (0, 0, 100)
    for seed in SEEDS:
        hues.append(hsv_of(jitter_hsv(bgr([green]), (0.25, 0, 0), np.random.default_rng(seed)))[0, 0, 0])
        saturations.append(hsv_of(jitter_hsv(bgr([pink]), (0, 0.7, 0), np.random.default_rng(seed)))[0, 0, 1])
        values.append(hsv_of(jitter_hsv(bgr([grey]), (0, 0, 0.4), np.random.default_rng(seed)))[0, 0, 2])
    shifts = np.array(hues) - 60  # +-45 levels at most (+-1 for the colour conversions)
    assert shifts.min() >= -46 and shifts.max() <= 46 and shifts.min() < -30 and shifts.max() > 30
    factors = np.array(saturations) / 100  # 1 +- 0.7, to whole levels
    assert factors.min() >= 0.3 - 0.01 and factors.max() <= 1.7 + 0.01
    assert factors.min() < 0.5 and factors.max() > 1.5
    factors = np.array(values) / 100  # 1 +- 0.4
    assert factors.min() >= 0.6 - 0.01 and factors.max() <= 1.4 + 0.01
    assert factors.min() < 0.75 and factors.max() > 1.25


def test_a_mosaic_jitters_its_tiles_colours_not_its_geometry():
    def tile(seed):
        image = np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)
        keypoints = np.zeros((1, len(COCO17), 3), np.float32)
        keypoints[0, :, :2] = np.linspace((40, 30), (120, 90), len(COCO17))
        keypoints[0, :, 2] = 2
        return Sample(image=image, boxes=np.array([[30, 20, 130, 100]], np.float32), keypoints=keypoints,
                      image_id=seed)

    tiles = [tile(seed) for seed in range(4)]
    still = AugmentOptions(size=160, scale=(1, 1), translate=0, flip=0, hsv=(0, 0, 0), mosaic=1)
    jittery = AugmentOptions(**{**vars(still), "hsv": (0.5, 0.7, 0.4)})
    for seed in range(2):
        plain = augment_mosaic(tiles, COCO17, still, np.random.default_rng(seed))
        jittered = augment_mosaic(tiles, COCO17, jittery, np.random.default_rng(seed))
        assert np.array_equal(plain.keypoints, jittered.keypoints) and np.array_equal(plain.boxes, jittered.boxes)
        assert not np.array_equal(plain.image, jittered.image)
