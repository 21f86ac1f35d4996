"""KAPAO's keypoint objects come with its poses, on the image, and the painter draws their boxes
when asked."""
import numpy as np
import pytest

from kapao_reference import CHECKPOINT, image
from manypose.draw import KEYPOINT_OBJECT_COLOUR

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def poses():
    import manypose

    return manypose.load(CHECKPOINT, backend="torch", input_size=128, score_threshold=0.5)(image())


def test_kapao_poses_carry_their_keypoint_objects_on_the_image(poses):
    objects = poses.keypoint_objects
    assert objects is not None and len(objects) > 0
    width, height = poses.image_size
    centres = (objects.boxes[:, :2] + objects.boxes[:, 2:]) / 2
    np.testing.assert_allclose(objects.points, centres, atol=1e-4)
    assert (np.abs(objects.points[:, 1] - height / 2) < height).all()  # moved off the letterbox canvas
    enlarged = poses.enlarged(2.0, (2 * width, 2 * height))
    np.testing.assert_allclose(enlarged.keypoint_objects.boxes, objects.boxes * 2, rtol=1e-6)


def test_kapao_keypoint_object_boxes_are_drawn_only_when_asked(poses):
    blank = np.zeros_like(image())
    colour = np.all(blank == 0, axis=2)
    plain = poses.draw(blank, boxes=False)
    drawn = poses.draw(blank, boxes=False, keypoint_objects=True)
    assert np.all(drawn == KEYPOINT_OBJECT_COLOUR, axis=2).sum() > 50  # drawn on top
    assert not np.all(plain == KEYPOINT_OBJECT_COLOUR, axis=2).any()
    assert colour.all()  # the image itself is left as it was
