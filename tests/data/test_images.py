import cv2
import numpy as np
import pytest

from manypose.data.images import ImageReadError, as_bgr, expand_image_paths, read_image


def write(path, image, params=()):
    assert cv2.imwrite(str(path), image, list(params))
    return path


def test_missing_directory_and_empty_files(tmp_path):
    with pytest.raises(ImageReadError, match="absent.jpg: no such file"):
        read_image(tmp_path / "absent.jpg")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.jpg: empty file"):
        read_image(tmp_path / "empty.jpg")


def test_truncated_and_corrupt_jpegs(tmp_path):
    image = (np.random.default_rng(0).random((200, 300, 3)) * 255).astype(np.uint8)
    data = (write(tmp_path / "good.jpg", image)).read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated.jpg: truncated JPEG"):
        read_image(tmp_path / "truncated.jpg")
    (tmp_path / "corrupt.jpg").write_bytes(data[:2] + b"\x00" * 500 + data[-2:])
    with pytest.raises(ImageReadError, match="corrupt.jpg: not an image"):
        read_image(tmp_path / "corrupt.jpg")


def test_non_image_file(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, I am not a picture")
    with pytest.raises(ImageReadError, match="notes.txt: not an image"):
        read_image(tmp_path / "notes.txt")


@pytest.mark.parametrize("name,image", [
    ("grey.png", np.full((20, 30), 77, np.uint8)),
    ("rgba.png", np.dstack([np.full((20, 30, 3), 77, np.uint8), np.full((20, 30), 10, np.uint8)])),
    ("deep.png", np.full((20, 30, 3), 77 * 257, np.uint16)),
    ("tiny.png", np.full((1, 1, 3), 77, np.uint8)),
])
def test_other_pixel_formats_become_8bit_bgr(tmp_path, name, image):
    loaded = read_image(write(tmp_path / name, image))
    assert loaded.dtype == np.uint8 and loaded.shape == image.shape[:2] + (3,)
    assert (loaded == 77).all()


def test_arrays_are_normalised():
    assert as_bgr(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert as_bgr(np.ones((4, 5, 3), np.float32)).max() == 255
    with pytest.raises(ImageReadError, match="shape"):
        as_bgr(np.zeros((4, 5, 2), np.uint8))
    with pytest.raises(ImageReadError, match="shape"):
        as_bgr(np.zeros((0, 5, 3), np.uint8))


def test_expanding_inputs(tmp_path):
    write(tmp_path / "b.png", np.zeros((2, 2, 3), np.uint8))
    write(tmp_path / "a.jpg", np.zeros((2, 2, 3), np.uint8))
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    files, errors = expand_image_paths([tmp_path, tmp_path / "empty", tmp_path / "gone.jpg"])
    assert [f.name for f in files] == ["a.jpg", "b.png"]
    assert [e[1].split(": ", 1)[1] for e in errors] == ["no images in this directory", "no such file or directory"]


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    import struct
    import zlib

    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(header + struct.pack(">I", 0) + zlib.compress(b"\x00" * 1000))
    with pytest.raises(ImageReadError, match="100000x100000 pixels is over the cap of 268435456"):
        read_image(bomb)
    monkeypatch.setenv("MANYPOSE_MAX_IMAGE_PIXELS", str(10 ** 10))
    with pytest.raises(ImageReadError, match="cannot decode"):  # past the cap, OpenCV's own checks
        read_image(bomb)


def test_a_width_over_opencvs_limit_under_the_cap_cannot_be_decoded(tmp_path):
    """Found by fuzzing (fuzz/targets.py: images): OpenCV raised cv2.error, past the pixel cap's check."""
    import struct

    cv2.imwrite(str(tmp_path / "wide.bmp"), np.zeros((16, 24, 3), np.uint8))
    data = (tmp_path / "wide.bmp").read_bytes()
    (tmp_path / "wide.bmp").write_bytes(data[:18] + struct.pack("<i", 1 << 23) + data[22:])  # 2^23 x 16 pixels
    with pytest.raises(ImageReadError, match="wide.bmp: not an image, or a corrupt one"):
        read_image(tmp_path / "wide.bmp")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp"])
def test_declared_sizes_are_read_from_headers(tmp_path, suffix):
    from manypose.data.images import declared_size

    cv2.imwrite(str(tmp_path / f"x{suffix}"), np.zeros((37, 53, 3), np.uint8))
    assert declared_size((tmp_path / f"x{suffix}").read_bytes()) == (53, 37)


def test_corrupt_jpeg_data_is_one_warning_naming_the_file(tmp_path, capfd):
    from manypose.zoo import DEMO_IMAGE

    data = bytearray(DEMO_IMAGE.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 50] = b"\xff\x00" * 25
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=r"damaged.jpg: Corrupt JPEG data.*decoded all the same"):
        image = read_image(path)
    assert image.shape == (512, 512, 3)
    assert "Corrupt JPEG data" not in capfd.readouterr().err, "libjpeg's own line is not printed"
