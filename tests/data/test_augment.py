"""Augmentation keeps keypoints on their image content: synthetic images carry a coloured dot
at every keypoint (one colour per keypoint index), and after each transform the pixel under
each visible keypoint must still be that keypoint's colour."""
import itertools

import numpy as np
import pytest

from manypose.data.augment import (AugmentedDataset, AugmentOptions, augment, augment_mosaic, draw_sample,
                                   jitter_hsv)
from manypose.data.coco import KeypointDataset, Sample
from manypose.data.transforms import letterbox
from manypose.data.warp import flip_horizontally
from manypose.skeleton import COCO17

from conftest import modules_imported_by, shared_path

# saturated colours far apart (one channel differs by >= 127), none near black, grey or the 114 padding
PALETTE = np.array([c for c in itertools.product((0, 128, 255), repeat=3)
                    if len(set(c)) > 1][:len(COCO17)], np.uint8)
STILL = AugmentOptions.letterbox_only()


def painted_sample(width: int = 480, height: int = 360, people: int = 2) -> Sample:
    """A black image with `people` people side by side, each keypoint a dot of its index's
    colour on a grid; keypoint 3 is unlabelled (no dot), keypoint 5 labelled as hidden."""
    image = np.zeros((height, width, 3), np.uint8)
    radius = max(3, width // 80)
    keypoints = np.zeros((people, len(COCO17), 3), np.float32)
    strip = width / people
    for person in range(people):
        for index in range(len(COCO17)):
            column, row = index % 4, index // 4
            x = person * strip + strip * (column + 1) / 5
            y = height * (row + 1) / 6
            keypoints[person, index] = (x, y, 2)
            if index != 3:  # keypoint 3 is unlabelled: nothing there to see
                paint_disc(image, x, y, radius, PALETTE[index])
    keypoints[:, 3] = 0
    keypoints[:, 5, 2] = 1
    labelled = keypoints[..., 2] > 0
    boxes = np.array([[p[labelled[i], 0].min() - radius, p[labelled[i], 1].min() - radius,
                       p[labelled[i], 0].max() + radius, p[labelled[i], 1].max() + radius]
                      for i, p in enumerate(keypoints)], np.float32)
    keypoints[~labelled, :2] = 0
    return Sample(image=image, boxes=boxes, keypoints=keypoints, image_id=1)


def paint_disc(image, x, y, radius, colour):
    """Pixels whose centre (i + 0.5) lies within `radius` of the point (x, y)."""
    top, left = int(y - radius), int(x - radius)
    rows, columns = np.mgrid[top:int(y + radius) + 1, left:int(x + radius) + 1]
    inside = (columns + 0.5 - x) ** 2 + (rows + 0.5 - y) ** 2 <= radius ** 2
    image[rows[inside], columns[inside]] = colour


def assert_keypoints_on_their_dots(sample: Sample, flipped: bool) -> int:
    """Each visible keypoint sits on the dot of its own colour (of its mirror's index when
    flipped: a mirrored left wrist is the right wrist); returns how many were checked."""
    visible = np.argwhere(sample.keypoints[..., 2] > 0)
    for person, index in visible:
        x, y = sample.keypoints[person, index, :2]
        pixel = sample.image[int(y), int(x)].astype(int)
        nearest = np.abs(PALETTE.astype(int) - pixel).sum(axis=1).argmin()
        expected = COCO17.flip[index] if flipped else index
        assert nearest == expected, f"person {person} keypoint {index} at ({x:.1f}, {y:.1f}) sees {pixel}"
    return len(visible)


def assert_boxes_hold_their_keypoints(sample: Sample):
    assert len(sample.boxes) == len(sample.keypoints)
    for box, points in zip(sample.boxes, sample.keypoints):
        visible = points[points[:, 2] > 0, :2]
        assert (visible >= box[:2] - 1e-3).all() and (visible <= box[2:] + 1e-3).all()


MOVES = {
    "scale": dict(scale=(0.5, 1.5)),
    "rotation": dict(degrees=45),
    "translation": dict(translate=0.2),
    "flip": dict(flip=1.0),
    "all at once": dict(scale=(0.5, 1.5), degrees=30, translate=0.2, flip=1.0),
}


@pytest.mark.parametrize("move", MOVES)
@pytest.mark.parametrize("size", [(480, 360), (1200, 900)], ids=["enlarged", "shrunk"])
def test_keypoints_stay_on_their_content(move, size):
    options = AugmentOptions(**{**vars(STILL), **MOVES[move]})
    sample = painted_sample(*size)
    checked = 0
    for seed in range(4):
        augmented = augment(sample, COCO17, options, np.random.default_rng(seed))
        assert augmented.image.shape == (640, 640, 3) and augmented.image.dtype == np.uint8
        assert augmented.boxes.dtype == augmented.keypoints.dtype == np.float32
        checked += assert_keypoints_on_their_dots(augmented, flipped=options.flip == 1.0)
        assert_boxes_hold_their_keypoints(augmented)
    assert checked > 4 * 20, "most keypoints stay in view"


def test_mosaic_keeps_keypoints_and_crowds_on_their_content():
    samples = [painted_sample(480, 360), painted_sample(300, 400, people=1), painted_sample(900, 500),
               painted_sample(200, 200, people=1)]
    for sample in samples:
        sample.crowd_boxes = sample.boxes[:1].copy()  # a crowd region over the first person, to follow
    options = AugmentOptions(**{**vars(STILL), **MOVES["all at once"], "mosaic": 1.0})
    for seed in range(4):
        augmented = augment_mosaic(samples, COCO17, options, np.random.default_rng(seed))
        assert augmented.image.shape == (640, 640, 3) and augmented.image_id == (1, 1, 1, 1)
        assert assert_keypoints_on_their_dots(augmented, flipped=True) > 10
        assert_boxes_hold_their_keypoints(augmented)
        assert len(augmented.crowd_boxes) > 0
        for crowd in augmented.crowd_boxes:
            assert np.abs(augmented.boxes - crowd).max(axis=1).min() < 1e-3, "the crowd region moved with its person"


@pytest.mark.parametrize("width,height", [(480, 360), (320, 240)])
def test_letterbox_alone_is_the_inference_letterbox(width, height):
    sample = painted_sample(width, height)
    augmented = augment(sample, COCO17, STILL, np.random.default_rng(0))
    expected_image, geometry = letterbox(sample.image, 640, minimal_padding=False)
    labelled = sample.keypoints[..., 2] > 0
    expected_points = geometry.to_input(sample.keypoints[..., :2].copy())
    assert np.abs(augmented.keypoints[..., :2][labelled] - expected_points[labelled]).max() <= 0.5
    assert (augmented.keypoints[..., 2] == sample.keypoints[..., 2]).all()
    content = slice(geometry.pad_top + 1, geometry.pad_top + round(height * geometry.scale) - 1)
    difference = np.abs(augmented.image[content].astype(int) - expected_image[content])
    # warpAffine's interpolation weights come in 1/32 steps; half a pixel off would differ by far more
    assert difference.max() <= 32 and difference.mean() < 0.2
    assert (augmented.image[:geometry.pad_top - 1] == 114).all(), "padding (the row at its edge is blended)"
    assert_keypoints_on_their_dots(augmented, flipped=False)


def test_a_bgr_triple_pads_each_channel():
    options = AugmentOptions(**{**vars(STILL), "pad_value": (104, 116, 124)})
    augmented = augment(painted_sample(480, 360), COCO17, options, np.random.default_rng(0))
    assert (augmented.image[:40] == (104, 116, 124)).all() and (augmented.image[-40:] == (104, 116, 124)).all()
    shrunk = AugmentOptions(**{**vars(options), "mosaic": 1.0, "scale": (0.3, 0.3)})  # the canvas and its border show
    mosaic = augment_mosaic([painted_sample(480, 360)] * 4, COCO17, shrunk, np.random.default_rng(0))
    assert (mosaic.image[0, 0] == (104, 116, 124)).all()


def test_flipping_twice_is_the_identity():
    sample = painted_sample()
    twice = flip_horizontally(flip_horizontally(sample, COCO17), COCO17)
    assert (twice.image == sample.image).all()
    assert np.array_equal(twice.keypoints, sample.keypoints) and np.allclose(twice.boxes, sample.boxes)


def test_a_mirrored_left_wrist_is_the_right_wrist():
    sample = painted_sample(people=1)
    left, right = COCO17.index("left_wrist"), COCO17.index("right_wrist")
    x, y, visibility = sample.keypoints[0, left]
    flipped = flip_horizontally(sample, COCO17)
    assert flipped.keypoints[0, right].tolist() == [480 - x, y, visibility]
    assert (flipped.image[int(y), int(480 - x)] == PALETTE[left]).all(), "the left wrist's dot, mirrored"
    assert COCO17.keypoints[3] == "left_ear" and sample.keypoints[0, 3, 2] == 0
    assert flipped.keypoints[0, COCO17.index("right_ear")].tolist() == [0, 0, 0], "unlabelled stays unlabelled, at 0"
    assert np.allclose(flipped.boxes[0, [0, 2]], 480 - sample.boxes[0, [2, 0]])


def test_keypoints_pushed_outside_become_invisible():
    sample = painted_sample(480, 360, people=1)
    options = AugmentOptions(**{**vars(STILL), "scale": (3.0, 3.0)})
    augmented = augment(sample, COCO17, options, np.random.default_rng(0))
    zoom = 3 * 640 / 480
    expected = (sample.keypoints[0, :, :2] - (240, 180)) * zoom + 320
    inside = ((expected >= 0) & (expected < 640)).all(axis=1) & (sample.keypoints[0, :, 2] > 0)
    assert 0 < inside.sum() < inside.size
    assert np.allclose(augmented.keypoints[0, inside, :2], expected[inside], atol=1e-3)
    assert (augmented.keypoints[0, inside, 2] == sample.keypoints[0, inside, 2]).all(), "hidden stays hidden"
    assert (augmented.keypoints[0, ~inside] == 0).all()


def test_keypoints_and_boxes_outside_their_image_stay_out_of_the_padding():
    sample = painted_sample(480, 360, people=1)
    sample.keypoints[0, 0] = (50, -6, 2)  # labelled above the image's edge, where the letterbox pads
    sample.boxes[0, 1] = -20
    augmented = augment(sample, COCO17, STILL, np.random.default_rng(0))
    assert augmented.keypoints[0, 0].tolist() == [0, 0, 0]
    assert augmented.boxes[0, 1] == 80, "the box starts where the image does"


def test_people_pushed_outside_are_dropped():
    sample = painted_sample(480, 360, people=2)
    options = AugmentOptions(**{**vars(STILL), "scale": (3.0, 3.0), "translate": 0.0})
    shifted = Sample(image=sample.image, boxes=sample.boxes, keypoints=sample.keypoints,
                     crowd_boxes=np.array([[0, 0, 10, 10], [200, 150, 280, 210]], np.float32))
    augmented = augment(shifted, COCO17, options, np.random.default_rng(0))
    assert len(augmented.boxes) == len(augmented.keypoints) == 2, "both still reach the middle"
    assert augmented.crowd_boxes.shape == (1, 4), "the corner crowd left the picture"
    corner_person = Sample(image=sample.image, boxes=np.array([[0, 0, 40, 30]], np.float32),
                           keypoints=sample.keypoints[:1])
    assert len(augment(corner_person, COCO17, options, np.random.default_rng(0)).boxes) == 0


def test_the_same_seed_gives_the_same_sample():
    sample = painted_sample()
    options = AugmentOptions(degrees=10)
    first, again = (augment(sample, COCO17, options, np.random.default_rng(7)) for _ in range(2))
    other = augment(sample, COCO17, options, np.random.default_rng(8))
    assert (first.image == again.image).all() and np.array_equal(first.keypoints, again.keypoints)
    assert not np.array_equal(first.image, other.image)


def test_colour_jitter_changes_colours_not_padding_or_geometry():
    sample = painted_sample()
    options = AugmentOptions(**{**vars(STILL), "hsv": (0.5, 0.7, 0.4)})
    jittered = augment(sample, COCO17, options, np.random.default_rng(3))
    plain = augment(sample, COCO17, STILL, np.random.default_rng(3))
    assert not np.array_equal(jittered.image, plain.image)
    assert (jittered.image[:79] == 114).all(), "padding keeps the value inference pads with"
    assert np.array_equal(jittered.keypoints, plain.keypoints)
    assert jitter_hsv(sample.image, (0, 0, 0), np.random.default_rng(0)) is sample.image
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 2] = 255
    assert not np.array_equal(jitter_hsv(red, (0.5, 0, 0), np.random.default_rng(0)), red), "hue alone"


