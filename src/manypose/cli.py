"""Command line: a thin layer over the Python API (`manypose --help`)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from .decoders.options import DecoderOptions
from .runtime import BACKENDS, DEFAULT_BACKEND

DEFAULTS = DecoderOptions()

EXIT_FAILURES = 1  # some inputs failed; the rest were processed
EXIT_USAGE = 2
DEBUG_ENV = "MANYPOSE_DEBUG"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = _one_line_warning
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, LookupError, OSError, RuntimeError, ImportError) as error:  # messages name the file
        print(f"manypose {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, (ValueError, LookupError)) else EXIT_FAILURES
    except MemoryError:
        print(f"manypose {args.command}: error: out of memory (a smaller --input-size or fewer --threads "
              "needs less)", file=sys.stderr)
        return EXIT_FAILURES
    except Exception as error:  # a bug of ours: one line, the traceback on request
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"manypose {args.command}: error: unexpected {type(error).__name__}: {error} "
              f"(set {DEBUG_ENV}=1 for the traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILURES


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"manypose: warning: {message}\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manypose",
        description="Multi-person 2D human pose estimation. Works offline with the bundled "
                    "default model (yolo11n-pose, COCO 17 keypoints).")
    parser.add_argument("--version", action="version", version=f"manypose {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_predict(commands)
    _add_video(commands)
    _add_eval(commands)
    _add_train(commands)
    _add_bench(commands)
    _add_export(commands)
    _add_convert(commands)
    _add_models(commands)
    return parser


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _version() -> str:
    from . import __version__

    return __version__


def _add_model_options(parser, default_threshold: float | None) -> None:
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="model name (see `manypose models`), model folder, or a checkpoint to convert "
                             "on the fly (.pt, .pth, .pkl, .pb, TensorFlow.js .json; default: the bundled yolo11n-pose)")
    parser.add_argument("--score-threshold", type=float, default=default_threshold, metavar="S",
                        help=f"drop people scored below S (default {default_threshold or DEFAULTS.score_threshold})")
    parser.add_argument("--iou-threshold", type=float, default=None, metavar="T",
                        help="boxes overlapping a better one by more than T are duplicates (default "
                             f"{DEFAULTS.iou_threshold}; models without box NMS refuse it)")
    parser.add_argument("--complete-poses", action="store_true", default=None,
                        help="give every person found all its keypoints, the weak ones at low confidence, as "
                             "OpenPifPaf's --force-complete-pose (CIF/CAF models; raises their COCO AP, the "
                             "setting of OpenPifPaf's evaluation)")
    parser.add_argument("--input-size", type=positive_int, default=None, metavar="PX",
                        help="long side of the network input in pixels, a multiple of the model's stride "
                             "(default: the model's, 640 for YOLO-pose)")
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND,
                        help=f"inference engine (default {DEFAULT_BACKEND}; torch is needed only "
                             "for the torch backend and to export new models)")
    parser.add_argument("--int8", action="store_true",
                        help="run the statically quantized INT8 model (onnxruntime, openvino); made and "
                             "cached on first use for models that do not ship one")
    parser.add_argument("--calibration-images", metavar="DIR",
                        help="training images to calibrate INT8 with, used once for models without a "
                             "shipped INT8 form (default: the bundled demo image)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for the network, in all (default: one per core). On onnxruntime, "
                             "folders run up to 4 images side by side with the threads split between them")
    parser.add_argument("--max-image-pixels", type=positive_int, default=None, metavar="N",
                        help="refuse images whose header declares more pixels (default 2^28, 16384 x 16384)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _estimator(args):
    from . import load
    from .data.images import MAX_PIXELS_ENV

    if args.max_image_pixels:
        os.environ[MAX_PIXELS_ENV] = str(args.max_image_pixels)
    return load(args.model, score_threshold=args.score_threshold, iou_threshold=args.iou_threshold,
                complete_poses=args.complete_poses, input_size=args.input_size, threads=args.threads,
                backend=args.backend, int8=args.int8, calibration_images=args.calibration_images)


def _add_predict(commands) -> None:
    p = commands.add_parser(
        "predict", help="find people and their keypoints in images",
        description="Predict poses on image files or folders. Bad files are reported and skipped; "
                    "the exit code is 1 if any input failed.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    _add_model_options(p, default_threshold=None)
    p.add_argument("--json-output", metavar="FILE",
                   help="write one JSON entry per image: file, size and poses (box, score, "
                        "keypoints as [x, y, confidence]); failed images carry an 'error'; - for stdout")
    p.add_argument("--image-output", metavar="DIR",
                   help="write each image with its skeletons drawn into DIR, as NAME.jpg (a name taken "
                        "twice in the batch gets the input's suffix: a_png.jpg); never over an input")
    p.set_defaults(run=_run_predict)


def _run_predict(args) -> int:
    from .predict import plan_batch, predict_batch

    batch = plan_batch(args.images, args.json_output, args.image_output)  # output problems before loading
    report = predict_batch(_estimator(args), batch, progress=not args.quiet,
                           on_error=lambda message: print(f"error: {message}", file=sys.stderr))
    if not args.json_output:
        for entry in report.entries:
            if "poses" in entry:
                scores = ", ".join(f"{p['score']:.2f}" for p in entry["poses"])
                count = len(entry["poses"])
                print(f"{entry['file']}: {count} {'person' if count == 1 else 'people'}"
                      + (f" (scores {scores})" if scores else ""))
    if args.json_output:
        print(f"wrote {args.json_output}", file=sys.stderr)
    if args.image_output:
        print(f"wrote the drawn images into {args.image_output}", file=sys.stderr)
    done = len(report.entries) - len(report.failures)
    if report.failures:
        print(f"{len(report.failures)} of {len(report.entries)} inputs failed; {done} processed",
              file=sys.stderr)
        return EXIT_FAILURES
    return 0


def _add_video(commands) -> None:
    from .track import TrackerOptions

    tracking = TrackerOptions()
    p = commands.add_parser(
        "video", help="poses in a video, image sequence, camera or stream, with persistent track ids",
        description="Find and track people frame by frame. SOURCE is a video file (.mp4, .avi, .mkv, ...), "
                    "an animated GIF, a folder or glob of frames ('frames/*.jpg', in natural order), a camera "
                    "index (0) or a stream URL (rtsp://...). Every frame read gets one output frame and one "
                    "JSON line; a frame that cannot be decoded is reported and skipped, its line says so. "
                    "Ctrl-C stops early and finishes the outputs up to the last frame done.")
    p.add_argument("source", metavar="SOURCE", help="video file, GIF, folder or glob of images, camera index or URL")
    _add_model_options(p, default_threshold=None)
    p.add_argument("--video-output", metavar="FILE",
                   help="write the annotated video (.mp4, .mkv, .mov, .avi): the source's size and frame rate; "
                        "H.264 that browsers play when PyAV is installed (pip install 'manypose[video]'), "
                        "else OpenCV's MPEG-4")
    p.add_argument("--json-output", metavar="FILE.jsonl",
                   help="write one JSON line per frame: frame index, timestamp in seconds, poses (track_id, "
                        "score, box, keypoints as [x, y, confidence]), and 'error' for unreadable frames; - for stdout")
    p.add_argument("--start", type=_position, default=0, metavar="N|Ts",
                   help="first frame: a frame number (120) or a time in seconds (4.5s); default 0")
    p.add_argument("--end", type=_position, default=None, metavar="N|Ts",
                   help="stop before this frame number or time (default: the end of the source)")
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N", help="take at most N frames")
    p.add_argument("--frame-stride", type=positive_int, default=1, metavar="K",
                   help="take every K-th frame (the output runs at the source's rate / K)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of a folder or glob of images (default 30); videos carry their own")
    p.add_argument("--track", action=argparse.BooleanOptionalAction, default=True,
                   help="persistent person ids, ByteTrack-style (default on); --no-track runs frames independently")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True,
                   help="One-Euro smoothing of tracked keypoints, in seconds from the frame timestamps (default on)")
    p.add_argument("--track-buffer", type=int, default=tracking.max_lost_frames, metavar="N",
                   help=f"frames a lost person keeps their id (default {tracking.max_lost_frames})")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (q or Esc quits)")
    p.set_defaults(run=_run_video)


def _position(text: str):
    from .video import parse_position

    try:
        return parse_position(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _run_video(args) -> int:
    from tqdm import tqdm

    from .track import PoseTracker, TrackerOptions
    from .video import FrameRange, Outputs, open_source, run_video
    from .video.pipeline import check_display

    frame_range = FrameRange(args.start, args.end, args.max_frames, args.frame_stride)
    options = TrackerOptions(smooth=args.smooth, max_lost_frames=args.track_buffer)
    if args.track and args.score_threshold is None:
        args.score_threshold = options.low_score  # the tracker's second stage needs the doubtful people
    if args.show:
        check_display()
    source = open_source(args.source, fps=args.fps)
    outputs = Outputs(args.video_output, args.json_output, source.fps / args.frame_stride, source.size)
    estimator = _estimator(args)
    tracker = PoseTracker(estimator.skeleton, options, estimator.keypoint_threshold) if args.track else None
    report = run_video(estimator, source, frame_range, tracker, outputs, show=args.show, progress=not args.quiet,
                       on_error=lambda message: tqdm.write(f"error: {message}", file=sys.stderr))
    ids = f", {len(report.track_ids)} track ids" if args.track else ""
    people = "person" if report.most_people == 1 else "people"
    print(f"{report.frames} frames at {report.fps:.1f} frames/s, at most {report.most_people} {people} in a "
          f"frame{ids}" + (f"; {report.failed} frames could not be read" if report.failed else ""), file=sys.stderr)
    for path, what in ((args.video_output, "the annotated video"), (args.json_output, "the JSON lines")):
        if path and report.frames and path != "-":
            print(f"wrote {what} to {path}", file=sys.stderr)
    if report.interrupted:
        print(f"stopped early after {report.frames} frames; the outputs hold them all", file=sys.stderr)
        return 130
    return EXIT_FAILURES if report.failed else 0


def _add_eval(commands) -> None:
    p = commands.add_parser(
        "eval", help="COCO keypoint AP of a model on an annotated image set",
        description="Run the model on every image of a COCO keypoint annotation file and print "
                    "pycocotools' keypoint summary (OKS AP).")
    p.add_argument("--annotations", required=True, metavar="COCO.json", help="COCO keypoint annotations")
    p.add_argument("--images", required=True, metavar="DIR", help="folder holding the annotated images")
    _add_model_options(p, default_threshold=0.01)
    p.add_argument("--json-output", metavar="FILE", help="write the predictions in COCO results format")
    p.add_argument("--stats-output", metavar="FILE",
                   help="write the stats as JSON (AP, AP50, AP75, APm, APl, AR, images, seconds_per_image)")
    p.add_argument("--flip", action="store_true",
                   help="test-time augmentation: also run each image mirrored (left and right swapped back) "
                        "and merge the poses; about 3x the time (yolo11n-pose dev AP 0.446 -> 0.477)")
    p.add_argument("--scales", type=_scales, default=(1.0,), metavar="S,S,...",
                   help="test-time augmentation: also run at these multiples of the input size, e.g. 1,0.75,1.25, "
                        "and merge the poses")
    p.set_defaults(run=_run_eval)


def _scales(text: str) -> tuple[float, ...]:
    try:
        scales = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 1,0.75,1.25") from None
    return scales


def _run_eval(args) -> int:
    from .atomic_files import check_writable
    from .evaluate import evaluate

    for path, what in ((args.json_output, "the predictions"), (args.stats_output, "the stats")):
        if path:
            check_writable(path, what)
    estimator = _estimator(args)
    if args.flip or args.scales != (1.0,):
        from .tta import AugmentedEstimator

        estimator = AugmentedEstimator(estimator, flip=args.flip, scales=args.scales)
    stats, summary, failures = evaluate(estimator, args.annotations, args.images,
                                        args.json_output, args.stats_output, progress=not args.quiet)
    for message in failures:
        print(f"error: {message}", file=sys.stderr)
    print(summary, end="")
    print(f"AP {stats['AP']:.3f} on {stats['images']} images, "
          f"{stats['seconds_per_image'] * 1000:.1f} ms/image ({stats['model']})")
    return EXIT_FAILURES if failures else 0


def _add_train(commands) -> None:
    p = commands.add_parser(
        "train", help="fine-tune or train a model on COCO-format keypoint data",
        description="Train on a COCO-format keypoint data set (any keypoint set: a model is fine-tuned onto "
                    "another one with its keypoint layers rebuilt). After every epoch the moving average of the "
                    "weights is evaluated on the validation set and written as OUTPUT/last and OUTPUT/best, model "
                    "folders that --model accepts, with OUTPUT/log.jsonl and OUTPUT/curves.png. Defaults are safe "
                    "for fine-tuning small data sets. Several processes: torchrun --nproc_per_node N -m manypose.cli "
                    "train ... (gloo on CPUs, NCCL on GPUs). Needs torch.")
    p.add_argument("--model", default=None, metavar="NAME|PATH", help="model to start from (default: yolo11n-pose)")
    p.add_argument("--train-annotations", required=True, type=Path, metavar="COCO.json")
    p.add_argument("--train-images", required=True, type=Path, metavar="DIR")
    p.add_argument("--val-annotations", type=Path, metavar="COCO.json", help="validation annotations (AP per epoch)")
    p.add_argument("--val-images", type=Path, metavar="DIR")
    p.add_argument("--output", required=True, type=Path, metavar="DIR", help="where last/, best/ and the log go")
    p.add_argument("--epochs", type=positive_int, default=10, help="default 10")
    p.add_argument("--batch-size", type=positive_int, default=8, help="per process (default 8)")
    p.add_argument("--repeats", type=positive_int, default=1,
                   help="passes over the images per epoch (small data sets: fewer evaluations and checkpoints)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd",
                   help="sgd (Nesterov momentum; default: its steps follow the gradients, gentle on trained weights) "
                        "or adamw")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: SGD 1e-3 from trained weights, 1e-2 from scratch; AdamW 1e-4 and "
                        "1e-3), after a linear warm-up from 0 over a tenth of the run, then a cosine decay to a tenth")
    p.add_argument("--size", type=positive_int, default=640, help="training input size, square (default 640)")
    p.add_argument("--mosaic", type=float, default=0.0, help="share of samples made as 4-image mosaics (default 0)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (CPUs and GPUs that have it)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output where it stopped")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--workers", type=int, default=2, help="data loading processes (default 2)")
    p.add_argument("--seed", type=int, default=0, help="data order and augmentation (default 0)")
    p.add_argument("--save-samples", type=Path, metavar="DIR", help="write augmented samples with their targets drawn")
    p.add_argument("--dry-run", action="store_true", help="prepare (and --save-samples) without training")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    from .optional import require

    require("torch", "training")
    from .data.augment import AugmentOptions
    from .train import Trainer, TrainOptions

    options = TrainOptions(args.train_annotations, args.train_images, args.output, model=args.model,
                           val_annotations=args.val_annotations, val_images=args.val_images, epochs=args.epochs,
                           batch_size=args.batch_size, repeats=args.repeats, optimizer=args.optimizer, lr=args.lr,
                           amp=args.amp,
                           resume=args.resume, seed=args.seed, workers=args.workers, device=args.device,
                           augment=AugmentOptions(size=args.size, mosaic=args.mosaic))
    trainer = Trainer(options)
    print(f"{len(trainer.data)} images, {trainer.data.num_people} people ({trainer.heads[0].skeleton.name}, "
          f"{len(trainer.heads[0].skeleton)} keypoints); from {trainer.base.name}"
          + (f", {len(trainer.initialised)} weights initialised for the new keypoint set" if trainer.initialised else "")
          + f"; lr {trainer.schedule.lr:g}, {trainer.steps_per_epoch} steps per epoch", file=sys.stderr)
    if args.save_samples:
        print(f"wrote {len(trainer.save_samples(args.save_samples))} augmented samples to {args.save_samples}",
              file=sys.stderr)
    if args.dry_run:
        return 0
    result = trainer.run(progress=not args.quiet)
    last = result.log[-1] if result.log else {}
    ap = f", validation AP {last['AP']:.3f}" if "AP" in last else ""
    print(f"trained {last.get('epoch', 0)} epochs{ap}; wrote {result.last}" + (f" and {result.best}" if result.best else ""),
          file=sys.stderr)
    return 0


def _add_bench(commands) -> None:
    p = commands.add_parser(
        "bench", help="speed: end-to-end ms/image against the network alone",
        description="Run the pipeline over a folder of images after a warm-up and report, in ms/image: "
                    "end to end (a pass over the folder, file to poses, as predict and eval run it, with "
                    "several images in flight where the backend gains from it; median over the rounds), "
                    "latency (one image alone, file to poses) and the network alone (medians over the "
                    "images), and their ratios.")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of images to time")
    _add_model_options(p, default_threshold=None)
    p.add_argument("--rounds", type=positive_int, default=2, help="passes over the folder (default 2)")
    p.add_argument("--stats-output", metavar="FILE",
                   help="write the figures as JSON (e2e_ms_median, latency_ms_median, network_ms_median, their "
                        "ratios, images, images_in_flight, backend, int8)")
    p.set_defaults(run=_run_bench)


def _run_bench(args) -> int:
    from .bench import benchmark
    from .atomic_files import atomic_write_text, check_writable

    if args.stats_output:
        check_writable(args.stats_output, "the stats")
    stats = benchmark(_estimator(args), args.images, rounds=args.rounds)
    print(f"{stats['model']} on {stats['backend']}{' INT8' if stats['int8'] else ''}, {stats['images']} images, "
          f"{stats['images_in_flight']} in flight:\n"
          f"  end to end {stats['e2e_ms_median']:.1f} ms/image (folder pass), "
          f"latency {stats['latency_ms_median']:.1f} ms (one image alone), network {stats['network_ms_median']:.1f} ms\n"
          f"  ratio to network: end to end {stats['e2e_over_network']:.2f}, latency {stats['latency_over_network']:.2f}")
    if args.stats_output:
        atomic_write_text(args.stats_output, json.dumps(stats, indent=1) + "\n")
    return 0


def _add_export(commands) -> None:
    p = commands.add_parser(
        "export", help="export a model to ONNX (optionally INT8)",
        description="Export a model to ONNX with dynamic height and width, checking that ONNX Runtime's "
                    "outputs equal torch's. With --int8, write a statically quantized model instead, "
                    "calibrated on --calibration-images (a few dozen training images), or by default "
                    "on the bundled demo image in 8 placements. Needs torch and onnx.")
    p.add_argument("model", metavar="MODEL", help="model name, model folder, or checkpoint (.pt, .pth, .pkl, .pb, TensorFlow.js .json)")
    p.add_argument("out", metavar="OUT.onnx", help="file to write")
    p.add_argument("--int8", action="store_true", help="write the INT8 model instead")
    p.add_argument("--calibration-images", metavar="DIR",
                   help="images to calibrate INT8 with (default: the bundled demo image)")
    p.add_argument("--calibration-count", type=positive_int, default=32, help="how many of them (default 32)")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    import tempfile

    from . import export
    from .zoo import find_model

    model = find_model(args.model)
    if not args.int8:
        export.export_onnx(model, args.out)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            fp32 = export.export_onnx(model, f"{scratch}/fp32.onnx")
            export.quantize_int8(model, fp32, args.out, args.calibration_images, count=args.calibration_count)
    print(f"wrote {args.out}")
    return 0


def _add_convert(commands) -> None:
    p = commands.add_parser(
        "convert", help="convert a published checkpoint into a manypose model folder",
        description="Convert a published checkpoint into a manypose model folder (model.json + "
                    "weights.safetensors): an Ultralytics YOLOv8-pose / YOLO11-pose .pt (any size), an "
                    "OpenPifPaf checkpoint (ShuffleNetV2K or ResNet, cif + caf) or a Lightweight OpenPose .pth, "
                    "read without their code and without running pickled "
                    "code, a tf-pose-estimation MobileNetV2 .pb frozen graph, read without TensorFlow, or a "
                    "PoseNet MobileNetV1 or MoveNet MultiPose Lightning TensorFlow.js graph model (.json beside "
                    "its .bin, told apart by its content), read without TensorFlow.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="the .pt, .pkl, .pth, .pb or TensorFlow.js .json file")
    p.add_argument("out", metavar="OUT", help="folder to write (created if missing)")
    p.add_argument("--name", help="model name (default: the folder name)")
    p.add_argument("--force", action="store_true", help="replace a model already in OUT")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                   help="storage type of the weights (default float16: half the size, same AP)")
    p.set_defaults(run=_run_convert)


def _run_convert(args) -> int:
    from .convert import convert

    folder = convert(args.checkpoint, args.out, name=args.name, dtype=args.dtype, force=args.force)
    print(f"wrote {folder}")
    return 0


def _add_models(commands) -> None:
    p = commands.add_parser("models", help="list bundled, local and known models",
                            description="List the bundled models, models in the local cache "
                                        "($MANYPOSE_HOME/models, default ~/.cache/manypose/models) "
                                        "and published models that load once their checkpoint is there.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_run_models)


def _run_models(args) -> int:
    from .zoo import list_models

    rows = list_models()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['where']:<16}  {row['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
