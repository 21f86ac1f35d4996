"""Speed of the whole pipeline against the network alone, measured side by side in one run."""
from __future__ import annotations

import statistics
import time

from .data.images import expand_image_paths, read_image


class BenchmarkError(ValueError):
    pass


def benchmark(estimator, images_dir, warmup: int = 3, rounds: int = 1) -> dict:
    """Medians over the images: end to end (file to poses, with the pipeline's read-ahead) and
    network only (the backend on an already prepared input)."""
    files, errors = expand_image_paths([images_dir])
    if errors or not files:
        raise BenchmarkError(errors[0][1] if errors else f"{images_dir}: no images")
    for result in estimator.stream(files[:warmup]):
        pass
    end_to_end = []
    for _ in range(rounds):
        last = time.perf_counter()
        for result in estimator.stream(files):
            now = time.perf_counter()
            if result.error is None:
                end_to_end.append(now - last)
            last = now
    network = network_times(estimator, files, rounds)
    e2e_ms, network_ms = statistics.median(end_to_end) * 1e3, statistics.median(network) * 1e3
    return {
        "model": estimator.name,
        "backend": estimator.backend.name,
        "int8": estimator.int8,
        "input_size": estimator.input["size"],
        "images": len(end_to_end) // rounds,
        "rounds": rounds,
        "e2e_ms_median": round(e2e_ms, 2),
        "e2e_ms_mean": round(statistics.mean(end_to_end) * 1e3, 2),
        "network_ms_median": round(network_ms, 2),
        "e2e_over_network": round(e2e_ms / network_ms, 3),
    }


def network_times(estimator, files, rounds: int) -> list[float]:
    blobs = []
    for path in files:
        try:
            blobs.append(estimator.preprocess(read_image(path))[0])
        except ValueError:
            continue
    times = []
    for _ in range(rounds):
        for blob in blobs:
            start = time.perf_counter()
            estimator.backend(blob)
            times.append(time.perf_counter() - start)
    return times
