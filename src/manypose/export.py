"""A model's ONNX forms: export (dynamic height and width) and static INT8 quantization, with
output checks, and the cache that makes each once for models that do not ship them.

Needs torch (export) and onnx (quantization); running the results needs only onnxruntime.
What depends on a head's layout (which layers INT8 keeps in float, the output names) comes from
the model's codec (see heads).
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np

from .atomic_files import publish, temporary_sibling
from .data.images import expand_image_paths, read_image
from .heads import codec_for
from .modelfile import INT8_ONNX_FILE, ONNX_FILE, reading_model_file
from .optional import require

OPSET = 17  # well supported by ONNX Runtime's CPU kernels and its quantizer
INPUT_NAME = "images"
LETTERBOX_CHECK_SHAPES = ((1, 3, 448, 640), (1, 3, 640, 448))
CALIBRATION_ENV = "MANYPOSE_CALIBRATION_IMAGES"
# images whose activations the calibrator holds at once: about 0.3 GB each for yolo11n at 640
CALIBRATION_BATCH = 4


class ExportError(RuntimeError):
    pass


def check_shapes(input_spec) -> list[tuple[int, ...]]:
    """Input shapes to export and check with: a landscape and a portrait letterbox, or the
    fixed size of models that stretch their input."""
    fixed = input_spec.fixed_shape
    if fixed:
        return [(1, 3, *fixed)]
    extra = input_spec.size_remainder
    return [(batch, channels, height + extra, width + extra) for batch, channels, height, width in LETTERBOX_CHECK_SHAPES]


def export_onnx(model_file, out_path) -> Path:
    """Write the network (batch norms folded) as ONNX, one named output per head output; check
    it against torch. Height and width are dynamic, except for models with a fixed input size."""
    torch = require("torch", "exporting to ONNX")
    from .models import inference_network

    network = inference_network(model_file)
    shapes = check_shapes(model_file.input_spec)
    output_names = list(codec_for(model_file.heads).output_names)
    dynamic = {0: "batch"} if len(shapes) == 1 else {0: "batch", 2: "height", 3: "width"}
    out_path = Path(out_path)
    with temporary_sibling(out_path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            network, (torch.zeros(shapes[0]),), str(tmp), input_names=[INPUT_NAME],
            output_names=output_names, opset_version=OPSET, dynamo=False,
            dynamic_axes={INPUT_NAME: dynamic, **{name: {0: "batch"} for name in output_names}})
        check_against_torch(network, tmp, shapes)
        publish(tmp, out_path)
    return out_path


def check_against_torch(network, onnx_path, shapes=LETTERBOX_CHECK_SHAPES, atol: float = 0.01) -> float:
    """Largest difference between ONNX Runtime's and torch's outputs on random inputs."""
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    generator = np.random.default_rng(0)
    for shape in shapes:
        blob = generator.random(shape, dtype=np.float32)
        with torch.no_grad():
            expected = network(torch.from_numpy(blob))
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        actual = session.run(None, {INPUT_NAME: blob})
        if len(actual) != len(expected):
            raise ExportError(f"ONNX has {len(actual)} outputs, torch {len(expected)}; not exporting")
        for ours, wanted in zip(actual, expected):
            worst = max(worst, float(np.abs(ours - wanted.numpy()).max()))
    if worst > atol:
        raise ExportError(f"ONNX output differs from torch by {worst:.4f} (> {atol}); not exporting")
    return worst


class _CalibrationImages:
    """Feeds calibration images, prepared as at inference, to ONNX Runtime's quantizer; in
    ranges of a few images (`set_range`), so that the calibrator folds each range's activations
    into its histograms before the next: memory stays bounded whatever the image count."""

    def __init__(self, images, input_spec):
        """`images`: paths, or BGR arrays."""
        self.images, self.input_spec = list(images), input_spec
        self.position, self.end = 0, len(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.position, self.end = start_index, min(end_index, len(self.images))

    def get_next(self):
        if self.position >= self.end:
            return None
        image = self.images[self.position]
        image = image if isinstance(image, np.ndarray) else read_image(image)
        self.position += 1
        # one shape for every image (square letterboxes): histogram calibrators stack the activations
        blob, _ = self.input_spec.prepare(image, minimal_padding=False)
        return {INPUT_NAME: blob}


def calibration_set(source, count: int) -> list:
    """Up to `count` images of a folder, spread over it; without a folder, the bundled demo
    image in 8 placements (see `demo_variants`)."""
    if source is None:
        return demo_variants()
    files, _ = expand_image_paths([source])
    if not files:
        raise ExportError(f"{source}: no calibration images found")
    step = max(len(files) // count, 1)
    return files[::step][:count]


def demo_variants() -> list[np.ndarray]:
    """The bundled demo image whole, and at a half and a third of its size placed on a wider
    grey canvas, each also mirrored: people at several scales with background around them.
    Measured for yolo11n-pose (on an AVX2 CPU): INT8 dev AP 0.423 and train 0.453 calibrated
    on these, 0.429 and 0.452 on 32 coco-mini train images."""
    from .zoo import DEMO_IMAGE

    image = read_image(DEMO_IMAGE)
    height, width = image.shape[:2]
    variants = []
    for view in (image, np.ascontiguousarray(image[:, ::-1])):
        variants.append(view)
        for scale, (x, y) in ((0.5, (0, 0)), (0.5, (width // 2, height // 2)), (0.35, (width // 4, height // 8))):
            canvas = np.full((height, int(width * 1.6), 3), 114, np.uint8)
            small = cv2.resize(view, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
            variants.append(canvas)
    return variants


def calibration_stride(count: int) -> int:
    """Images per calibration range: at most CALIBRATION_BATCH, and a divisor of the count (ONNX
    Runtime's strided calibration wants equal ranges)."""
    return max(size for size in range(1, min(count, CALIBRATION_BATCH) + 1) if count % size == 0)


def quantize_int8(model_file, fp32_path, out_path, calibration_source=None, count: int = 32) -> Path:
    """Static INT8 (QDQ, per-channel weights, 99.999th-percentile activation ranges) of the
    model's exported `fp32_path`, calibrated on `count` images of a folder (None: the bundled
    demo image, see `calibration_set`). Layers the model's codec names stay in float, see
    `float_nodes`; the layers reading the input have 7-bit weights, see `input_layer_overrides`."""
    require("onnx", "INT8 quantization")
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    _check_readable(fp32_path)
    reader = _CalibrationImages(calibration_set(calibration_source, count), model_file.input_spec)
    sensitive = codec_for(model_file.heads).float_layers()
    out_path = Path(out_path)
    with temporary_sibling(out_path) as prepared, temporary_sibling(out_path) as tmp:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(tmp), reader, quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
            calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=float_nodes(prepared, sensitive),
            extra_options={"CalibStridedMinMax": calibration_stride(len(reader)),
                           "TensorQuantOverrides": input_layer_overrides(prepared)})
        publish(tmp, out_path)
    return out_path


