"""Command line: a thin layer over the Python API (`manypose --help`)."""
from __future__ import annotations

import argparse
import json
import sys

EXIT_FAILURES = 1  # some inputs failed; the rest were processed
EXIT_USAGE = 2


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, LookupError, OSError) as error:  # our errors carry the file name
        print(f"manypose {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE if not isinstance(error, OSError) else EXIT_FAILURES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manypose",
        description="Multi-person 2D human pose estimation. Works offline with the bundled "
                    "default model (yolo11n-pose, COCO 17 keypoints).")
    parser.add_argument("--version", action="version", version=f"manypose {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_predict(commands)
    _add_eval(commands)
    _add_convert(commands)
    _add_models(commands)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _add_model_options(parser, default_threshold: float) -> None:
    parser.add_argument("--model", default=None, metavar="NAME|PATH",
                        help="model name (see `manypose models`), model folder or Ultralytics .pt "
                             "(default: the bundled yolo11n-pose)")
    parser.add_argument("--score-threshold", type=float, default=default_threshold, metavar="S",
                        help=f"drop people scored below S (default {default_threshold})")
    parser.add_argument("--iou-threshold", type=float, default=0.7, metavar="T",
                        help="boxes overlapping a better one by more than T are duplicates (default 0.7)")
    parser.add_argument("--input-size", type=int, default=None, metavar="PX",
                        help="long side of the network input in pixels (default: the model's, 640)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the network")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _estimator(args):
    from . import load

    return load(args.model, score_threshold=args.score_threshold, iou_threshold=args.iou_threshold,
                input_size=args.input_size, threads=args.threads)


def _add_predict(commands) -> None:
    p = commands.add_parser(
        "predict", help="find people and their keypoints in images",
        description="Predict poses on image files or folders. Bad files are reported and skipped; "
                    "the exit code is 1 if any input failed.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    _add_model_options(p, default_threshold=0.25)
    p.add_argument("--json-output", metavar="FILE",
                   help="write one JSON entry per image: file, size and poses (box, score, "
                        "keypoints as [x, y, confidence]); failed images carry an 'error'")
    p.add_argument("--image-output", metavar="DIR", help="write each image with its skeletons drawn into DIR")
    p.set_defaults(run=_run_predict)


def _run_predict(args) -> int:
    from .predict import predict_files

    estimator = _estimator(args)
    report = predict_files(estimator, args.images, args.json_output, args.image_output,
                           progress=not args.quiet, on_error=lambda m: print(f"error: {m}", file=sys.stderr))
    if not args.json_output:
        for entry in report.entries:
            if "poses" in entry:
                scores = ", ".join(f"{p['score']:.2f}" for p in entry["poses"])
                print(f"{entry['file']}: {len(entry['poses'])} people" + (f" (scores {scores})" if scores else ""))
    done = len(report.entries) - len(report.failures)
    if report.failures:
        print(f"{len(report.failures)} of {len(report.entries)} inputs failed; {done} processed",
              file=sys.stderr)
        return EXIT_FAILURES
    return 0


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
    p.set_defaults(run=_run_eval)


def _run_eval(args) -> int:
    from .evaluate import evaluate

    stats, summary, failures = evaluate(_estimator(args), args.annotations, args.images,
                                        args.json_output, args.stats_output, progress=not args.quiet)
    for message in failures:
        print(f"error: {message}", file=sys.stderr)
    print(summary, end="")
    print(f"AP {stats['AP']:.3f} on {stats['images']} images, "
          f"{stats['seconds_per_image'] * 1000:.1f} ms/image ({stats['model']})")
    return EXIT_FAILURES if failures else 0


def _add_convert(commands) -> None:
    p = commands.add_parser(
        "convert", help="convert a published checkpoint into a manypose model folder",
        description="Convert an Ultralytics YOLOv8-pose / YOLO11-pose .pt checkpoint (any size) into "
                    "a manypose model folder (model.json + weights.safetensors). The checkpoint is "
                    "read without ultralytics and without running pickled code.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="the .pt file")
    p.add_argument("out", metavar="OUT", help="folder to write (created if missing)")
    p.add_argument("--name", help="model name (default: the folder name)")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                   help="storage type of the weights (default float16: half the size, same AP)")
    p.set_defaults(run=_run_convert)


def _run_convert(args) -> int:
    from .convert import convert

    folder = convert(args.checkpoint, args.out, name=args.name, dtype=args.dtype)
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
