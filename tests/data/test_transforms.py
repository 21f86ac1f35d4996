import cv2
import numpy as np
import pytest

from manypose.data.transforms import InputSpec, letterbox, resize, stretch, tf_legacy_resize

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


@pytest.mark.parametrize("height,width", [(333, 211), (211, 333), (641, 639), (37, 1001)])
def test_odd_sizes_sit_exactly_inside_the_padding(height, width):
    image = np.full((height, width, 3), 200, np.uint8)
    padded, box = letterbox(image, 320, 32, 114)
    new_w, new_h = round(width * box.scale), round(height * box.scale)
    assert (padded.shape[1], padded.shape[0]) == (box.input_width, box.input_height)
    assert box.input_width % 32 == 0 and box.input_height % 32 == 0 and max(box.input_width, box.input_height) == 320
    content = padded[box.pad_top:box.pad_top + new_h, box.pad_left:box.pad_left + new_w]
    assert content.shape[:2] == (new_h, new_w) and (content == 200).all()
    right, bottom = box.input_width - box.pad_left - new_w, box.input_height - box.pad_top - new_h
    assert 0 <= right - box.pad_left <= 1 and 0 <= bottom - box.pad_top <= 1, "centred, any odd pixel at the end"
    assert (padded == 200).all(axis=2).sum() == new_w * new_h, "everything else is padding"


def test_padding_is_centred_and_grey():
    image = np.zeros((100, 400, 3), np.uint8)
    padded, box = letterbox(image, 640, 32, 114)
    assert padded.shape == (160, 640, 3) and box.scale == 1.6
    assert box.pad_top == 0 and box.pad_left == 0
    padded, box = letterbox(image, 640, 32, 114, minimal_padding=False)
    assert padded.shape == (640, 640, 3) and box.pad_top == 240
    assert (padded[0] == 114).all() and (padded[box.pad_top + 1] == 0).all()


@pytest.mark.parametrize("spec", [InputSpec(size=320), InputSpec(size=320, square=True),
                                  InputSpec(size=(432, 368), resize="stretch")], ids=["minimal", "square", "stretch"])
@pytest.mark.parametrize("shape", [(240, 320, 3), (333, 211, 3)])
def test_geometry_maps_both_ways(spec, shape):
    image = np.zeros(shape, np.uint8)
    blob, geometry = spec.prepare(image)
    points = np.array([[0.0, 0.0, 1.0], [shape[1], shape[0], 1.0], [17.5, 40.25, 0.5]])
    forward = geometry.to_input(points.copy())
    assert (forward[:, :2] >= -1e-6).all()
    assert forward[1, 0] <= blob.shape[3] + 1e-6 and forward[1, 1] <= blob.shape[2] + 1e-6
    np.testing.assert_allclose(geometry.to_original(forward), points, atol=1e-6)


def test_input_spec_prepares_as_described():
    image = np.zeros((100, 200, 3), np.uint8)
    image[..., 2] = 200  # red in BGR
    spec = InputSpec(size=64, stride=32, channels="RGB", scale=0.5, pixel_mean=(10.0, 20.0, 30.0), pad_value=0)
    blob, geometry = spec.prepare(image)
    assert blob.shape == (1, 3, 32, 64) and geometry.scale == pytest.approx(0.32)  # padded to the stride only
    centre = blob[0, :, 16, 32]  # inside the image: RGB order, (pixel - mean) * scale
    np.testing.assert_allclose(centre, [(200 - 10) * 0.5, (0 - 20) * 0.5, (0 - 30) * 0.5])


def test_a_square_input_is_letterboxed_like_a_training_input():
    image = np.full((100, 200, 3), 50, np.uint8)
    spec = InputSpec(size=64, stride=32, scale=1.0, pad_value=7, square=True)
    blob, geometry = spec.prepare(image)
    assert blob.shape == (1, 3, 64, 64) and geometry.pad_top == 16 and geometry.pad_left == 0  # centred, 32 rows high
    assert (blob[0, :, :16] == 7).all() and (blob[0, :, 16:48] == 50).all() and (blob[0, :, 48:] == 7).all()
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_per_channel_scale_and_pad_value_are_in_channel_order():
    image = np.zeros((16, 32, 3), np.uint8)
    image[..., 2] = 200  # red in BGR
    spec = InputSpec(size=32, stride=32, scale=(0.5, 0.25, 0.125), pixel_mean=(10.0, 20.0, 30.0),
                     pad_value=(124, 116, 104))
    blob, _ = spec.prepare(image)
    np.testing.assert_allclose(blob[0, :, 16, 16], [(200 - 10) * 0.5, (0 - 20) * 0.25, (0 - 30) * 0.125])
    np.testing.assert_allclose(blob[0, :, 0, 16], [(124 - 10) * 0.5, (116 - 20) * 0.25, (104 - 30) * 0.125])
    assert InputSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="one per channel"):
        InputSpec(scale=(0.5, 0.5))


