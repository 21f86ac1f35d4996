"""MoveNet MultiPose Lightning rebuilt from its TensorFlow.js graph: our network and numpy
decoding against the original runtime (@tensorflow/tfjs 4.22 wasm with pose-detection 2.1.3's
preprocessing, shared/reference/tfjs) on three dev images, through every backend."""
import copy
import json

import cv2
import numpy as np
import pytest
import torch

from manypose.convert import convert, model_file_from_checkpoint
from manypose.convert.movenet import movenet_from_tfjs
from manypose.convert.tfjs import TfjsError, read_tfjs_graph
from manypose.decoders.options import DecoderOptions
from manypose.heads import codec_for
from manypose.models import load_weights
from manypose.modelfile import read_model_folder
from manypose.models.movenet import MoveNetMultiPose

from conftest import require_bfloat16, shared_path, shared_scope

STEMS = ("000000000139", "000000000802", "000000217285")
BACKENDS = ("onnxruntime", "openvino", "torch")
MIN_POSE_SCORE = 0.25  # pose-detection's default minPoseScore, kept when score >= it


@pytest.fixture(scope="module")
def movenet_json():
    return shared_path("models/tfjs/movenet-multipose.json")


@pytest.fixture(scope=shared_scope)
def imported(movenet_json):
    arch, weights, input_spec, head = movenet_from_tfjs(movenet_json)
    return arch, load_weights(MoveNetMultiPose(arch, (head,)), weights).eval(), input_spec, head


@pytest.fixture(scope="module")
def reference():
    return np.load(shared_path("reference/tfjs/movenet_multipose_256.npz"))


@pytest.fixture(scope="module")
def reference_poses():
    return json.loads(shared_path("reference/tfjs/movenet_multipose_256_poses.json").read_text())["images"]


@pytest.fixture(scope="module")
def estimators(movenet_json):
    """Loaded once for the module (converted on the fly, exported once), one per backend, and one
    with eval's score threshold."""
    import manypose

    loaded = {backend: manypose.load(str(movenet_json), backend=backend) for backend in BACKENDS}
    loaded["eval"] = manypose.load(str(movenet_json), score_threshold=0.01)
    return loaded


def image(stem: str) -> np.ndarray:
    return cv2.imread(str(shared_path(f"data/coco-mini/val2017/{stem}.jpg")))


@pytest.mark.parametrize("stem", STEMS)
def test_network_and_decoder_give_the_original_output(imported, reference, stem):
    """The graph's [1, 6, 56] output (per slot 17 x (y, x, score) and the box normalized to the
    padded input, then the person score; 0 for the slots it suppresses) from our network's head
    maps decoded in numpy, on the exact tensor the original fed its graph."""
    _, network, input_spec, head = imported
    pixels = reference[f"{stem}__input"].astype(np.float32)
    blob = (pixels - np.float32(input_spec.pixel_mean[0])) * np.float32(input_spec.scale)
    with torch.no_grad():
        outputs = network(torch.from_numpy(blob).permute(0, 3, 1, 2).contiguous())
    codec = codec_for((head,))
    named = {name: output[0].numpy() for name, output in zip(codec.output_names, outputs)}
    boxes, scores, keypoints = codec.decoder(DecoderOptions(score_threshold=0.0))(named)

    expected = reference[f"{stem}__output"][0]
    expected = expected[np.argsort(-expected[:, 55], kind="stable")]  # ours come best first
    expected = expected[expected[:, 55] > 0]
    height, width = blob.shape[1:3]
    ours = np.concatenate((keypoints[..., [1, 0]] / [height, width], keypoints[..., 2:]), axis=2).reshape(-1, 51)
    ours = np.concatenate((ours, boxes[:, [1, 0, 3, 2]] / [height, width, height, width], scores[:, None]), axis=1)
    assert len(scores) == len(expected) == {"000000000139": 2, "000000000802": 0, "000000217285": 6}[stem]
    difference = np.abs(ours - expected).max(initial=0)
    print(f"{stem}: {len(scores)} people, max |ours - tfjs| = {difference:.2e}")
    assert difference < 1e-3


