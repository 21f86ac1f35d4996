"""Images per second of `manypose predict` on the local engine and on Ray with 1 and 2 workers,
side by side in one run, and Ray's scaling efficiency.

    python benchmarks/ray_scaling.py [--images DIR] [--repeat 6] [--workers 1,2]

The folder is given `--repeat` times over, so that each run lasts long enough to measure. Every
Ray worker runs on one thread (one core), so that N workers have N times the cores of one; the
local engine runs on one thread and on all cores (its default), a loaded estimator after a
warm-up, as `predict` does once its model is loaded. A Ray run starts its actors (each loads
its estimator) before the first image; that start is measured apart, as a run of one image per
worker, so the steady images/s is (images - workers) / (run - start). Efficiency is the steady
rate with N workers over N times the rate with one. Run it on an otherwise idle machine: the
load average is printed before and after.
"""
from __future__ import annotations

import logging
import os
import sys
import time

from common import VAL_IMAGES, add_stats_output_argument, benchmark_parser, write_stats_output

from manypose.config import EstimatorConfig
from manypose.loading import load_config
from manypose.predict import plan_batch, predict_batch
from manypose.predict_ray import import_ray, predict_batch_on_ray
from manypose.runtime import usable_cores


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--images", default=str(VAL_IMAGES), help="folder of images")
    parser.add_argument("--repeat", type=int, default=6, help="how many times the folder is run over")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    add_stats_output_argument(parser)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    one_thread = EstimatorConfig(threads=1)
    batch = plan_batch([args.images] * args.repeat)
    results = {"local, 1 thread": local_run(one_thread, batch),
               f"local, {usable_cores()} threads": local_run(EstimatorConfig(), batch)}
    ray = import_ray()
    start = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    print(f"local Ray cluster started in {time.perf_counter() - start:.1f} s", flush=True)
    for workers in (int(count) for count in args.workers.split(",")):
        results[f"ray, {workers} worker{'s' if workers > 1 else ''}"] = ray_run(one_thread, batch, workers,
                                                                               results["local, 1 thread"])
    ray.shutdown()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print_table(results, images=len(batch.files))
    write_stats_output(args.stats_output, {label: {k: v for k, v in figures.items() if k != "entries"}
                                           for label, figures in results.items()})
    return 0


def local_run(config: EstimatorConfig, batch) -> dict:
    estimator = load_config(config)
    predict_batch(estimator, plan_batch(batch.files[:8]), progress=False)  # warm-up
    start = time.perf_counter()
    report = predict_batch(estimator, batch, progress=False)
    seconds = time.perf_counter() - start
    rate = len(batch.files) / seconds
    return {"workers": 0, "cores": config.threads or usable_cores(), "seconds": seconds, "start_seconds": 0.0,
            "images_per_s": rate, "steady_images_per_s": rate, "entries": report.entries}


def ray_run(config: EstimatorConfig, batch, workers: int, local: dict) -> dict:
    start_seconds = timed_ray_run(config, plan_batch(batch.files[:workers]), workers)[0]
    seconds, report = timed_ray_run(config, batch, workers)
    images = len(batch.files)
    return {"workers": workers, "cores": workers, "seconds": seconds, "start_seconds": start_seconds,
            "images_per_s": images / seconds, "steady_images_per_s": (images - workers) / (seconds - start_seconds),
            "same_entries_as_local": report.entries == local["entries"]}


def timed_ray_run(config: EstimatorConfig, batch, workers: int):
    start = time.perf_counter()
    report = predict_batch_on_ray(config, batch, workers=workers, progress=False)
    return time.perf_counter() - start, report


def print_table(results: dict, images: int) -> None:
    one_worker = next((figures for figures in results.values() if figures["workers"] == 1), None)
    print(f"{images} images; Ray workers one thread each; steady: without the actors' start (measured as a run "
          "of one image per worker)")
    print(f"{'engine':<20} {'seconds':>8} {'images/s':>9} {'start s':>8} {'steady images/s':>16} "
          f"{'per core':>9} {'efficiency':>11} {'same JSON':>10}")
    for label, figures in results.items():
        steady, workers = figures["steady_images_per_s"], figures["workers"]
        efficiency = f"{steady / (workers * one_worker['steady_images_per_s']):.0%}" if workers and one_worker else ""
        print(f"{label:<20} {figures['seconds']:>8.1f} {figures['images_per_s']:>9.1f} "
              f"{figures['start_seconds']:>8.1f} {steady:>16.1f} {steady / figures['cores']:>9.1f} {efficiency:>11} "
              f"{str(figures.get('same_entries_as_local', '')):>10}")


if __name__ == "__main__":
    sys.exit(main())