def _check_readable(onnx_path) -> None:
    """Refuse a damaged ONNX file before quantizing it: it may be a model folder's own model.onnx,
    the user's file to fix."""
    import onnx

    with reading_model_file(onnx_path, "unreadable ONNX model"):
        onnx.load(str(onnx_path), load_external_data=False)


def input_layer_overrides(onnx_path) -> dict:
    """7-bit weights (in [-64, 64]) for the convolutions that read the network's input, as the
    quantizer's tensor overrides.

    On CPUs without VNNI, ONNX Runtime's uint8 x int8 kernels add pairs of products in int16
    (vpmaddubsw), which saturates above 32767. The image fills the whole uint8 range, so the first
    convolution saturates on bright pixels: measured for yolo11n-pose under QEMU's Haswell (AVX2)
    with each layer fed the same input, 22% of its outputs moved, while no other layer's moved
    more than one in ten thousand; dev AP 0.426 against 0.444 with VNNI. With 7 bits no pair can
    exceed int16 (2 x 255 x 64 = 32640); the other layers keep 8 bits, as 7 everywhere costs AP
    where VNNI computes exactly (dev 0.432 and train 0.458 against 0.438 and 0.469).
    """
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    return {node.input[1]: [{"axis": 0, "reduce_range": True}] for node in graph.node
            if node.op_type == "Conv" and node.input[0] == INPUT_NAME}


def float_nodes(onnx_path, sensitive=None) -> list[str]:
    """Nodes left in float: those whose names match `sensitive` (the codec's layers where 8-bit
    steps would move keypoints by pixels), everything after the last convolution (decoding,
    concatenation of outputs), and everything fed by those.

    The consumers stay in float too: for YOLO-pose, quantizing the concatenation of a level's
    outputs puts box logits, scores and keypoints on one 8-bit scale (measured: AP 0.428 on the
    dev set and 0.423 on coco-mini train with it quantized, 0.444 and 0.474 without; fp32 0.446
    and 0.481).
    """
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    convs = [i for i, node in enumerate(graph.node) if node.op_type == "Conv"]
    if not convs:
        return []
    names, float_tensors = [], set()
    for index, node in enumerate(graph.node):  # ONNX keeps nodes in topological order
        if index > convs[-1] or (sensitive and sensitive.search(node.name)) or float_tensors.intersection(node.input):
            names.append(node.name)
            float_tensors.update(node.output)
    return names


def exported_cache_dir() -> Path:
    from .zoo import cache_dir

    return cache_dir().parent / "exported"


def onnx_file(model_file, int8: bool = False, calibration_images=None) -> Path:
    """The ONNX file to run: shipped beside the model, or exported (and quantized) once into
    the cache on first use."""
    file_name = INT8_ONNX_FILE if int8 else ONNX_FILE
    if model_file.folder is not None and (model_file.folder / file_name).is_file():
        return model_file.folder / file_name
    model_file.check_weights_present()
    cached = exported_cache_dir() / f"{model_file.name}-{model_file.identity[:16]}-{file_name}"
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    if not int8:
        print(f"manypose: exporting {model_file.name} to ONNX once, cached as {cached}", file=sys.stderr)
        return export_onnx(model_file, cached)
    calibration_images = calibration_images or os.environ.get(CALIBRATION_ENV)
    source = calibration_images or "the bundled demo image (give training images with --calibration-images " \
                                   f"DIR or ${CALIBRATION_ENV} for the best accuracy)"
    print(f"manypose: quantizing {model_file.name} to INT8 once, calibrated on {source}, "
          f"cached as {cached}", file=sys.stderr)
    return quantize_int8(model_file, onnx_file(model_file), cached, calibration_images)
