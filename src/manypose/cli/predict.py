"""`manypose predict`: poses in image files and folders."""
from __future__ import annotations

import sys

from .options import EXIT_FAILURES, add_model_options, config_from_args, estimator_from_args, model_inputs, positive_int


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
                        "twice in the batch gets the input's suffix: a_png.jpg); never over an input; with "
                        "--engine ray the actors write them, so DIR must be at the same path on every node")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default): this process; ray: Ray Data over a pool of actors, one estimator "
                        "each, the same JSON (pip install 'manypose[ray]'; images are read by path on the "
                        "actors' nodes, so a cluster needs them at the same path on every node)")
    p.add_argument("--address", metavar="ADDR",
                   help="with --engine ray: the Ray cluster to join, e.g. auto (the one this node belongs to) "
                        "or HEAD:6379 (default: a local cluster started for this run)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="with --engine ray: how many actors, each with one estimator and an equal share of "
                        "the cluster's CPUs and, with --device cuda (or auto on a cluster with GPUs), a GPU "
                        "or an equal share of one (default 1)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..predict import plan_batch

    _refuse_ray_options_without_ray(args)
    # output problems before loading
    batch = plan_batch(args.images, args.json_output, args.image_output,
                       also_read=model_inputs(args.model, args.calibration_images))
    report = _engine(args)(batch, progress=not args.quiet,
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


def _refuse_ray_options_without_ray(args) -> None:
    given = [option for option, value in (("--address", args.address), ("--workers", args.workers)) if value]
    if given and args.engine != "ray":
        raise ValueError(f"{' and '.join(given)} {'are' if len(given) > 1 else 'is'} for --engine ray only")


def _engine(args):
    """The run of a planned batch by the engine asked for. Both load the model here first: a bad
    model fails before a cluster starts, and the actors on this machine find it prepared (on the
    CPU for Ray: the GPUs asked for are the actors', not this machine's)."""
    from functools import partial

    from ..predict import predict_batch

    if args.engine == "local":
        return partial(predict_batch, estimator_from_args(args))
    from ..predict_ray import import_ray, predict_batch_on_ray

    import_ray()
    estimator_from_args(args, device="cpu")
    return partial(predict_batch_on_ray, config_from_args(args), workers=args.workers or 1, address=args.address)


def _print_people(entries) -> None:
    for entry in entries:
        if "poses" in entry:
            scores = ", ".join(f"{p['score']:.2f}" for p in entry["poses"])
            count = len(entry["poses"])
            print(f"{entry['file']}: {count} {'person' if count == 1 else 'people'}"
                  + (f" (scores {scores})" if scores else ""))