def test_architecture_is_read_from_the_graph(imported):
    arch, _, input_spec, head = imported
    assert arch["family"] == "movenet_multipose" and arch["keypoints"] == 17 and arch["last_channels"] == 1280
    blocks = arch["blocks"]
    assert len(blocks) == 17 and blocks[0]["expanded"] is None and arch["stem"]["stride"] == 2
    assert [index for index, block in enumerate(blocks) if block["stride"] == 2] == [1, 3, 6, 13]
    assert sum(block["residual"] for block in blocks) == 10
    assert [level["block"] for level in arch["fpn"]["levels"]] == [9, 5, 2]
    assert arch["head"] == {"channels": 96, "kernel": 3}
    assert input_spec.stride == 32 and head.stride == 4
    assert (head.max_people, head.peak_window, head.regression_spread) == (6, 5, 0.300048828125)
    json.dumps(arch)  # stored in model.json as it is


@pytest.mark.parametrize("stem", STEMS)
def test_input_is_prepared_byte_for_byte_as_the_original(imported, reference, stem):
    """pose-detection's preprocessing: TF's legacy bilinear resize of the long side to 256,
    zeros at the bottom / right up to a multiple of 32, the cast to int32."""
    input_spec = imported[2]
    picture = image(stem)
    blob, geometry = input_spec.prepare(picture)
    pixels = blob[0].transpose(1, 2, 0) / input_spec.scale + input_spec.pixel_mean[0]
    np.testing.assert_allclose(pixels, reference[f"{stem}__input"][0], atol=1e-3)
    height, width = picture.shape[:2]
    resized = np.array([[256.0, 256.0 * height / width] if width > height else [256.0 * width / height, 256.0]])
    np.testing.assert_allclose(geometry.to_original(np.round(resized)), [[width, height]], atol=1e-9)


def poses_by_score(poses):
    order = np.argsort(-poses.scores, kind="stable")
    return poses.keypoints[order], poses.scores[order], poses.boxes[order]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stem", STEMS)
def test_poses_match_the_original_on_the_image(estimators, reference_poses, backend, stem):
    """`manypose.load(movenet.json)(image)`: the original's poses (minPoseScore 0.25) in image
    pixels within 1 px, on every backend."""
    entry = reference_poses[f"{stem}.jpg"]
    expected = sorted((pose for pose in entry["poses"] if pose["score"] >= MIN_POSE_SCORE),
                      key=lambda pose: -pose["score"])
    keypoints, scores, boxes = poses_by_score(estimators[backend](shared_path(f"data/coco-mini/val2017/{stem}.jpg")))
    assert len(scores) == len(expected)
    if not expected:
        return
    expected_keypoints = np.array([pose["keypoints"] for pose in expected]).reshape(-1, 17, 3)
    expected_boxes = np.array([pose["bbox"] for pose in expected])
    expected_boxes[:, 2:] += expected_boxes[:, :2]
    expected_boxes = np.clip(expected_boxes, 0, [entry["w"], entry["h"]] * 2)  # ours end at the image's edges
    worst = np.abs(keypoints[..., :2] - expected_keypoints[..., :2]).max()
    print(f"{stem} {backend}: {len(scores)} people, keypoints within {worst:.4f} px")
    assert worst < 1.0
    assert np.abs(boxes - expected_boxes).max() < 1.0
    np.testing.assert_allclose(keypoints[..., 2], expected_keypoints[..., 2], atol=1e-3)
    np.testing.assert_allclose(scores, [pose["score"] for pose in expected], atol=1e-3)


