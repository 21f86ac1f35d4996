"""`manypose analyze`: why a model misses, from its COCO results, with pictures."""
from __future__ import annotations

from .options import EXIT_FAILURES


def add(commands) -> None:
    p = commands.add_parser(
        "analyze", help="why a model loses AP: error kinds, their cost in AP, plots and the worst images",
        description="Diagnose COCO keypoint results as Ronchi and Perona (ICCV 2017) do: each matched "
                    "detection's keypoints judged good, jitter, inversion (left-right), swap (another "
                    "person's) or miss; the AP after correcting each kind in turn, then the scores, then "
                    "without background false positives and false negatives; false negatives by size and "
                    "by visible keypoints; per-keypoint similarity; PR curves at OKS 0.5, 0.75, 0.95 and "
                    "by size. Writes summary.json, plots/, gallery/ (with --images) and report.html. "
                    "`manypose eval --analyze DIR` runs a model and analyses its results in one go.")
    p.add_argument("--annotations", required=True, metavar="COCO.json", help="COCO keypoint annotations")
    p.add_argument("--predictions", required=True, metavar="RESULTS.json",
                   help="the model's results in COCO keypoint results format (`manypose eval --json-output`)")
    p.add_argument("--output", required=True, metavar="DIR", help="folder for the report; never one holding an input")
    p.add_argument("--images", metavar="DIR", help="the annotated images: draws the worst ones in a gallery")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..analysis.run import analyze

    refuse_report_over_inputs(args.output, args.annotations, args.predictions, args.images)
    summary = analyze(args.annotations, args.predictions, args.output, args.images, progress=not args.quiet)
    print_summary(summary, args.output)
    return 0 if summary["images"] else EXIT_FAILURES


def refuse_report_over_inputs(output, annotations, predictions, images=None) -> None:
    from ..run_plan import image_folder_inputs, refuse_overwriting_inputs

    read = [("the annotations", annotations), ("the predictions", predictions)]
    refuse_overwriting_inputs(read + image_folder_inputs(images, "the image folder", "the image"),
                              folders=[("the report folder", output)])


def print_summary(summary: dict, output) -> None:
    steps = summary["error_ap"]["all"]
    previous, gains = None, []
    for step, values in steps.items():
        if previous is not None:
            gains.append(f"{step} +{values['AP'] - previous:.3f}")
        previous = values["AP"]
    totals = summary["keypoint_errors"]["totals"]
    print(f"AP {summary['AP']['AP']:.3f} on {summary['images']} images, {summary['people']} people, "
          f"{summary['detections']} detections")
    print("AP gained by correcting, in turn: " + ", ".join(gains))
    print("keypoints of matched detections: " + ", ".join(f"{kind} {count}" for kind, count in totals.items()))
    print(f"report: {output}/report.html")