def test_input_spec_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="fixed input size"):
        InputSpec(size=(432, 368), resize="stretch").with_size(320)
    with pytest.raises(ValueError, match="resize 'crop'"):
        InputSpec(resize="crop")
    with pytest.raises(ValueError, match="needs size \\[width, height\\]"):
        InputSpec(size=432, resize="stretch")
    assert InputSpec.from_dict(InputSpec(size=(432, 368), resize="stretch").to_dict()).size == (432, 368)


@pytest.mark.parametrize("size", [32, 320, 4096, np.int64(640)])
def test_with_size_takes_multiples_of_the_stride(size):
    spec = InputSpec(size=640, stride=32, pad_value=7).with_size(size)
    assert spec.size == int(size) and isinstance(spec.size, int) and spec.pad_value == 7


@pytest.mark.parametrize("size, message", [
    (650, "input size 650 is not a multiple of the model's stride 32 (try 640 or 672)"),
    (40, "(try 32 or 64)"), (4090, "(try 4064 or 4096)"),
    (16, "from 32 to 4096, not 16"), (4128, "from 32 to 4096, not 4128"),
    (True, "not True"), (320.0, "not 320.0"), ("320", "not '320'"),
])
def test_with_size_refuses_other_sizes(size, message):
    with pytest.raises(ValueError) as error:
        InputSpec(size=640, stride=32).with_size(size)
    assert message in str(error.value)


@pytest.mark.parametrize("size, message", [
    (16, "from 17 to 4096, not 16"), (20, "plus one 16 (try 17 or 33)"), (4095, "(try 4081)"),
])
def test_corner_aligned_sizes_are_a_multiple_of_the_stride_plus_one(size, message):
    spec = InputSpec(size=385, stride=16, corner_aligned=True)
    assert spec.with_size(17).size == 17 and spec.with_size(4081).size == 4081
    with pytest.raises(ValueError) as error:
        spec.with_size(size)
    assert message in str(error.value)