def test_dev_ap_reaches_the_originals(estimators, dev_annotations, dev_images):
    """Dev AP at 256 against the original runtime's 0.256 (three decimals)."""
    from manypose.evaluate import evaluate

    stats, _, _ = evaluate(estimators["eval"], dev_annotations, dev_images, progress=False)
    print(f"MoveNet MultiPose dev AP {stats['AP']:.4f}")
    assert round(stats["AP"], 3) >= 0.256


def test_openvino_keeps_float32_unless_bfloat16_is_asked_for(estimators, movenet_json, dev_annotations, dev_images):
    """bfloat16 heatmaps turn near-ties between peaks (a keypoint 26.9 px off the original's on
    000000217285), so the codec asks for float32; asked for, bfloat16 costs at most 0.01 dev AP."""
    import manypose
    from manypose.evaluate import evaluate

    assert estimators["openvino"].backend.precision == "fp32"
    require_bfloat16()
    float32 = manypose.load(str(movenet_json), backend="openvino", score_threshold=0.01)
    bfloat16 = manypose.load(str(movenet_json), backend="openvino", precision="bf16", score_threshold=0.01)
    ap = {model.backend.precision: evaluate(model, dev_annotations, dev_images, progress=False)[0]["AP"]
          for model in (float32, bfloat16)}
    print(f"MoveNet MultiPose dev AP on openvino: {ap}")
    assert set(ap) == {"fp32", "bf16"} and abs(ap["fp32"] - ap["bf16"]) <= 0.01


def test_converts_to_a_model_folder_and_the_json_is_told_apart_from_posenet(movenet_json, imported, tmp_path):
    model = read_model_folder(convert(movenet_json, tmp_path / "movenet"))
    assert model.architecture["family"] == "movenet_multipose" and model.heads[0].kind == "centers"
    assert model.input_spec == imported[2]
    weights = imported[1].state_dict()
    assert all(np.array_equal(model.weights[key], weights[key].numpy()) for key in weights), \
        "the graph's float16 weights survive float16 storage"
    assert model_file_from_checkpoint(shared_path("models/tfjs/posenet.json")).architecture["family"] \
        == "posenet_mobilenet_v1"


@pytest.fixture(scope="module")
def graph(movenet_json):
    return read_tfjs_graph(movenet_json)


def _resize_without_half_pixel_centres(nodes):
    resize = next(node for node in nodes.values() if node.op == "ResizeBilinear")
    resize.attrs["half_pixel_centers"] = False
    return r"up_sampling2d/resize/ResizeBilinear resizes with align_corners=False and half_pixel_centers=False"


def _block_with_another_activation(nodes):
    nodes["StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/model/block_3_depthwise/"
          "depthwise"].attrs["fused_ops"] = ["BiasAdd", "Elu"]
    return r"block_3_depthwise/depthwise fuses \['BiasAdd', 'Elu'\], not \['BiasAdd', 'Relu6'\]"


def _head_with_an_unknown_op(nodes):
    nodes["StatefulPartitionedCall/kpt_offset_0/separable_conv2d_8/separable_conv2d/depthwise"].op = "Conv3D"
    return r"feeds StatefulPartitionedCall/kpt_offset_0/separable_conv2d_8/separable_conv2d/depthwise \(Conv3D\)"


def _layer_in_another_layout(nodes):
    nodes["StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/conv2d_2/BiasAdd"] \
        .attrs["data_format"] = "NCHW"
    return r"conv2d_2/BiasAdd has data format NCHW, not NHWC"


@pytest.mark.parametrize("change", [_resize_without_half_pixel_centres, _block_with_another_activation,
                                    _head_with_an_unknown_op, _layer_in_another_layout])
def test_graphs_it_cannot_rebuild_are_refused_naming_the_node(graph, movenet_json, change):
    nodes = copy.deepcopy(graph)
    message = change(nodes)
    with pytest.raises(TfjsError, match=f"not a MoveNet MultiPose graph .*{message}"):
        movenet_from_tfjs(movenet_json, nodes)
