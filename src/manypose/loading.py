"""`manypose.load`, one straight way down: find the model, prepare what the backend runs,
open the backend, compose the estimator.

Preparation (converting a published checkpoint, exporting to ONNX, quantizing to INT8) happens
here, once, and is cached; backends only run what they are given.
"""
from __future__ import annotations

import warnings

from .config import EstimatorConfig
from .estimator import PoseEstimator
from .heads import codec_for
from .runtime import DEFAULT_BACKEND, open_backend
from .zoo import find_model


def load(name_or_path=None, backend: str = DEFAULT_BACKEND, int8: bool = False, calibration_images=None,
         input_size: int | None = None, threads: int | None = None, score_threshold: float | None = None,
         iou_threshold: float | None = None, max_detections: int | None = None,
         complete_poses: bool | None = None, root_threshold: float | None = None, flip: bool | None = None,
         scales=None, tracker=None, device: str = "cpu", precision: str = "auto",
         batch_size: int = 1, overwrite_tolerance: float | None = None,
         overwrite_tolerance_fraction: float | None = None, keypoint_objects: bool | None = None) -> PoseEstimator:
    """An estimator for a model name (see `manypose models`), a model folder, or a published
    checkpoint (converted on the fly). Decoder options left as None take their defaults (see
    decoders.options); one the model's decoder cannot honour is refused. `flip` and `scales` are
    test-time augmentation (see manypose.tta), `tracker` the TrackerOptions `track` runs with,
    `precision` auto, fp32 or bf16 (bfloat16 on the openvino backend; see manypose.runtime),
    `device` cpu, cuda, cuda:N or auto (see manypose.runtime.devices), `batch_size` the images
    one network call runs when the estimator is given several (a list, a folder, a stream).
    `overwrite_tolerance` (pixels), `overwrite_tolerance_fraction` (of the person box) and
    `keypoint_objects` set KAPAO's fusion (decoders.kapao_fusion)."""
    return load_config(EstimatorConfig.from_given(
        name_or_path, backend=backend, int8=int8, calibration_images=calibration_images, input_size=input_size,
        threads=threads, device=device, precision=precision, batch_size=batch_size, tracker=tracker, flip=flip,
        scales=scales, score_threshold=score_threshold, iou_threshold=iou_threshold, max_detections=max_detections,
        complete_poses=complete_poses, root_threshold=root_threshold, overwrite_tolerance=overwrite_tolerance,
        overwrite_tolerance_fraction=overwrite_tolerance_fraction, keypoint_objects=keypoint_objects))


def load_config(config: EstimatorConfig) -> PoseEstimator:
    """The estimator a configuration describes."""
    model = find_model(config.model)
    codec = codec_for(model.heads)
    decoder = codec.decoder(config.decoder)
    input_spec = model.input_spec.with_size(config.input_size) if config.input_size else model.input_spec
    runnable = runnable_form(model, config.backend, config.int8, config.calibration_images)
    backend = open_backend(config.backend, runnable, codec, config.threads, config.precision, config.device)
    if config.batch_size > 1 and backend.fixed_batch:
        warnings.warn(f"{model.name}: its network was exported for batches of {backend.fixed_batch}; "
                      "images run one per call", stacklevel=2)
    return PoseEstimator(model.name, input_spec, backend, codec, decoder, config)


def runnable_form(model, backend: str, int8: bool = False, calibration_images=None):
    """What `backend` runs: the model's ONNX file (shipped, or made once and cached), or for
    the torch backend its network with the weights loaded."""
    if backend == "torch":
        from .optional import require

        require("torch", "the torch backend")
        from .models import inference_network

        return inference_network(model)
    from .export import onnx_file

    return onnx_file(model, int8, calibration_images)