def test_augmented_dataset_is_reproducible_in_any_order():
    annotations = shared_path("data/samples/crowdpose/test_crowdpose.json")
    dataset = KeypointDataset(annotations, annotations.parent)
    augmented = AugmentedDataset(dataset, AugmentOptions(size=320, degrees=10, mosaic=0.5), seed=1)
    second_first = augmented[1]
    first, second = augmented[0], augmented[1]
    assert np.array_equal(second.image, second_first.image)
    assert first.image.shape == (320, 320, 3) and first.keypoints.shape[1:] == (14, 3)
    augmented.set_epoch(1)
    assert not np.array_equal(augmented[0].image, first.image), "a new epoch, new augmentation"


class SameImageTwice:
    skeleton = COCO17

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return painted_sample()


def test_augmented_dataset_draws_afresh_for_each_index():
    augmented = AugmentedDataset(SameImageTwice(), AugmentOptions(size=320))
    assert not np.array_equal(augmented[0].image, augmented[1].image)


def test_repeats_show_each_sample_again_augmented_anew():
    augmented = AugmentedDataset(SameImageTwice(), AugmentOptions(size=320), repeats=3)
    assert len(augmented) == 6
    assert not np.array_equal(augmented[0].image, augmented[2].image)  # sample 0, first and second pass


def test_drawing_a_sample():
    sample = painted_sample()
    sample.crowd_boxes = np.array([[10, 10, 100, 100]], np.float32)
    before = sample.image.copy()
    drawn = draw_sample(sample, COCO17)
    assert drawn.shape == sample.image.shape and (sample.image == before).all()
    assert (drawn[10, 50] == (0, 0, 255)).all(), "crowd regions in red"
    assert not np.array_equal(drawn, before)


def test_options_are_checked():
    with pytest.raises(ValueError, match="scale=\\(1.5, 0.5\\), flip=2"):
        AugmentOptions(scale=(1.5, 0.5), flip=2)


def test_augmentation_needs_no_torch():
    imported = modules_imported_by("import manypose.data.augment, manypose.data.coco")
    assert not imported & {"torch", "torchvision", "albumentations"}
