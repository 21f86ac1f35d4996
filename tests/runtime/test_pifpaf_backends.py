"""A converted OpenPifPaf model (the tiny fixture, tests/fixtures/openpifpaf) gives the same
fields on ONNX Runtime (fp32 and INT8), OpenVINO and torch, at any input shape, and predicts
through each of them."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import manypose
from manypose import export
from manypose.convert import convert
from manypose.encoders.cifcaf import CifCafEncoder
from manypose.heads import codec_for
from manypose.modelfile import read_model_folder
from manypose.models import inference_network
from manypose.runtime import open_backend

from conftest import require_bfloat16, shared_path
from synthetic_people import STANDING

CHECKPOINT = Path(__file__).resolve().parents[1] / "fixtures" / "openpifpaf" / "tiny-shufflenetv2k.pkl"
SHAPES = ((1, 3, 129, 177), (2, 3, 161, 97))  # landscape and portrait, 16 k + 1


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The converted folder with its ONNX forms (INT8 calibrated on 4 coco-mini train images)."""
    folder = convert(CHECKPOINT, tmp_path_factory.mktemp("pifpaf") / "tiny", dtype="float32")
    model = read_model_folder(folder)
    export.export_onnx(model, folder / "model.onnx")
    export.quantize_int8(model, folder / "model.onnx", folder / "model-int8.onnx",
                         shared_path("data/coco-mini/train2017"), count=4)
    return folder


def torch_fields(folder, blob: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        return [output.numpy() for output in inference_network(read_model_folder(folder))(torch.from_numpy(blob))]


BFLOAT16_STEP = 2 ** -8  # bfloat16 keeps 8 significant bits: about 3 significant digits


@pytest.mark.parametrize("backend,onnx_file,precision,tolerance", [
    ("onnxruntime", "model.onnx", "fp32", 1e-4), ("openvino", "model.onnx", "fp32", 1e-4),
    ("onnxruntime", "model-int8.onnx", "fp32", 0.05), ("openvino", "model.onnx", "bf16", 4 * BFLOAT16_STEP)])
def test_every_runtime_gives_the_torch_fields_at_any_shape(exported, backend, onnx_file, precision, tolerance):
    """Float32 runtimes to 1e-4 (measured 2e-6); bfloat16 (on CPUs that have it) within
    a few of its steps (measured 2e-3): the graph stops at the raw maps, of about unit scale, and
    the absolute positions are added in float32."""
    if precision == "bf16":
        require_bfloat16()
    codec = codec_for(read_model_folder(exported).heads)
    runtime = open_backend(backend, exported / onnx_file, codec, precision=precision)
    assert runtime.precision == precision
    for shape in SHAPES:
        blob = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        outputs = runtime(blob)
        for name, expected in zip(codec.output_names, torch_fields(exported, blob)):
            assert outputs[name].shape == expected.shape
            assert np.abs(outputs[name] - expected).max() < tolerance, (name, shape)


def test_openvino_stops_at_the_raw_maps_and_decodes_them_in_float32(exported):
    """bfloat16 (on CPUs that have it) would put absolute positions on half-cell steps."""
    runtime = open_backend("openvino", exported / "model.onnx", codec_for(read_model_folder(exported).heads))
    assert runtime.cut is not None and len(runtime.cut) == 2


def test_int8_keeps_the_head_convolutions_and_what_follows_in_float(exported):
    import onnx

    graph = onnx.load(str(exported / "model-int8.onnx")).graph
    quantized = [node.name for node in graph.node if node.op_type == "QuantizeLinear"]
    assert quantized and not [name for name in quantized if name.startswith("/heads.")]


@pytest.mark.parametrize("backend,int8", [("torch", False), ("onnxruntime", False), ("onnxruntime", True),
                                          ("openvino", False)])
def test_the_model_predicts_through_every_backend(exported, backend, int8):
    image = cv2.imread(str(shared_path("data/coco-mini/val2017/000000397133.jpg")))
    poses = manypose.load(exported, backend=backend, int8=int8, input_size=321)(image)
    assert poses.keypoints.shape[1:] == (17, 3)  # random weights: any number of people


def test_complete_poses_reach_the_decoder_through_load(exported):
    """Fields of one person whose left ear no association reaches, as a network would give
    them for a blank 321-pixel input: all 17 keypoints only when complete poses are asked for."""
    image = np.zeros((321, 321, 3), np.uint8)  # the input as it is: 41 x 41 cells at stride 8
    person = np.concatenate((STANDING * 250 + (160, 30), np.full((17, 1), 2.0)), axis=1)
    codec = codec_for(read_model_folder(exported).heads)
    fields = CifCafEncoder(codec.cif, codec.caf)(person[None], 41, 41).as_outputs()
    fields["caf"][[i for i, pair in enumerate(codec.caf.associations) if 3 in pair], 1] = 0
    outputs = {name: values[None] for name, values in fields.items()}
    for complete_poses, expected in ((None, 16), (True, 17)):
        estimator = manypose.load(exported, backend="torch", input_size=321, complete_poses=complete_poses,
                                  score_threshold=0.0)
        blob, geometry = estimator.preprocess(image)
        assert blob.shape[2:] == (321, 321)
        poses = estimator.postprocess(outputs, geometry, image.shape)
        assert (poses.keypoints[..., 2] > 0).sum(axis=1).max() == expected
