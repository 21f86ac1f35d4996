"""Photos read as people see them: the EXIF orientation of JPEG, PNG and WebP files applied,
written here byte by byte into files whose pixels are stored turned."""
import cv2
import numpy as np
import pytest

import manypose
from manypose.data.coco import KeypointDataset
from manypose.data.images import ImageReadError, exif_orientation, read_annotated_image, read_image
from manypose.evaluate import as_annotated
from manypose.video import open_source
from manypose.zoo import DEMO_IMAGE

from photos import (LONG, STORED_FROM_UPRIGHT, encoded, jpeg_with_exif, photo_file, png_with_exif, tiff_block,
                    webp_with_exif)


@pytest.fixture(scope="module")
def portrait():
    """The demo astronaut, cut to a portrait 512 high and 400 wide, so every turn shows in its shape."""
    return np.ascontiguousarray(cv2.imread(str(DEMO_IMAGE))[:, :400])


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("byte_order", ["<", ">"], ids=["Intel", "Motorola"])
def test_each_jpeg_orientation_reads_upright(tmp_path, portrait, orientation, byte_order):
    path = photo_file(tmp_path, portrait, orientation, exif=tiff_block(orientation, byte_order))
    image = read_image(path)
    assert image.shape == portrait.shape
    assert np.abs(image.astype(int) - portrait).mean() < 2.0  # JPEG's loss, not a turn
    opencv_turned = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(image, opencv_turned), "the same pixels OpenCV's own orientation gives"


@pytest.mark.parametrize("orientation", [3, 6, 7])
def test_png_and_webp_orientations_read_upright(tmp_path, orientation):
    upright = (np.random.default_rng(orientation).random((30, 50, 3)) * 255).astype(np.uint8)
    stored = STORED_FROM_UPRIGHT[orientation](upright)
    size = (stored.shape[1], stored.shape[0])
    png = png_with_exif(encoded(".png", stored), tiff_block(orientation, ">"))
    webp = webp_with_exif(encoded(".webp", stored, [cv2.IMWRITE_WEBP_QUALITY, 101]), tiff_block(orientation), size)
    for name, data in (("photo.png", png), ("photo.webp", webp)):
        (tmp_path / name).write_bytes(data)
        assert np.array_equal(read_image(tmp_path / name), upright), name  # lossless: exactly


def test_poses_and_the_image_they_are_drawn_on_are_as_displayed(tmp_path, estimator, portrait):
    on_upright = estimator(portrait)
    for orientation in (6, 8):
        result = next(estimator.stream([photo_file(tmp_path, portrait, orientation)]))
        poses = result.poses
        assert result.image.shape == portrait.shape  # predict and video draw on result.image
        assert poses.image_size == (400, 512) and len(poses) == 1
        nose, left_shoulder, right_shoulder = poses.keypoints[0, [0, 5, 6], :2]
        assert nose[1] < min(left_shoulder[1], right_shoulder[1]), "the nose is above the shoulders"
        assert np.median(np.abs(poses.keypoints[0, :, :2] - on_upright.keypoints[0, :, :2])) < 3.0


def test_image_folders_give_frames_as_displayed(tmp_path, estimator):
    upright = np.full((48, 64, 3), 90, np.uint8)
    for orientation in (1, 6):
        photo_file(tmp_path, upright, orientation)
    results = list(estimator.stream(frame.image for frame in open_source(tmp_path).frames()))
    assert [result.image.shape for result in results] == [upright.shape, upright.shape]


DAMAGED_EXIF = {
    "empty": b"",
    "cut in the header": b"II",
    "odd byte order": b"XX*\0\x08\0\0\0",
    "directory past the end": b"MM\0*\xff\xff\xff\xff",
    "cut in the directory": tiff_block(6)[:16],
    "cut in the orientation entry": tiff_block(6)[:-8],
    "65535 entries announced": b"II*\0\x08\0\0\0\xff\xff",
    "orientation 0": tiff_block(0),
    "orientation 9": tiff_block(9),
    "orientation 65535": tiff_block(65535),
    "orientation as a long": tiff_block(6, value_type=LONG),
}


@pytest.mark.parametrize("exif", DAMAGED_EXIF.values(), ids=DAMAGED_EXIF.keys())
def test_damaged_exif_reads_as_stored(tmp_path, portrait, exif):
    path = photo_file(tmp_path, portrait, 1, exif=exif)
    assert read_image(path).shape == portrait.shape


def test_random_exif_never_raises_and_a_segment_past_the_end_is_an_image_read_error(tmp_path, portrait):
    rng = np.random.default_rng(0)
    for _ in range(200):
        noise = rng.integers(0, 256, rng.integers(0, 64), dtype=np.uint8).tobytes()
        assert exif_orientation(jpeg_with_exif(b"\xff\xd8\xff\xd9", b"MM\0*\0\0\0\x08" + noise)) in range(1, 9)
        assert exif_orientation(b"\x89PNG\r\n\x1a\n" + noise) == exif_orientation(b"RIFF\0\0\0\0WEBP" + noise) == 1
    jpeg = encoded(".jpg", portrait)
    past_the_end = jpeg[:2] + b"\xff\xe1\xff\xffExif\0\0MM\0*" + jpeg[2:]
    assert exif_orientation(past_the_end) == 1
    (tmp_path / "long.jpg").write_bytes(past_the_end)
    with pytest.warns(UserWarning), pytest.raises(ImageReadError, match="long.jpg: not an image"):
        read_image(tmp_path / "long.jpg")


def coco_file(path, size) -> dict:
    """A keypoint annotation file listing one image, with its width and height where `size` is given."""
    image = {"id": 1, "file_name": path.name, **({"width": size[0], "height": size[1]} if size else {})}
    return {"images": [image], "annotations": [],
            "categories": [{"id": 1, "name": "person", "keypoints": ["nose"], "skeleton": []}]}


@pytest.mark.parametrize("annotated_size,displayed", [
    pytest.param((400, 512), True, id="annotated as shown"),
    pytest.param((512, 400), False, id="annotated as stored"),
    pytest.param(None, False, id="no size"),
])
def test_annotation_files_are_read_in_the_orientation_of_their_sizes(tmp_path, portrait, annotated_size, displayed):
    path = photo_file(tmp_path, portrait, 6)
    expected = (512, 400) if displayed else (400, 512)
    assert read_annotated_image(path, annotated_size).shape[:2] == expected
    data = coco_file(path, annotated_size)
    assert KeypointDataset(data, tmp_path)[0].image.shape[:2] == expected, "training reads the same"
    assert as_annotated(path, data["images"][0]).shape[:2] == expected, "and so does evaluation"


def test_sizes_that_cannot_tell_keep_the_stored_pixels(tmp_path, portrait):
    upside_down = photo_file(tmp_path, portrait, 3)
    assert np.abs(read_annotated_image(upside_down, (400, 512)).astype(int) - portrait[::-1, ::-1]).mean() < 2.0


def test_evaluation_leaves_plain_and_unreadable_files_to_the_estimator(tmp_path, portrait):
    plain = photo_file(tmp_path, portrait, 1)
    assert as_annotated(plain, {"width": 400, "height": 512}) == plain
    undecodable = tmp_path / "undecodable.jpg"
    undecodable.write_bytes(jpeg_with_exif(b"\xff\xd8", tiff_block(6)) + b"\0" * 300 + b"\xff\xd9")
    with pytest.warns(UserWarning):
        assert as_annotated(undecodable, {"width": 400, "height": 512}) == undecodable
