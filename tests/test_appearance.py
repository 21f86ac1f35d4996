"""The appearance cue: the same clothes look alike, other colours do not, and a person too small
or outside the picture has no look at all."""
import numpy as np

from manypose.appearance import DESCRIPTOR_SIZE, appearance_descriptors, appearance_similarity
from manypose.skeleton import COCO17

BOX = np.array([40, 20, 100, 200], np.float32)


def dressed(shirt, trousers, size=(240, 320), box=BOX) -> np.ndarray:
    """A grey picture with a person-shaped box: shirt colour above, trousers below (BGR)."""
    image = np.full((*size, 3), 128, np.uint8)
    x1, y1, x2, y2 = box.astype(int)
    middle = y1 + (y2 - y1) * 55 // 100
    image[y1:middle, x1:x2] = shirt
    image[middle:y2, x1:x2] = trousers
    return image


def unseen_keypoints(count=1):
    return np.zeros((count, len(COCO17), 3), np.float32)


def looks(image, boxes=BOX[None]):
    return appearance_descriptors(image, unseen_keypoints(len(boxes)), boxes, 0.5)


def test_the_same_clothes_look_alike_and_others_do_not():
    red_blue = looks(dressed((0, 0, 200), (200, 0, 0)))
    again = looks(dressed((0, 0, 190), (210, 10, 0)))  # another frame, a little other light
    green_blue = looks(dressed((0, 200, 0), (200, 0, 0)))
    assert red_blue.shape == (1, DESCRIPTOR_SIZE)
    assert appearance_similarity(red_blue, again)[0, 0] > 0.9
    assert 0.3 < appearance_similarity(red_blue, green_blue)[0, 0] < 0.7  # the trousers alone agree
    assert appearance_similarity(red_blue, looks(dressed((0, 200, 0), (0, 200, 200))))[0, 0] < 0.05


def test_black_clothes_look_alike_whatever_their_noisy_hue():
    dark = looks(dressed((10, 20, 5), (5, 5, 25)))
    other_dark = looks(dressed((25, 5, 10), (20, 10, 5)))
    assert appearance_similarity(dark, other_dark)[0, 0] > 0.95


def test_keypoints_place_the_regions_where_they_see_the_body():
    image = dressed((0, 0, 200), (200, 0, 0))
    points = unseen_keypoints()
    # shoulders and hips on the shirt's rows, knees and ankles on the trousers'
    for index, (x, y) in {5: (50, 30), 6: (90, 30), 11: (55, 100), 12: (85, 100), 13: (55, 150), 14: (85, 150),
                          15: (55, 195), 16: (85, 195)}.items():
        points[0, index] = (x, y, 0.9)
    by_keypoints = appearance_descriptors(image, points, BOX[None], 0.5)
    assert appearance_similarity(by_keypoints, looks(image))[0, 0] > 0.8


def test_a_person_too_small_or_outside_the_picture_has_no_look():
    boxes = np.array([[10, 10, 12, 12], [500, 500, 600, 700]], np.float32)
    assert not looks(dressed((0, 0, 200), (200, 0, 0)), boxes).any()
    assert appearance_descriptors(np.zeros((8, 8, 3), np.uint8), unseen_keypoints(0), np.zeros((0, 4)), 0.5).shape \
        == (0, DESCRIPTOR_SIZE)
