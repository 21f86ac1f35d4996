"""`manypose.load`, one straight way down: find the model, prepare what the backend runs,
open the backend, compose the estimator.

Preparation (converting a published checkpoint, exporting to ONNX, quantizing to INT8) happens
here, once, and is cached; backends only run what they are given.
"""
from __future__ import annotations

from .decoders.options import DecoderOptions
from .estimator import PoseEstimator
from .heads import codec_for
from .runtime import DEFAULT_BACKEND, check_backend, check_threads, open_backend
from .zoo import find_model


def load(name_or_path=None, backend: str = DEFAULT_BACKEND, int8: bool = False, calibration_images=None,
         input_size: int | None = None, threads: int | None = None, score_threshold: float | None = None,
         iou_threshold: float | None = None, max_detections: int | None = None,
         complete_poses: bool | None = None) -> PoseEstimator:
    """An estimator for a model name (see `manypose models`), a model folder, or a published
    checkpoint (converted on the fly). Decoder options left as None take their defaults
    (see decoders.options); one the model's decoder cannot honour is refused."""
    check_backend(backend, int8)
    check_threads(threads)
    model = find_model(name_or_path)
    codec = codec_for(model.heads)
    options = DecoderOptions.from_given(score_threshold=score_threshold, iou_threshold=iou_threshold,
                                        max_detections=max_detections, complete_poses=complete_poses)
    decoder = codec.decoder(options)
    input_spec = model.input_spec.with_size(input_size) if input_size else model.input_spec
    runnable = runnable_form(model, backend, int8, calibration_images)
    return PoseEstimator(model.name, input_spec, open_backend(backend, runnable, codec, threads), codec, decoder,
                         int8)


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
