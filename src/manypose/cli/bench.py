"""`manypose bench`: end-to-end speed against the network alone."""
from __future__ import annotations

import argparse
import json

from .options import add_model_options, estimator_from_args, model_inputs, positive_int


def add(commands) -> None:
    p = commands.add_parser(
        "bench", help="speed: end-to-end ms/image against the network alone",
        description="Run the pipeline over a folder of images after a warm-up and report, in ms/image: "
                    "end to end (a pass over the folder, file to poses, as predict and eval run it, with "
                    "several images in flight where the backend gains from it; median over the rounds), "
                    "latency (one image alone, file to poses) and the network alone (medians over the "
                    "images), and their ratios.")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of images to time")
    add_model_options(p, default_threshold=None)
    p.add_argument("--rounds", type=positive_int, default=2, help="passes over the folder (default 2)")
    p.add_argument("--batch-sizes", type=batch_sizes, default=None, metavar="N,N,...",
                   help="also report images/s (file to poses, a pass over the folder) for each of these batch "
                        "sizes, e.g. 1,2,4,8, measured one after the other in this run (see --batch)")
    p.add_argument("--stats-output", metavar="FILE",
                   help="write the figures as JSON (e2e_ms_median, latency_ms_median, network_ms_median, their "
                        "ratios, images, images_in_flight, backend, device, int8, precision, and "
                        "images_per_second_by_batch_size with --batch-sizes); never over an input")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..atomic_files import atomic_write_text, check_writable
    from ..bench import batch_throughput, benchmark
    from ..run_plan import image_folder_inputs, refuse_overwriting_inputs

    refuse_overwriting_inputs(image_folder_inputs(args.images, "the image folder", "the image")
                              + model_inputs(args.model, args.calibration_images),
                              files=[("the stats", args.stats_output)])
    if args.stats_output:
        check_writable(args.stats_output, "the stats")
    estimator = estimator_from_args(args)
    stats = benchmark(estimator, args.images, rounds=args.rounds)
    print(f"{stats['model']} on {stats['backend']} ({stats['device']}) {'INT8' if stats['int8'] else stats['precision']}, "
          f"{stats['images']} images, "
          f"{stats['images_in_flight']} in flight:\n"
          f"  end to end {stats['e2e_ms_median']:.1f} ms/image (folder pass), "
          f"latency {stats['latency_ms_median']:.1f} ms (one image alone), network {stats['network_ms_median']:.1f} ms\n"
          f"  ratio to network: end to end {stats['e2e_over_network']:.2f}, latency {stats['latency_over_network']:.2f}")
    if args.batch_sizes:
        by_size = batch_throughput(estimator, args.images, args.batch_sizes, args.rounds)
        stats["images_per_second_by_batch_size"] = by_size
        print("  images/s by batch size: " + ", ".join(f"{size}: {rate:.1f}" for size, rate in by_size.items()))
    if args.stats_output:
        atomic_write_text(args.stats_output, json.dumps(stats, indent=1) + "\n")
    return 0


def batch_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(positive_int(part) for part in text.split(","))
    if len(set(sizes)) != len(sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: a batch size given twice")
    return sizes
