"""AugmentOptions: each value outside an option's documented range is refused with a message
naming that option (and no other), the ends of each range are accepted, and letterbox_only turns
every random change off, so validation images are the inference letterbox whatever the seed.
Also AugmentedDataset's defaults: each sample once per epoch, seed 0."""
import re

import numpy as np
import pytest

from manypose.data.augment import AugmentedDataset, AugmentOptions
from manypose.data.coco import Sample
from manypose.data.transforms import letterbox
from manypose.skeleton import COCO17

OPTIONS = ("size", "scale", "degrees", "translate", "flip", "hsv", "mosaic", "pad_value", "min_box_size")

REFUSED = {  # per the class docstring and the types: values outside each option's range
    "size": [0, -1, 640.0],  # a positive whole number of pixels
    "scale": [(0.0, 1.0), (-1.0, 1.0), (1.5, 0.5), (0.5,)],  # a range of positive zooms, low to high
    "degrees": [-1, 180.5],  # +-degrees: 0 to a half turn
    "translate": [-0.1, 1.0, 1.5],  # a fraction of the input, below a whole one
    "flip": [-0.1, 1.5],  # a probability
    "hsv": [(0.1, 0.1), (0.1, -0.1, 0.1)],  # three gains, none negative
    "mosaic": [-0.1, 1.5],  # a probability
    "pad_value": [-1, 256, 300, (1, 2), (0, 0, 0, 0), (0, 256, 0), (-1, 0, 0)],  # a grey level or BGR triple
    "min_box_size": [-0.5],  # pixels
}

ACCEPTED = {  # the ends of each range, and values inside it
    "size": [1, 320],
    "scale": [(0.01, 0.01), (0.5, 1.5)],
    "degrees": [0, 180],
    "translate": [0.0, 0.99],
    "flip": [0.0, 1.0],
    "hsv": [(0.0, 0.0, 0.0), (1.0, 2.0, 3.0)],
    "mosaic": [0.0, 1.0],
    "pad_value": [0, 255, (0, 255, 0), (104, 116, 124)],
    "min_box_size": [0, 0.5, 2.0],
}


@pytest.mark.parametrize("name,value", [(name, value) for name in OPTIONS for value in REFUSED[name]])
def test_a_value_out_of_range_is_refused_naming_its_option(name, value):
    with pytest.raises(ValueError) as refused:
        AugmentOptions(**{name: value})
    message = str(refused.value)
    assert f"{name}={value!r}" in message
    named = {other for other in OPTIONS if re.search(rf"\b{other}=", message)}
    assert named == {name}, f"only the option out of range is named: {message}"


@pytest.mark.parametrize("name,value", [(name, value) for name in OPTIONS for value in ACCEPTED[name]])
def test_the_ends_of_each_range_are_accepted(name, value):
    assert getattr(AugmentOptions(**{name: value}), name) == value


def test_every_wrong_option_is_named_at_once():
    with pytest.raises(ValueError) as refused:
        AugmentOptions(size=0, degrees=200, pad_value=(1, 2), min_box_size=-1)
    message = str(refused.value)
    named = {other for other in OPTIONS if re.search(rf"\b{other}=", message)}
    assert named == {"size", "degrees", "pad_value", "min_box_size"}


def test_letterbox_only_turns_every_random_change_off():
    still = AugmentOptions.letterbox_only(320)
    assert still.size == 320
    assert tuple(still.scale) == (1.0, 1.0), "no zoom"
    assert still.degrees == 0 and still.translate == 0, "no rotation, no shift"
    assert still.flip == 0 and still.mosaic == 0, "never flipped, never a mosaic"
    assert tuple(still.hsv) == (0, 0, 0), "no colour jitter"
    defaults = AugmentOptions()
    assert still.pad_value == defaults.pad_value and still.min_box_size == defaults.min_box_size, "the rest kept"


def test_letterbox_only_is_at_the_training_size_by_default():
    assert AugmentOptions.letterbox_only().size == AugmentOptions().size == 640


def speckled_sample(width: int, height: int, seed: int) -> Sample:
    """A random colourful image (any jitter, flip or shift shows) with one person in it."""
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    keypoints = np.zeros((1, len(COCO17), 3), np.float32)
    keypoints[0, :, 0] = np.linspace(0.2, 0.8, len(COCO17)) * width
    keypoints[0, :, 1] = np.linspace(0.3, 0.7, len(COCO17)) * height
    keypoints[0, :, 2] = 2
    keypoints[0, 1, 2] = 1  # hidden, still labelled
    boxes = np.array([[0.1 * width, 0.2 * height, 0.9 * width, 0.8 * height]], np.float32)
    return Sample(image=image, boxes=boxes, keypoints=keypoints, image_id=seed)


class TwoImages:
    """A landscape and a portrait image, as a KeypointDataset would give them."""

    skeleton = COCO17

    def __init__(self):
        self.samples = [speckled_sample(200, 150, 1), speckled_sample(120, 160, 2)]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


@pytest.mark.parametrize("seed,epoch", [(0, 0), (5, 3)])
def test_validation_images_are_the_inference_letterbox_whatever_the_seed(seed, epoch):
    dataset = TwoImages()
    augmented = AugmentedDataset(dataset, AugmentOptions.letterbox_only(320), seed=seed)
    augmented.set_epoch(epoch)
    for index in range(len(dataset)):
        sample = dataset[index]
        expected_image, geometry = letterbox(sample.image, 320, minimal_padding=False)
        got = augmented[index]
        assert got.image.shape == (320, 320, 3)
        expected_points = geometry.to_input(sample.keypoints[..., :2].copy())
        assert np.allclose(got.keypoints[..., :2], expected_points, atol=1e-3)
        assert np.array_equal(got.keypoints[..., 2], sample.keypoints[..., 2]), "visibility kept"
        expected_box = geometry.to_input(sample.boxes.reshape(-1, 2).copy()).reshape(-1, 4)
        assert np.allclose(got.boxes, expected_box, atol=1e-3)
        # both resample by bilinear weights; the warp's come in 1/32 steps, so a few levels differ a little
        difference = np.abs(got.image.astype(int) - expected_image)
        assert np.median(difference) == 0 and np.mean(difference) < 1


def test_by_default_each_sample_appears_once_per_epoch():
    dataset = TwoImages()
    assert len(AugmentedDataset(dataset, AugmentOptions(size=160))) == len(dataset)


def test_by_default_the_seed_is_0():
    dataset, options = TwoImages(), AugmentOptions(size=160, degrees=10)
    unseeded = AugmentedDataset(dataset, options)[1]
    assert np.array_equal(unseeded.image, AugmentedDataset(dataset, options, seed=0)[1].image)
    assert not np.array_equal(unseeded.image, AugmentedDataset(dataset, options, seed=1)[1].image)
