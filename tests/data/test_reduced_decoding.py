"""Large JPEGs decoded only as large as the network needs: the reduction chosen from the input,
the pixels and orientation of the reduced read, and poses on the full picture's pixel grid."""
import json

import cv2
import numpy as np
import pytest

from manypose.cli import main
from manypose.data.images import ImageReadError, read_image, read_reduced_image
from manypose.data.transforms import InputSpec
from manypose.zoo import DEMO_IMAGE

from photos import encoded, photo_file


@pytest.mark.parametrize("width, height, enlargement, reduction", [
    (640, 480, 1.0, 1), (1279, 959, 1.0, 1), (1280, 960, 1.0, 2), (4032, 3024, 1.0, 4), (3024, 4032, 1.0, 4),
    (8064, 6048, 1.0, 8), (20000, 100, 1.0, 8), (4032, 3024, 1.5, 4), (4032, 3024, 2.0, 2), (4032, 3024, 8.0, 1)])
def test_the_reduction_leaves_the_letterbox_every_pixel_it_takes(width, height, enlargement, reduction):
    spec = InputSpec(size=640)
    assert spec.decode_reduction(width, height, enlargement) == reduction
    kept = min(640 / width, 640 / height) * enlargement
    assert (reduction == 1 or reduction * kept <= 1) and (reduction == 8 or 2 * reduction * kept > 1)


def test_inputs_resized_as_the_original_did_read_whole_images():
    """tf_legacy reproduces TensorFlow's resize of the whole image, pixel for pixel (MoveNet's and
    PoseNet's parity with their originals): a reduced decoding would change what it resizes."""
    assert InputSpec(size=256, interpolation="tf_legacy").decode_reduction(4032, 3024) == 1


def test_a_stretched_input_keeps_its_larger_side_ratio():
    spec = InputSpec(size=(256, 256), resize="stretch")
    assert spec.decode_reduction(4096, 1024) == 4  # the height needs 256 of 1024 rows
    assert spec.decode_reduction(4096, 4096) == 8


@pytest.fixture(scope="module")
def large_portrait():
    """The demo astronaut cut to a portrait, enlarged eight times: 3200 x 4096."""
    portrait = cv2.imread(str(DEMO_IMAGE))[:, :400]
    return cv2.resize(portrait, (3200, 4096), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("orientation", [1, 6, 3])
def test_a_reduced_read_is_the_displayed_picture_at_a_fraction_of_its_size(tmp_path, large_portrait, orientation):
    path = photo_file(tmp_path, large_portrait, orientation, quality=90)
    decoded = read_reduced_image(path, lambda width, height: 4)
    assert decoded.reduction == 4 and decoded.size == (3200, 4096)
    assert decoded.pixels.shape == (1024, 800, 3)
    shrunk = cv2.resize(read_image(path), (800, 1024), interpolation=cv2.INTER_AREA)
    assert np.abs(decoded.pixels.astype(int) - shrunk).mean() < 3.0


def test_sizes_that_do_not_divide_round_up_as_libjpeg_does(tmp_path):
    image = (np.random.default_rng(0).random((1001, 1503, 3)) * 255).astype(np.uint8)
    (tmp_path / "odd.jpg").write_bytes(encoded(".jpg", image))
    decoded = read_reduced_image(tmp_path / "odd.jpg", lambda width, height: 8)
    assert decoded.pixels.shape == (126, 188, 3) and decoded.size == (1503, 1001)


def test_other_formats_and_small_images_are_read_whole(tmp_path, large_portrait):
    (tmp_path / "large.png").write_bytes(encoded(".png", large_portrait[:1024, :1024]))
    decoded = read_reduced_image(tmp_path / "large.png", lambda width, height: 8)
    assert decoded.reduction == 1 and decoded.pixels.shape == (1024, 1024, 3)
    asked = []
    (tmp_path / "small.jpg").write_bytes(encoded(".jpg", large_portrait[:40, :30]))
    decoded = read_reduced_image(tmp_path / "small.jpg", lambda width, height: asked.append((width, height)) or 1)
    assert asked == [(30, 40)] and decoded.reduction == 1


def test_a_truncated_large_jpeg_is_refused_as_before(tmp_path, large_portrait):
    data = encoded(".jpg", large_portrait)
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated JPEG"):
        read_reduced_image(tmp_path / "cut.jpg", lambda width, height: 4)


def test_poses_of_a_reduced_read_are_on_the_full_picture(tmp_path, estimator, large_portrait):
    on_full = estimator(large_portrait)
    path = photo_file(tmp_path, large_portrait, 6, quality=90)
    result = next(estimator.stream([path]))
    assert result.image is None, "no full picture was decoded"
    poses = result.poses
    assert poses.image_size == (3200, 4096) and len(poses) == len(on_full) == 1
    # the person is 4096 pixels tall: the two reads differ by the resize's filter, not the grid
    assert np.median(np.abs(poses.keypoints[0, :, :2] - on_full.keypoints[0, :, :2])) < 6.0
    assert np.abs(poses.boxes - on_full.boxes).max() < 16.0
    assert estimator(path).image_size == (3200, 4096)
    full = next(estimator.stream([path], full_images=True))
    assert full.image.shape == large_portrait.shape and full.poses.image_size == (3200, 4096)
    assert np.median(np.abs(full.poses.keypoints[0, :, :2] - on_full.keypoints[0, :, :2])) < 6.0


def test_predict_draws_on_the_full_picture_and_reports_its_size(tmp_path, estimator, large_portrait):
    path = photo_file(tmp_path, large_portrait, 8, quality=90)
    main(["predict", str(path), "--json-output", str(tmp_path / "poses.json"), "--image-output",
          str(tmp_path / "drawn"), "--quiet"])
    entry = json.loads((tmp_path / "poses.json").read_text())[0]
    assert (entry["width"], entry["height"]) == (3200, 4096) and len(entry["poses"]) == 1
    drawn = cv2.imread(str(tmp_path / "drawn" / "photo-8.jpg"))
    assert drawn.shape == large_portrait.shape


def test_image_folder_videos_report_the_full_frames_and_draw_on_them(tmp_path, large_portrait):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(2):
        (frames / f"{index:03d}.jpg").write_bytes(encoded(".jpg", large_portrait))
    main(["video", str(frames), "--json-output", str(tmp_path / "poses.jsonl"), "--no-track", "--quiet"])
    lines = [json.loads(line) for line in (tmp_path / "poses.jsonl").read_text().splitlines()]
    nose = [line["poses"][0]["keypoints"][0] for line in lines]
    assert len(lines) == 2 and all(1500 < x < 2300 and 700 < y < 1300 for x, y, _ in nose), nose
    main(["video", str(frames), "--video-output", str(tmp_path / "drawn.mp4"), "--no-track", "--quiet"])
    capture = cv2.VideoCapture(str(tmp_path / "drawn.mp4"))
    ok, picture = capture.read()
    capture.release()
    assert ok and picture.shape == large_portrait.shape
