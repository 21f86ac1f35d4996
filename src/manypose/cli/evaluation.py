"""`manypose eval`: COCO keypoint AP of a model on an annotated image set."""
from __future__ import annotations

import sys
from pathlib import Path

from .options import EXIT_FAILURES, add_model_options, estimator_from_args, model_inputs

EVAL_SCORE_THRESHOLD = 0.01  # COCO's AP rewards the doubtful people, ranked last


def add(commands) -> None:
    p = commands.add_parser(
        "eval", help="COCO keypoint AP of a model on an annotated image set",
        description="Run the model on every image of a COCO keypoint annotation file and print "
                    "pycocotools' keypoint summary (OKS AP).")
    p.add_argument("--annotations", required=True, metavar="COCO.json", help="COCO keypoint annotations")
    p.add_argument("--images", required=True, metavar="DIR", help="folder holding the annotated images")
    add_model_options(p, default_threshold=EVAL_SCORE_THRESHOLD)
    p.add_argument("--json-output", metavar="FILE",
                   help="write the predictions in COCO results format; never over an input")
    p.add_argument("--stats-output", metavar="FILE",
                   help="write the stats as JSON (AP, AP50, AP75, APm, APl, AR, images, seconds_per_image); "
                        "never over an input")
    p.add_argument("--analyze", metavar="DIR",
                   help="then analyse why the model misses (as `manypose analyze`), the report in DIR; the "
                        "predictions go to DIR/predictions.json unless --json-output names a file")
    p.add_argument("--count-fused", action="store_true",
                   help="KAPAO models: then print how many keypoints the keypoint objects replaced, per keypoint")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..atomic_files import check_writable
    from ..evaluate import evaluate
    from ..run_plan import image_folder_inputs, refuse_overwriting_inputs

    read = [("the annotations", args.annotations)] + image_folder_inputs(args.images, "the image folder", "the image")
    predictions = args.json_output or (str(Path(args.analyze) / "predictions.json") if args.analyze else None)
    refuse_overwriting_inputs(read + model_inputs(args.model, args.calibration_images),
                              files=[("the predictions", predictions), ("the stats", args.stats_output)],
                              folders=[("the report folder", args.analyze)])
    if args.analyze:
        Path(args.analyze).mkdir(parents=True, exist_ok=True)
    for path, what in ((predictions, "the predictions"), (args.stats_output, "the stats")):
        if path:
            check_writable(path, what)
    estimator = estimator_from_args(args)
    counts = fused_counts(estimator) if args.count_fused else None
    stats, summary, failures = evaluate(estimator, args.annotations, args.images,
                                        predictions, args.stats_output, progress=not args.quiet)
    for message in failures:
        print(f"error: {message}", file=sys.stderr)
    print(summary, end="")
    print(f"AP {stats['AP']:.3f} on {stats['images']} images, "
          f"{stats['seconds_per_image'] * 1000:.1f} ms/image ({stats['model']}, {stats['backend']} "
          f"{'INT8' if stats['int8'] else stats['precision']})")
    if counts is not None:
        names = estimator.skeleton.keypoints
        print(f"keypoint objects fused: {int(counts.sum())} ("
              + ", ".join(f"{name} {int(count)}" for name, count in zip(names, counts)) + ")")
    if args.analyze and not failures:
        from ..analysis.run import analyze
        from .analyze import print_summary

        print_summary(analyze(args.annotations, predictions, args.analyze, args.images, progress=not args.quiet),
                      args.analyze)
    return EXIT_FAILURES if failures else 0


def fused_counts(estimator):
    """The running count of keypoints fused per class of a KAPAO model's decoder (KAPAO's --count-fused)."""
    counts = getattr(estimator.decoder.decode, "fused_counts", None)
    if counts is None:
        raise SystemExit(f"error: --count-fused: {estimator.model_name} has no keypoint objects to fuse")
    return counts
