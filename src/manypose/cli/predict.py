"""`manypose predict`: poses in image files and folders."""
from __future__ import annotations

import sys

from .options import EXIT_FAILURES, add_model_options, estimator_from_args, model_inputs


def add(commands) -> None:
    p = commands.add_parser(
        "predict", help="find people and their keypoints in images",
        description="Predict poses on image files or folders. Bad files are reported and skipped; "
                    "the exit code is 1 if any input failed.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    add_model_options(p, default_threshold=None)
    p.add_argument("--json-output", metavar="FILE",
                   help="write one JSON entry per image: file, size and poses (box, score, "
                        "keypoints as [x, y, confidence]); failed images carry an 'error'; - for stdout; "
                        "never over an input")
    p.add_argument("--image-output", metavar="DIR",
                   help="write each image with its skeletons drawn into DIR, as NAME.jpg (a name taken "
                        "twice in the batch gets the input's suffix: a_png.jpg); never over an input")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..predict import plan_batch, predict_batch

    # output problems before loading
    batch = plan_batch(args.images, args.json_output, args.image_output,
                       also_read=model_inputs(args.model, args.calibration_images))
    report = predict_batch(estimator_from_args(args), batch, progress=not args.quiet,
                           on_error=lambda message: print(f"error: {message}", file=sys.stderr))
    if not args.json_output:
        _print_people(report.entries)
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


def _print_people(entries) -> None:
    for entry in entries:
        if "poses" in entry:
            scores = ", ".join(f"{p['score']:.2f}" for p in entry["poses"])
            count = len(entry["poses"])
            print(f"{entry['file']}: {count} {'person' if count == 1 else 'people'}"
                  + (f" (scores {scores})" if scores else ""))
