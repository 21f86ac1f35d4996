"""`manypose predict --engine ray`: a batch on a Ray cluster. Ray Data hands the image paths to
a pool of actors, each holding one estimator built from the run's `EstimatorConfig`; entries
come back in the batch's order and are those of the local engine (`predict.result_entry`)."""
from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from dataclasses import replace
from math import ceil, floor
from pathlib import Path

from tqdm import tqdm

from .config import EstimatorConfig
from .data.images import MAX_PIXELS_ENV
from .loading import load_config
from .optional import MissingDependency
from .predict import Batch, BatchReport, result_entry, write_drawn, write_json
from .runtime.devices import Device, DeviceUnavailable

INSTALL_HINT = "pip install 'manypose[ray]'"
BATCH_SIZE = 8  # small batches share out even a folder of a few dozen images between the actors


def import_ray():
    """Ray, told before its import to send no usage statistics (offline clusters)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependency(f"--engine ray needs Ray Data: {INSTALL_HINT}") from None
    return ray


def predict_batch_on_ray(config: EstimatorConfig, batch: Batch, workers: int = 1, address: str | None = None,
                         progress: bool = True, on_error=None) -> BatchReport:
    """`predict.predict_batch` on `workers` Ray actors: the cluster at `address`, else a local
    one started for this run. Images and drawn images are read and written by path on the
    actors' machines."""
    ray = import_ray()
    report = BatchReport.starting(batch, on_error)
    entries = {}
    if batch.files:
        with connected(ray, address):
            try:
                entries = run_on_actors(ray, config, batch, workers, progress, on_error)
            except ray.exceptions.RayError as error:
                # the cause's own line: a node may lack what this one has (manypose, the model)
                cause = str(error).strip().splitlines()[-1]
                raise RuntimeError(f"a Ray worker failed: {cause}") from error
    for index in range(len(batch.files)):
        report.add(entries[index])  # on_error was told as each arrived
    write_json(batch, report)
    return report


@contextmanager
def connected(ray, address: str | None):
    """A connection open already (a test's, a notebook's) is used as it is; else join the
    cluster at `address`, or start a local one without a dashboard, for this run only."""
    if ray.is_initialized():
        yield
        return
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(include_dashboard=False, **quiet)
    try:
        yield
    finally:
        ray.shutdown()


def run_on_actors(ray, config: EstimatorConfig, batch: Batch, workers: int, progress: bool, on_error) -> dict:
    """Each file's entry by its index in the batch."""
    quiet_ray_data(ray)
    resources = ray.cluster_resources()
    cpus_per_worker = resources.get("CPU", 1) / workers  # fractional on small machines
    gpus = gpus_per_worker(config.device, resources.get("GPU", 0), workers)
    rows = [{"index": index, "path": str(path), "overlay": str(batch.overlays[index]) if batch.overlays else ""}
            for index, path in enumerate(batch.files)]
    batch_size = min(BATCH_SIZE, ceil(len(rows) / workers))  # every actor gets work
    dataset = ray.data.from_items(rows, override_num_blocks=ceil(len(rows) / batch_size))
    done = dataset.map_batches(
        PoseActor, fn_constructor_args=(worker_config(config, cpus_per_worker), os.environ.get(MAX_PIXELS_ENV)),
        batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=workers),
        **actor_resources(cpus_per_worker, gpus))
    entries = {}
    for row in tqdm(done.iter_rows(), total=len(rows), desc="predict", unit="image",
                    disable=not progress or len(rows) < 2):
        entry = entries[row["index"]] = json.loads(row["entry"])
        if on_error and "error" in entry:
            on_error(entry["error"])
    return entries


def quiet_ray_data(ray) -> None:
    """Ray Data's warnings, without its progress bars (ours counts images, as the local
    engine's) or its notes on each execution."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"


def gpus_per_worker(device: str, cluster_gpus: float, workers: int) -> float:
    """The GPUs each actor asks Ray for, so that Ray places it on a node with a GPU and shows it
    its own: none on the CPU; for cuda (and auto on a cluster with GPUs) one each, or an equal
    share of one where the actors outnumber the GPUs. cuda on a cluster without GPUs is an error
    (no silent fall back to the CPU)."""
    kind = Device.parse(device).kind
    if kind == "cpu" or (kind == "auto" and not cluster_gpus):
        return 0
    if not cluster_gpus:
        raise DeviceUnavailable(f"{device}: the Ray cluster has no GPUs; use --device cpu or auto")
    return floor(min(1.0, cluster_gpus / workers) * 1e4) / 1e4  # Ray takes shares to 4 decimals


def actor_resources(cpus: float, gpus: float) -> dict:
    """What an actor asks Ray for: its GPU share where it has one (Ray Data calls asking for both
    experimental), else its CPU share."""
    return {"num_gpus": gpus} if gpus else {"num_cpus": cpus}


def worker_config(config: EstimatorConfig, cpus_per_worker: float) -> EstimatorConfig:
    """Threads left unset mean one per core of the machine; an actor takes its share instead.
    An actor sees only the GPU Ray gave it, as its first: cuda:N becomes cuda there."""
    if Device.parse(config.device).kind == "cuda":
        config = replace(config, device="cuda")
    if config.threads is not None:
        return config
    return replace(config, threads=max(1, int(cpus_per_worker)))


class PoseActor:
    """One estimator per Ray actor, built where it runs: only the configuration travels."""

    def __init__(self, config: EstimatorConfig, max_image_pixels: str | None):
        if max_image_pixels:
            os.environ[MAX_PIXELS_ENV] = max_image_pixels
        self.estimator = load_config(config)

    def __call__(self, rows: dict) -> dict:
        overlays = rows["overlay"]
        results = self.estimator.stream(rows["path"], full_images=bool(overlays[0]))
        entries = []
        for result, overlay in zip(results, overlays):
            # JSON text, not nested columns: Arrow would give the entries a schema of its own
            entries.append(json.dumps(result_entry(result)))
            if overlay:
                write_drawn(Path(overlay), result)
        return {"index": rows["index"], "entry": entries}
