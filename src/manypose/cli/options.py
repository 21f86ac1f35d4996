"""What the commands share: exit codes, argument types, the model options and the estimator
configuration built from them (the same `EstimatorConfig` that `manypose.load` builds)."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from ..decoders.options import DecoderOptions
from ..runtime import BACKENDS, DEFAULT_BACKEND, PRECISIONS, check_threads
from ..runtime.devices import DEVICE_CHOICES, check_device
from ..track import TrackerOptions

DEFAULTS = DecoderOptions()
EXIT_FAILURES = 1  # some inputs failed; the rest were processed
EXIT_USAGE = 2


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def thread_count(text: str) -> int:
    value = _whole_number(text)
    try:
        check_threads(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def device(text: str) -> str:
    try:
        check_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def scales(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 1,0.75,1.25") from None


def add_model_options(parser, default_threshold: float | None) -> None:
    """The options that choose and configure the estimator."""
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="model name (see `manypose models`), model folder, or a checkpoint to convert "
                             "on the fly (.pt, .pth, .pkl, .pb, TensorFlow.js .json; default: the bundled yolo11n-pose)")
    parser.add_argument("--score-threshold", type=float, default=default_threshold, metavar="S",
                        help=f"drop people scored below S (default {default_threshold or DEFAULTS.score_threshold}"
                             "; when tracking, the tracker's low score, so its second stage sees the doubtful people)")
    parser.add_argument("--iou-threshold", type=float, default=None, metavar="T",
                        help="boxes overlapping a better one by more than T are duplicates (default "
                             f"{DEFAULTS.iou_threshold}; models without box NMS refuse it)")
    parser.add_argument("--root-threshold", type=float, default=None, metavar="S",
                        help="heatmap score from which a keypoint may start a person (displacement models: PoseNet, "
                             "SimplePose; default: the score threshold; other models refuse it)")
    parser.add_argument("--complete-poses", action="store_true", default=None,
                        help="give every person found all its keypoints, the weak ones at low confidence, as "
                             "OpenPifPaf's --force-complete-pose (CIF/CAF models; raises their COCO AP, the "
                             "setting of OpenPifPaf's evaluation)")
    parser.add_argument("--overwrite-tol", type=float, default=None, metavar="PX",
                        help="KAPAO models: a keypoint object replaces a person's keypoint of its class within PX "
                             "network-input pixels (default 50, KAPAO's; other models refuse it)")
    parser.add_argument("--overwrite-tol-fraction", type=float, default=None, metavar="F",
                        help="KAPAO models: the tolerance as this fraction of the person box's scale instead")
    parser.add_argument("--no-kp-dets", dest="keypoint_objects", action="store_false", default=None,
                        help="KAPAO models: the poses as the pose objects give them, no keypoint objects fused")
    parser.add_argument("--input-size", type=positive_int, default=None, metavar="PX",
                        help="long side of the network input in pixels, a multiple of the model's stride "
                             "(default: the model's, 640 for YOLO-pose)")
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND,
                        help=f"inference engine (default {DEFAULT_BACKEND}; torch is needed only "
                             "for the torch backend and to export new models)")
    parser.add_argument("--device", type=device, default="cpu", metavar="|".join(DEVICE_CHOICES),
                        help="where the network runs (default cpu): cuda needs onnxruntime-gpu (onnxruntime backend) "
                             "or a CUDA build of torch (torch backend); a GPU asked for and not usable is an error "
                             "saying why, never a quiet fall back to the CPU; auto takes the GPU when one is usable")
    parser.add_argument("--batch", type=positive_int, default=1, metavar="N",
                        help="images per network call (default 1): consecutive images whose letterboxed inputs have "
                             "the same shape run together, with the same results as one by one; mostly a gain "
                             "on GPUs, since on a CPU several single images already run side by side")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="what the network computes in: auto (default: bfloat16 on openvino on CPUs that have "
                             "it, unless the model needs float32; float32 elsewhere), fp32, or bf16 (openvino only)")
    parser.add_argument("--int8", action="store_true",
                        help="run the statically quantized INT8 model (onnxruntime, openvino); made and "
                             "cached on first use for models that do not ship one")
    parser.add_argument("--calibration-images", metavar="DIR",
                        help="training images to calibrate INT8 with, used once for models without a "
                             "shipped INT8 form (default: the bundled demo image)")
    parser.add_argument("--threads", type=thread_count, default=None,
                        help="CPU threads for the network, in all (default: one per core). On onnxruntime, "
                             "folders run up to 4 images side by side with the threads split between them")
    parser.add_argument("--max-image-pixels", type=positive_int, default=None, metavar="N",
                        help="refuse images whose header declares more pixels (default 2^28, 16384 x 16384)")
    parser.add_argument("--flip", action="store_true", default=None,
                        help="test-time augmentation: also run each image mirrored (left and right swapped back) "
                             "and merge the poses; about 3x the time (yolo11n-pose dev AP 0.446 -> 0.477)")
    parser.add_argument("--scales", type=scales, default=None, metavar="S,S,...",
                        help="test-time augmentation: also run at these multiples of the input size, e.g. 1,0.75,1.25, "
                             "and merge the poses")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args, tracker: TrackerOptions | None = None):
    """The estimator configuration the model options describe."""
    from ..config import EstimatorConfig

    return EstimatorConfig.from_given(
        args.model, backend=args.backend, int8=args.int8, calibration_images=args.calibration_images,
        input_size=args.input_size, threads=args.threads, precision=args.precision, tracker=tracker,
        device=args.device, batch_size=args.batch,
        flip=args.flip, scales=args.scales,
        score_threshold=args.score_threshold, iou_threshold=args.iou_threshold, root_threshold=args.root_threshold,
        complete_poses=args.complete_poses, overwrite_tolerance=args.overwrite_tol,
        overwrite_tolerance_fraction=args.overwrite_tol_fraction, keypoint_objects=args.keypoint_objects)


def estimator_from_args(args, tracker: TrackerOptions | None = None, device: str | None = None):
    """The estimator the options describe, on `device` in place of --device where given."""
    from ..data.images import MAX_PIXELS_ENV
    from ..loading import load_config

    if args.max_image_pixels:
        os.environ[MAX_PIXELS_ENV] = str(args.max_image_pixels)
    config = config_from_args(args, tracker)
    estimator = load_config(replace(config, device=device) if device else config)
    if (device or args.device) != "cpu":  # say where auto and a GPU ended up
        print(f"manypose: {estimator.backend.name} runs on {estimator.backend.device}", file=sys.stderr)
    return estimator


def model_inputs(model, calibration_images=None) -> list[tuple]:
    """What loading a model reads: its folder and every file in it, or its checkpoint, and the
    INT8 calibration images. A name that finds no model gives none (loading says why)."""
    from ..run_plan import image_folder_inputs
    from ..zoo import ModelNotFound, resolve

    calibration = image_folder_inputs(calibration_images, "the calibration images", "a calibration image")
    try:
        path = resolve(model)
    except ModelNotFound:
        return calibration
    files = sorted(file for file in path.iterdir() if file.is_file()) if path.is_dir() else []
    return [("the model", path)] + [("the model's file", file) for file in files] + calibration
