"""The public API: manypose.load() -> estimator(image) -> Poses."""
import json

import cv2
import numpy as np
import pytest

import manypose
from manypose.data.images import ImageReadError
from manypose.zoo import DEMO_IMAGE

from conftest import shared_path


def reference_people(image_id, min_score=0.25):
    predictions = json.loads(shared_path("reference/yolo11n-pose_val_predictions.json").read_text())
    people = [p for p in predictions if p["image_id"] == image_id and p["score"] >= min_score]
    return sorted(people, key=lambda p: -p["score"])


def test_default_model_finds_the_astronaut(estimator):
    poses = estimator(DEMO_IMAGE)
    assert len(poses) == 1 and poses.scores[0] > 0.8
    assert poses.keypoints.shape == (1, 17, 3) and poses.boxes.shape == (1, 4)
    nose = poses.keypoints[0, manypose.COCO17.index("nose")]
    left_ankle = poses.keypoints[0, manypose.COCO17.index("left_shoulder")]
    assert nose[1] < left_ankle[1], "the nose is above the shoulders"


def test_path_and_array_give_the_same_poses(estimator):
    from_path = estimator(str(DEMO_IMAGE))
    from_array = estimator(cv2.imread(str(DEMO_IMAGE)))
    assert np.array_equal(from_path.keypoints, from_array.keypoints)


@pytest.mark.parametrize("image_id", [139, 350679, 183709])  # landscape, landscape, portrait
def test_poses_on_the_original_image_match_the_reference(estimator, image_id):
    image_path = shared_path(f"data/coco-mini/val2017/{image_id:012d}.jpg")
    ours = estimator(image_path).to_coco(image_id)
    expected = reference_people(image_id, min_score=0.3)  # margin over our 0.25 threshold
    assert len(ours) >= len(expected) > 0
    for theirs in expected:
        match = min(ours, key=lambda p: np.abs(np.subtract(p["bbox"], theirs["bbox"])).sum())
        assert match["score"] == pytest.approx(theirs["score"], abs=0.01)
        assert np.allclose(match["bbox"], theirs["bbox"], atol=1.0)
        xy = np.array(match["keypoints"]).reshape(17, 3)[:, :2]
        assert np.abs(xy - np.array(theirs["keypoints"]).reshape(17, 3)[:, :2]).max() < 1.0


@pytest.mark.parametrize("image_id", [350679, 183709])
def test_coordinates_follow_the_image_scale(estimator, image_id):
    image = cv2.imread(str(shared_path(f"data/coco-mini/val2017/{image_id:012d}.jpg")))
    small = estimator(image)
    large = estimator(cv2.resize(image, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC))
    assert large.image_size == (round(image.shape[1] * 1.5), round(image.shape[0] * 1.5))
    confident = small.keypoints[0, :, 2] > 0.5
    assert confident.sum() >= 5
    error = np.abs(large.keypoints[0, confident, :2] / 1.5 - small.keypoints[0, confident, :2])
    # the network sees a resampled image, so points move by a pixel or two, not by a padding
    assert np.median(error) < 2.5 and error.max() < 8.0


def test_no_people(estimator):
    poses = estimator(np.full((240, 320, 3), 127, np.uint8))
    assert len(poses) == 0 and poses.keypoints.shape == (0, 17, 3)
    assert poses.to_coco(5) == []
    assert poses.draw(np.zeros((240, 320, 3), np.uint8)).shape == (240, 320, 3)


@pytest.mark.parametrize("shape", [(1, 1, 3), (10000, 10000, 3), (480, 640), (480, 640, 4)])
def test_extreme_sizes_and_channel_counts(estimator, shape):
    poses = estimator(np.zeros(shape, np.uint8))
    assert poses.image_size == (shape[1], shape[0])
    assert (poses.keypoints[..., 0] <= shape[1]).all() and (poses.keypoints[..., 1] <= shape[0]).all()


def test_to_coco_and_draw(estimator):
    image = cv2.imread(str(DEMO_IMAGE))
    poses = estimator(image)
    entry = poses.to_coco(image_id=42)[0]
    assert entry["image_id"] == 42 and entry["category_id"] == 1 and len(entry["keypoints"]) == 51
    x, y, w, h = entry["bbox"]
    assert np.allclose([x, y, x + w, y + h], poses.boxes[0], atol=0.01)
    drawn = poses.draw(image)
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)
    assert np.array_equal(image, cv2.imread(str(DEMO_IMAGE))), "draw leaves the input untouched"


def test_bad_path_raises_a_clear_error(estimator, tmp_path):
    with pytest.raises(ImageReadError, match="nothing.jpg: no such file"):
        estimator(tmp_path / "nothing.jpg")


def test_unknown_model_name_lists_what_is_available():
    with pytest.raises(LookupError, match="yolo11n-pose"):
        manypose.load("no-such-model")
    with pytest.raises(LookupError, match="yolo11x-pose is not in the cache and MANYPOSE_OFFLINE is set"):
        manypose.load("yolo11x-pose")


def test_models_load_by_path_and_from_the_cache(tmp_path, yolo11n_checkpoint, monkeypatch):
    from manypose.zoo import cache_dir

    from_checkpoint = manypose.load(yolo11n_checkpoint)  # an Ultralytics .pt converts on the fly
    assert len(from_checkpoint(DEMO_IMAGE)) == 1
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / "yolo11n-pose-copy.pt").write_bytes(yolo11n_checkpoint.read_bytes())
    assert manypose.load("yolo11n-pose-copy").name == "yolo11n-pose-copy"
