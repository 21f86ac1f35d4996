import cv2
import numpy as np
import pytest

from manypose.data.transforms import letterbox

from conftest import shared_path


@pytest.mark.parametrize("image_id", [139, 802])
def test_letterbox_matches_the_original_preprocessing(image_id):
    reference = np.load(shared_path(f"reference/yolo11n-pose_raw_{image_id}.npz"))["input"]
    image = cv2.imread(str(shared_path(f"data/coco-mini/val2017/{image_id:012d}.jpg")))
    padded, _ = letterbox(image, 640, 32, 114)
    blob = cv2.dnn.blobFromImage(padded, 1 / 255.0, swapRB=True)
    assert blob.shape == reference.shape
    assert np.abs(blob - reference).max() < 1e-6


@pytest.mark.parametrize("height,width", [(300, 1000), (1000, 300), (1, 1), (641, 639)])
def test_points_map_back_onto_the_original(height, width):
    image = np.zeros((height, width, 3), np.uint8)
    padded, box = letterbox(image, 640, 32, 114)
    assert max(padded.shape[:2]) == 640 and padded.shape[0] % 32 == 0 and padded.shape[1] % 32 == 0
    original = np.array([[0.0, 0.0], [width, height], [width / 3, height / 2]])
    in_input = original * box.scale + [box.pad_left, box.pad_top]
    assert np.allclose(box.to_original(in_input.copy()), original, atol=1e-6)


def test_padding_is_centred_and_grey():
    image = np.zeros((100, 400, 3), np.uint8)
    padded, box = letterbox(image, 640, 32, 114)
    assert padded.shape == (160, 640, 3) and box.scale == 1.6
    assert box.pad_top == 0 and box.pad_left == 0
    padded, box = letterbox(image, 640, 32, 114, minimal_padding=False)
    assert padded.shape == (640, 640, 3) and box.pad_top == 240
    assert (padded[0] == 114).all() and (padded[box.pad_top + 1] == 0).all()