@pytest.mark.parametrize("height, width, resized_hw", [
    (5, 512, (3, 256)),     # 256 * 5 / 512 = 2.5: Math.round rounds halves up (Python's round gives 2)
    (512, 5, (256, 3)),
    (1, 1000, (1, 256)),    # Math.round(0.256) = 0: one row kept, not an empty image
    (1000, 1, (256, 1)),
    (300, 300, (256, 256)),
])
def test_tfjs_sizing_rounds_the_short_side_like_math_round_and_keeps_a_pixel(height, width, resized_hw):
    # MoveNet's preprocessing (pose-detection): the long side 256, the short one
    # Math.round(256 * short / long), the image at the top left, zero-padded to a multiple of 32
    image = np.full((height, width, 3), 200, np.uint8)
    padded, box = letterbox(image, 256, 32, 0, interpolation="tf_legacy", anchor="top_left")
    new_h, new_w = resized_hw
    assert padded.shape[:2] == (-(-new_h // 32) * 32, -(-new_w // 32) * 32)
    assert (padded[:new_h, :new_w] == 200).all() and (padded == 200).all(axis=2).sum() == new_h * new_w
    assert box.scale == new_w / width and box.vertical_scale == new_h / height


def test_stretch_resizes_bilinearly_by_default_with_each_sides_own_scale():
    image = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    resized, geometry = stretch(image, 16, 9)
    assert np.array_equal(resized, cv2.resize(image, (16, 9), interpolation=cv2.INTER_LINEAR))
    assert (geometry.scale_x, geometry.scale_y) == (2.0, 1.5)


def test_tf_legacy_resize_samples_dst_times_in_over_out_and_repeats_the_last_pixel():
    # TF1 bilinear (align_corners=False, half_pixel_centers=False): output i samples the input at
    # i * 2 / 4 = 0, 0.5, 1, 1.5; the neighbour of the last pixel is the last pixel itself
    image = np.array([[0, 100], [200, 40]], np.uint8)[:, :, None]
    expected = [[0, 50, 100, 100], [100, 85, 70, 70], [200, 120, 40, 40], [200, 120, 40, 40]]
    np.testing.assert_array_equal(tf_legacy_resize(image, 4, 4)[:, :, 0], expected)
    np.testing.assert_array_equal(resize(image, 4, 4, "tf_legacy")[:, :, 0], expected)


def test_input_spec_dict_is_what_its_json_gives_back():
    # a model description holds it as JSON: lists, not tuples, so a description read back equals it
    import json

    spec = InputSpec(size=(432, 368), resize="stretch", scale=(0.5, 0.25, 0.125), pixel_mean=(1.0, 2.0, 3.0),
                     pad_value=(1, 2, 3))
    data = spec.to_dict()
    assert json.loads(json.dumps(data)) == data and data["size"] == [432, 368]


def test_letterbox_defaults_are_yolos_640_stride_32_grey_114():
    # called with the image alone: long side 640, canvas a multiple of 32, padded with grey 114
    image = np.zeros((100, 300, 3), np.uint8)
    padded, box = letterbox(image)
    assert padded.shape == (224, 640, 3) and box.scale == pytest.approx(640 / 300)  # 213 rows -> 224
    assert (padded[0] == 114).all() and (padded[-1] == 114).all()


def test_resize_is_bilinear_by_default():
    image = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    assert np.array_equal(resize(image, 16, 9), cv2.resize(image, (16, 9), interpolation=cv2.INTER_LINEAR))


@pytest.mark.parametrize("interpolation, flag", [("cubic", cv2.INTER_CUBIC), ("area", cv2.INTER_AREA)])
def test_the_chosen_interpolation_is_used_by_every_resize(interpolation, flag):
    # the OpenCV mode asked for, not the default bilinear, in resize, letterbox and stretch
    image = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    expected = cv2.resize(image, (32, 21), interpolation=flag)
    assert not np.array_equal(expected, cv2.resize(image, (32, 21), interpolation=cv2.INTER_LINEAR))
    assert np.array_equal(resize(image, 32, 21, interpolation), expected)
    padded, box = letterbox(image, 32, 1, 0, interpolation=interpolation)
    assert (box.pad_left, box.pad_top) == (0, 0) and np.array_equal(padded, expected)
    assert np.array_equal(stretch(image, 32, 21, interpolation)[0], expected)


def test_a_stretched_input_spec_resizes_with_its_interpolation():
    # e.g. tf-pose-estimation's input: stretched to (432, 368) with a cubic resize, BGR, unscaled
    image = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    spec = InputSpec(size=(45, 16), resize="stretch", channels="BGR", scale=1.0, interpolation="cubic")
    blob, _ = spec.prepare(image)
    expected = cv2.resize(image, (45, 16), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(blob[0].transpose(1, 2, 0), expected)


def test_tf_legacy_letterbox_geometry_names_the_canvas():
    # MoveNet: 256 x 128 after the resize, padded at the bottom / right to 256 x 128 (stride 32)
    image = np.full((100, 200, 3), 200, np.uint8)
    padded, box = letterbox(image, 256, 32, 0, interpolation="tf_legacy", anchor="top_left")
    assert (box.input_width, box.input_height) == (padded.shape[1], padded.shape[0]) == (256, 128)
    assert (box.pad_left, box.pad_top) == (0, 0)


def test_input_spec_errors_name_what_is_accepted():
    # the refusal of a bad model description says which values would do
    cases = [(dict(resize="crop"), "expected one of letterbox, stretch"),
             (dict(channels="GRAY"), "input channels 'GRAY': expected RGB or BGR"),
             (dict(interpolation="nearest"), "expected one of linear, cubic, area, tf_legacy"),
             (dict(anchor="bottom"), "input anchor 'bottom': expected one of center, top_left"),
             (dict(size=(432, 368)), "a letterboxed input needs one size")]
    for options, message in cases:
        with pytest.raises(ValueError) as error:
            InputSpec(**options)
        assert message in str(error.value)
