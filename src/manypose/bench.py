"""Speed of the whole pipeline against the network alone, measured side by side in one run."""
from __future__ import annotations

import statistics
import time

from .data.images import expand_image_paths, read_image


class BenchmarkError(ValueError):
    pass


def benchmark(estimator, images_dir, rounds: int = 2, full_images: bool = False) -> dict:
    """Three timings over the same images, after a warm-up pass over them, in ms/image:

    - end to end: a pass over the folder (file to poses, as `predict` and `eval` run it, with
      several images in flight where the backend gains from it), divided by the number of
      images; the median over `rounds` passes;
    - latency: one image alone, file to poses (`estimator(path)`); the median over images;
    - network: the backend alone on one prepared input; the median over images.

    Each round times the three one after the other, so that the machine's slower and faster
    moments weigh on all three alike. `full_images`: every JPEG decoded at full size, as when
    results are drawn (by default large ones are decoded reduced, see PoseEstimator.stream).
    """
    files, errors = expand_image_paths([images_dir])
    if errors or not files:
        raise BenchmarkError(errors[0][1] if errors else f"{images_dir}: no images")
    warm_up(estimator, files, full_images)
    blobs = prepared_inputs(estimator, files)
    if not blobs:
        raise BenchmarkError(f"{images_dir}: no readable images")
    passes, latency, network = [], [], []
    for _ in range(rounds):
        passes.append(timed_pass(estimator, files, full_images))
        latency += latencies(estimator, files, full_images)
        network += network_times(estimator, blobs)
    e2e_ms = statistics.median(seconds / readable for seconds, readable in passes) * 1e3
    latency_ms = statistics.median(latency) * 1e3
    network_ms = statistics.median(network) * 1e3
    return {
        "model": estimator.name,
        "backend": estimator.backend.name,
        "device": estimator.backend.device,
        "int8": estimator.int8,
        "precision": estimator.backend.precision,
        "input_size": estimator.input_spec.size,
        "images": passes[-1][1],
        "rounds": rounds,
        "images_in_flight": estimator.backend.parallel_runner()[1],
        "full_images": full_images,
        "e2e_ms_median": round(e2e_ms, 2),
        "latency_ms_median": round(latency_ms, 2),
        "network_ms_median": round(network_ms, 2),
        "e2e_over_network": round(e2e_ms / network_ms, 3),
        "latency_over_network": round(latency_ms / network_ms, 3),
    }


def batch_throughput(estimator, images_dir, batch_sizes, rounds: int = 2) -> dict[int, float]:
    """Images per second, file to poses, for each batch size (a pass over the folder after a
    warm-up; the best of `rounds` passes), measured one size after the other in one run."""
    files, _ = expand_image_paths([images_dir])
    throughput = {}
    for size in batch_sizes:
        passes = timed_passes(estimator.reconfigured(batch_size=size), files, rounds)
        throughput[size] = round(max(readable / seconds for seconds, readable in passes), 2)
    return throughput


def warm_up(estimator, files, full_images: bool = False) -> None:
    """A pass over the files: backends may prepare each input shape once."""
    for _ in estimator.stream(files, full_images):
        pass


def timed_passes(estimator, files, rounds: int, full_images: bool = False) -> list[tuple[float, int]]:
    """`rounds` timed passes over the files, after a warm-up pass."""
    warm_up(estimator, files, full_images)
    return [timed_pass(estimator, files, full_images) for _ in range(rounds)]


def timed_pass(estimator, files, full_images: bool = False) -> tuple[float, int]:
    """(seconds, images read) of a pass over the files with `estimator.stream`."""
    start = time.perf_counter()
    readable = sum(result.error is None for result in estimator.stream(files, full_images))
    return time.perf_counter() - start, readable


def latencies(estimator, files, full_images: bool) -> list[float]:
    """Seconds for each readable file alone, file to poses."""
    times = []
    for path in files:
        start = time.perf_counter()
        try:
            estimator(read_image(path) if full_images else path)
        except ValueError:
            continue
        times.append(time.perf_counter() - start)
    return times


def prepared_inputs(estimator, files) -> list:
    """The network inputs of the readable files."""
    blobs = []
    for path in files:
        try:
            blobs.append(estimator.preprocess(read_image(path))[0])
        except ValueError:
            continue
    return blobs


def network_times(estimator, blobs) -> list[float]:
    """Seconds of the backend alone on each prepared input."""
    times = []
    for blob in blobs:
        start = time.perf_counter()
        estimator.backend(blob)
        times.append(time.perf_counter() - start)
    return times
