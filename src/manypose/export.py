"""Export to ONNX (dynamic height and width) and static INT8 quantization, with output checks.

Needs torch (export) and onnx (quantization); running the results needs only onnxruntime.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .data.images import expand_image_paths, read_image
from .data.transforms import network_input
from .io import publish, temporary_sibling
from .optional import require

OPSET = 17  # well supported by ONNX Runtime's CPU kernels and its quantizer
INPUT_NAME = "images"
OUTPUT_NAME = "output"
CHECK_SHAPES = ((1, 3, 448, 640), (1, 3, 640, 448))


class ExportError(RuntimeError):
    pass


def check_shapes(model_file) -> list[tuple[int, ...]]:
    """Input shapes to export and check with: a landscape and a portrait letterbox, or the
    fixed size of models that stretch their input."""
    spec = model_file.description["input"]
    if spec.get("resize") == "stretch":
        width, height = spec["size"]
        return [(1, 3, height, width)]
    return list(CHECK_SHAPES)


def export_onnx(model_file, out_path, opset: int = OPSET, check: bool = True) -> Path:
    """Write the network (batch norms folded, outputs decoded) as ONNX; check it against torch.

    Height and width are dynamic, except for models with a fixed input size."""
    torch = require("torch", "exporting to ONNX")
    from .models import inference_network

    network = inference_network(model_file)
    shapes = check_shapes(model_file)
    dynamic = {0: "batch"} if len(shapes) == 1 else {0: "batch", 2: "height", 3: "width"}
    out_path = Path(out_path)
    with temporary_sibling(out_path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            network, (torch.zeros(shapes[0]),), str(tmp), input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME], opset_version=opset, dynamo=False,
            dynamic_axes={INPUT_NAME: dynamic, OUTPUT_NAME: {0: "batch"}})
        if check:
            check_against_torch(network, tmp, shapes)
        publish(tmp, out_path)
    return out_path


def check_against_torch(network, onnx_path, shapes=CHECK_SHAPES, atol: float = 0.01) -> float:
    """Largest difference between ONNX Runtime's and torch's outputs on random inputs."""
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    generator = np.random.default_rng(0)
    for shape in shapes:
        blob = generator.random(shape, dtype=np.float32)
        with torch.no_grad():
            expected = network(torch.from_numpy(blob)).numpy()
        actual = session.run(None, {INPUT_NAME: blob})[0]
        worst = max(worst, float(np.abs(actual - expected).max()))
    if worst > atol:
        raise ExportError(f"ONNX output differs from torch by {worst:.4f} (> {atol}); not exporting")
    return worst


class _CalibrationImages:
    """Feeds calibration images, prepared as at inference, to ONNX Runtime's quantizer."""

    def __init__(self, paths, input_spec: dict):
        self.paths, self.input = list(paths), input_spec
        self.position = 0

    def get_next(self):
        if self.position >= len(self.paths):
            return None
        image = read_image(self.paths[self.position])
        self.position += 1
        # one shape for every image (square letterboxes): histogram calibrators stack the activations
        blob, _ = network_input(image, self.input, minimal_padding=False)
        return {INPUT_NAME: blob}

    def rewind(self):
        self.position = 0


def calibration_files(source, count: int) -> list[Path]:
    files, _ = expand_image_paths([source])
    if not files:
        raise ExportError(f"{source}: no calibration images found")
    step = max(len(files) // count, 1)
    return files[::step][:count]


def quantize_int8(fp32_path, out_path, calibration_images, input_spec: dict, count: int = 32) -> Path:
    """Static INT8 (QDQ, per-channel weights, 99.999th-percentile activation ranges) calibrated
    on `count` images of a folder. A few head layers stay in float, see `float_nodes`."""
    require("onnx", "INT8 quantization")
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    reader = _CalibrationImages(calibration_files(calibration_images, count), input_spec)
    out_path = Path(out_path)
    with temporary_sibling(out_path) as prepared, temporary_sibling(out_path) as tmp:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(tmp), reader, quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
            calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=float_nodes(prepared))
        publish(tmp, out_path)
    return out_path


def float_nodes(onnx_path) -> list[str]:
    """Nodes left in float: the last convolution of every head branch, the second keypoint
    convolution on the coarser levels, everything after the last convolution, and everything
    fed by those.

    They produce box distances, scores and keypoint offsets; 8-bit steps there move keypoints
    by pixels. Their consumers stay in float too: quantizing the concatenation of a level's
    outputs puts box logits, scores and keypoints on one 8-bit scale (measured: AP 0.428 on the
    dev set and 0.423 on coco-mini train with it quantized, 0.444 and 0.474 without; fp32 0.446
    and 0.481).
    """
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    convs = [i for i, node in enumerate(graph.node) if node.op_type == "Conv"]
    if not convs:
        return []
    sensitive = re.compile(r"/cv[234]\.\d+\.2/Conv$|/cv4\.([1-9]\d*)/cv4\.\1\.1/")
    names, float_tensors = [], set()
    for index, node in enumerate(graph.node):  # ONNX keeps nodes in topological order
        if index > convs[-1] or sensitive.search(node.name) or float_tensors.intersection(node.input):
            names.append(node.name)
            float_tensors.update(node.output)
    return names
