"""TensorFlow.js graph models read without TensorFlow, and PoseNet MobileNetV1 rebuilt from one."""
import base64
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from manypose.convert.graphdef import GraphDefError
from manypose.convert.posenet import posenet_from_tfjs
from manypose.convert.tfjs import TfjsError, read_tfjs_graph
from manypose.models import load_weights
from manypose.models.posenet import PoseNetMobileNetV1

from conftest import shared_path, shared_scope

OUTPUTS = ("heatmap_logits", "offsets", "displacement_fwd", "displacement_bwd")


@pytest.fixture(scope="module")
def posenet_json():
    return shared_path("models/tfjs/posenet.json")


@pytest.fixture(scope=shared_scope)
def imported(posenet_json):
    arch, weights = posenet_from_tfjs(posenet_json)
    return arch, load_weights(PoseNetMobileNetV1(arch, ()), weights).eval()


@pytest.mark.parametrize("stem", ["000000000139", "000000000802", "000000217285"])
def test_outputs_match_the_original_runtime(imported, stem):
    reference = np.load(shared_path("reference/tfjs/posenet_385.npz"))
    with torch.no_grad():
        outputs = imported[1](torch.from_numpy(reference[f"{stem}__input"]).permute(0, 3, 1, 2))
    for name, output in zip(OUTPUTS, outputs):
        expected = reference[f"{stem}__{name}"]
        difference = np.abs(output.permute(0, 2, 3, 1).numpy() - expected)
        # float32 rounding: the displacements reach ~175 px, where the reference's own rounding
        # (a float64 run of the same network differs from it by up to 1.7e-3) passes 1e-3
        tolerance = max(1e-3, 2e-5 * np.abs(expected).max())
        print(f"{stem} {name}: max |ours - tfjs| = {difference.max():.2e} (tolerance {tolerance:.1e}), "
              f"mean {difference.mean():.1e}")
        assert output.shape == (1, expected.shape[3], 25, 25)
        assert difference.max() < tolerance and difference.mean() < 1e-4


def test_architecture_is_read_from_the_graph(imported):
    arch = imported[0]
    assert arch["family"] == "posenet_mobilenet_v1" and arch["keypoints"] == 17
    assert [layer["kind"] for layer in arch["layers"]] == ["conv"] + ["depthwise", "conv"] * 13
    assert np.prod([layer["stride"] for layer in arch["layers"]]) == 16
    assert arch["layers"][0]["channels"] == 24 and arch["layers"][-1]["channels"] == 384  # width 0.75
    json.dumps(arch)  # stored in model.json as it is


def test_keypoint_count_comes_from_the_head():
    arch = {"layers": [{"kind": "conv", "channels": 4, "kernel": 3, "stride": 2}], "keypoints": 17}
    five_keypoints = SimpleNamespace(skeleton=range(5))
    outputs = PoseNetMobileNetV1(arch, (five_keypoints,))(torch.zeros(1, 3, 9, 9))
    assert [tuple(output.shape) for output in outputs] == [(1, 5, 5, 5), (1, 10, 5, 5), (1, 8, 5, 5), (1, 8, 5, 5)]


# a hand-made graph model: a Placeholder, then one 3x3 _FusedConv2D whose kernel is float16-quantized

def _attr_s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _tiny_model(folder, kernel_entry=None, kernel_bytes=None, extra_node_inputs=()):
    kernel = np.linspace(-2, 2, 3 * 3 * 1 * 2, dtype=np.float32).reshape(3, 3, 1, 2)
    bias = np.array([170, 250], np.uint8)  # uint8-quantized: value = q * 0.5 - 100
    nodes = [
        {"name": "kernel", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "bias", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "image", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "-1"}]}}}},
        {"name": "net/conv/Relu6", "op": "_FusedConv2D", "input": ["image", "kernel", "bias", *extra_node_inputs],
         "attr": {"fused_ops": {"list": {"s": [_attr_s("BiasAdd")["s"], _attr_s("Relu6")["s"]]}},
                  "strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": _attr_s("SAME"),
                  "epsilon": {"f": 0.5}, "use_cudnn_on_gpu": {"b": True}, "num_args": {"i": "1"},
                  "T": {"type": "DT_FLOAT"}}},
    ]
    weights = [kernel_entry or {"name": "kernel", "shape": [3, 3, 1, 2], "dtype": "float32",
                                "quantization": {"dtype": "float16", "original_dtype": "float32"}},
               {"name": "bias", "shape": [2], "dtype": "float32",
                "quantization": {"dtype": "uint8", "scale": 0.5, "min": -100.0}}]
    model = {"format": "graph-model", "modelTopology": {"node": nodes},
             "weightsManifest": [{"paths": ["tiny.bin"], "weights": weights}]}
    (folder / "tiny.json").write_text(json.dumps(model))
    stored_kernel = kernel.astype("<f2").tobytes() if kernel_bytes is None else kernel_bytes
    (folder / "tiny.bin").write_bytes(stored_kernel + bias.tobytes())
    return folder / "tiny.json", kernel


def test_quantized_weights_are_dequantized(tmp_path):
    path, kernel = _tiny_model(tmp_path)
    nodes = read_tfjs_graph(path)
    assert nodes["kernel"].value.dtype == np.float32
    assert np.array_equal(nodes["kernel"].value, kernel.astype(np.float16).astype(np.float32))
    assert np.abs(nodes["kernel"].value - kernel).max() > 0  # float16 rounding did happen
    assert nodes["bias"].value.tolist() == [-15.0, 25.0]


