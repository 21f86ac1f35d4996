"""manypose.tracking_metrics beside py-motmetrics (MOTA, IDF1, IDP, IDR, switches, false
positives, misses) and TrackEval (HOTA, DetA, AssA) on random tracking cases: people walking
straight, tracked with noisy boxes, dropped detections, two people's ids swapped for a stretch,
ids broken into fragments and stray false positives.

    python benchmarks/tracking_metrics_parity.py [--cases 5] [--reference-python PYTHON]

The references run in a scratch venv (see benchmarks/reference_runners/tracking_metrics.py; default
/tmp/tracking-metrics-venv). Prints both sides per case and the largest difference of each
figure; last line: the differences as JSON.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from common import benchmark_parser, last_line_json

RUNNER = Path(__file__).resolve().parent / "reference_runners" / "tracking_metrics.py"
FIGURES = ("mota", "idf1", "idp", "idr", "id_switches", "false_positives", "misses", "hota", "deta", "assa")


def random_case(seed: int, people: int = 5, frames: int = 150) -> dict:
    """Truth and predictions, each a list of frames of [id, box]."""
    rng = np.random.default_rng(seed)
    starts = rng.uniform([0, 0], [580, 240], (people, 2))
    velocities = rng.normal(0, 2, (people, 2))
    swap_from = rng.integers(20, frames - 40)
    truth, predicted = [], []
    for t in range(frames):
        corners = starts + velocities * t
        truth.append([[i + 1, [*c, c[0] + 50, c[1] + 120]] for i, c in enumerate(corners.tolist())])
        predicted.append([_guess(rng, i, box, t, swap_from) for i, box in truth[-1] if rng.random() > 0.1])
        if rng.random() < 0.2:
            x, y = rng.uniform([0, 0], [590, 240])
            predicted[-1].append([999, [x, y, x + 50, y + 120]])
    return {"truth": truth, "predicted": predicted}


def _guess(rng, true_id: int, box, t: int, swap_from: int):
    """A noisy box for a person, with ids 1 and 2 swapped for 40 frames and 3% of the boxes
    given a fragment's id (a new one every 30 frames)."""
    predicted_id = true_id + 100
    if swap_from <= t < swap_from + 40 and true_id in (1, 2):
        predicted_id = 203 - true_id
    if rng.random() < 0.03:
        predicted_id += 1000 * (1 + t // 30)
    return [predicted_id, (np.array(box) + rng.normal(0, 6, 4)).tolist()]


def ours(case: dict) -> dict:
    from manypose.tracking_metrics import FrameTracks, score_tracking

    def clip(frames):
        return [FrameTracks([i for i, _ in frame], [box for _, box in frame]) for frame in frames]

    scores = asdict(score_tracking(clip(case["truth"]), clip(case["predicted"])))
    return {name: scores[name] for name in FIGURES}


def references(python: Path, cases: list[dict]) -> list[dict]:
    if not python.exists():
        sys.exit(f"{python} not found: build it as {RUNNER.name}'s docstring says")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cases.json"
        path.write_text(json.dumps(cases))
        done = subprocess.run([str(python), str(RUNNER), str(path)], capture_output=True, text=True, check=True)
    return last_line_json(done.stdout)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--reference-python", type=Path, default=Path("/tmp/tracking-metrics-venv/bin/python"))
    args = parser.parse_args()
    cases = [random_case(seed) for seed in range(args.cases)]
    theirs = references(args.reference_python, cases)
    differences = dict.fromkeys(FIGURES, 0.0)
    print(f"{'case':>4} " + " ".join(f"{name:>17}" for name in FIGURES))
    for index, (case, reference) in enumerate(zip(cases, theirs)):
        mine = ours(case)
        print(f"{index:4d} " + " ".join(f"{mine[n]:8.4f}/{reference[n]:<8.4f}" for n in FIGURES))
        for name in FIGURES:
            differences[name] = max(differences[name], abs(mine[name] - reference[name]))
    print("largest difference (ours - reference): " + ", ".join(f"{n} {d:.1e}" for n, d in differences.items()))
    print(json.dumps(differences))


if __name__ == "__main__":
    main()