def test_attributes_decode_like_the_graphdef_reader(tmp_path):
    conv = read_tfjs_graph(_tiny_model(tmp_path)[0])["net/conv/Relu6"]
    assert conv.inputs == ["image", "kernel", "bias"]
    assert conv.attrs["fused_ops"] == ["BiasAdd", "Relu6"] and conv.attrs["strides"] == [1, 2, 2, 1]
    assert conv.attrs["padding"] == "SAME" and conv.attrs["epsilon"] == 0.5 and conv.attrs["num_args"] == 1
    assert conv.attrs["use_cudnn_on_gpu"] is True and conv.attrs["T"] is np.float32


def test_truncated_shard_names_the_file_and_the_byte_counts(posenet_json, tmp_path):
    (tmp_path / "posenet.json").write_bytes(posenet_json.read_bytes())
    (tmp_path / "posenet.bin").write_bytes(posenet_json.with_suffix(".bin").read_bytes()[:1000])
    with pytest.raises(TfjsError, match=r"take 5032780 bytes .*\(posenet\.bin 1000 bytes\)"):
        read_tfjs_graph(tmp_path / "posenet.json")


def test_missing_shard_is_named(posenet_json, tmp_path):
    (tmp_path / "posenet.json").write_bytes(posenet_json.read_bytes())
    with pytest.raises(TfjsError, match=r"posenet\.bin .* is missing"):
        read_tfjs_graph(tmp_path / "posenet.json")


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG not json", "not JSON"),
    (b'{"format": "layers-model", "modelTopology": {"class_name": "Model"}}', "format 'layers-model'"),
    (b'{"modelTopology": {}}', "no modelTopology.node list"),
])
def test_files_that_are_not_graph_models_are_rejected(tmp_path, content, message):
    (tmp_path / "model.json").write_bytes(content)
    with pytest.raises(TfjsError, match=f"model.json: not a TensorFlow.js.*{message}"):
        read_tfjs_graph(tmp_path / "model.json")


@pytest.mark.parametrize("entry, message", [
    ({"name": "kernel", "shape": [3, 3, 1, 2], "dtype": "complex64"}, "dtype 'complex64'"),
    ({"name": "kernel", "shape": [3, 3, 1, 2], "dtype": "float32", "quantization": {"dtype": "int4"}},
     "unknown quantization"),
    ({"name": "kernel", "shape": [3, 3, 1, 2], "dtype": "float32", "quantization": {"dtype": "uint8"}},
     "without a numeric scale and min"),
    ({"name": "kernel", "shape": [1 << 40, 1 << 40], "dtype": "float32"}, "take .* bytes"),
    ({"name": "kernel", "shape": [3, -3], "dtype": "float32"}, "not a list of sizes"),
])
def test_weight_entries_that_cannot_be_read_are_named(tmp_path, entry, message):
    path, _ = _tiny_model(tmp_path, kernel_entry=entry)
    with pytest.raises(TfjsError, match=message):
        read_tfjs_graph(path)


def test_unknown_input_is_named(tmp_path):
    path, _ = _tiny_model(tmp_path, extra_node_inputs=["^nowhere:1"])
    with pytest.raises(TfjsError, match="net/conv/Relu6 takes input \\^nowhere:1, which is no node"):
        read_tfjs_graph(path)


def test_shards_outside_the_model_folder_are_refused(tmp_path):
    path, _ = _tiny_model(tmp_path)
    model = json.loads(path.read_text())
    model["weightsManifest"][0]["paths"] = ["../tiny.bin"]
    path.write_text(json.dumps(model))
    with pytest.raises(TfjsError, match="outside the model's folder"):
        read_tfjs_graph(path)


def test_errors_are_graphdef_errors():
    assert issubclass(TfjsError, GraphDefError)  # the converter's callers catch one family


def test_graph_that_is_not_posenet_is_refused(tmp_path):
    path, _ = _tiny_model(tmp_path)  # one convolution, no outputs
    with pytest.raises(TfjsError, match="not a PoseNet MobileNetV1 graph .*does not feed the output"):
        posenet_from_tfjs(path)


def test_posenet_loads_through_the_usual_api_with_its_original_accuracy(dev_annotations, dev_images):
    """Converted on the fly from the .json, exported to ONNX, letterboxed to 16 k + 1 (grid cells
    on pixels 16 i): dev AP 0.206 at 385 against the original runtime's 0.202."""
    import manypose
    from manypose.evaluate import evaluate

    estimator = manypose.load(str(shared_path("models/tfjs/posenet.json")), score_threshold=0.01)
    assert estimator.input_spec.corner_aligned and estimator.input_spec.size == 385
    stats, _, _ = evaluate(estimator, dev_annotations, dev_images, progress=False)
    print(f"PoseNet dev AP {stats['AP']:.4f}")
    assert stats["AP"] >= 0.202


def test_corner_aligned_inputs_are_a_multiple_of_the_stride_plus_one():
    import numpy as np

    from manypose.convert.posenet import INPUT

    blob, geometry = INPUT.prepare(np.zeros((426, 640, 3), np.uint8))
    assert blob.shape == (1, 3, 257, 385) and (geometry.input_width, geometry.input_height) == (385, 257)
    assert INPUT.with_size(513).size == 513
    with pytest.raises(ValueError, match="multiple of the model's stride plus one 16 .try 497 or 513"):
        INPUT.with_size(512)
