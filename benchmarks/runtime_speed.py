"""Side-by-side speed of manypose's runtimes, and optionally of the original Ultralytics pipeline.

    python benchmarks/runtime_speed.py --images ../shared/data/coco-mini/val2017 \
        [--ultralytics-python /path/to/scratch-venv/bin/python --checkpoint ../shared/models/yolo11n-pose.pt]

Every configuration runs over the same images in one process run, one after the other, and the
ratios are printed from those same measurements. The Ultralytics pipeline, when asked for, runs
in its own interpreter (a scratch venv with ultralytics installed; never a manypose dependency).
"""
from __future__ import annotations

import subprocess
import sys

from common import ULTRALYTICS_TIMER, add_stats_output_argument, benchmark_parser, last_line_json, write_stats_output

import manypose
from manypose.bench import benchmark

CONFIGURATIONS = (("torch fp32", {"backend": "torch"}),
                  ("onnxruntime fp32", {"backend": "onnxruntime"}),
                  ("onnxruntime int8", {"backend": "onnxruntime", "int8": True}),
                  ("openvino", {"backend": "openvino"}))


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--images", required=True, help="folder of images")
    parser.add_argument("--model", default=None, help="manypose model (default: the bundled one)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ultralytics-python", help="interpreter of a venv with ultralytics installed")
    parser.add_argument("--checkpoint", help="the Ultralytics .pt for that interpreter")
    add_stats_output_argument(parser)
    args = parser.parse_args()

    results = {}
    for label, options in CONFIGURATIONS:
        results[label] = benchmark(manypose.load(args.model, **options), args.images, rounds=args.rounds)
    if args.ultralytics_python:
        if not args.checkpoint:
            parser.error("--ultralytics-python needs --checkpoint")
        output = subprocess.run([args.ultralytics_python, "-c", ULTRALYTICS_TIMER, args.checkpoint, args.images,
                                 str(args.rounds)], capture_output=True, text=True, check=True).stdout
        results["ultralytics (original)"] = last_line_json(output)

    nan = float("nan")
    print("end to end: a pass over the folder, ms/image; latency: one image alone; network: the network alone")
    print(f"{'configuration':<24} {'end to end':>10} {'latency':>8} {'network':>8} {'e2e/net':>8} {'latency/net':>12}")
    for label, stats in results.items():
        print(f"{label:<24} {stats['e2e_ms_median']:>10.1f} {stats['latency_ms_median']:>8.1f} "
              f"{stats.get('network_ms_median', nan):>8.1f} {stats.get('e2e_over_network', nan):>8.2f} "
              f"{stats.get('latency_over_network', nan):>12.2f}")
    fp32, int8 = results["onnxruntime fp32"], results["onnxruntime int8"]
    for timing in ("e2e", "latency"):
        print(f"int8 / fp32, {timing}: {int8[f'{timing}_ms_median'] / fp32[f'{timing}_ms_median']:.2f}")
    print(f"onnxruntime / torch end to end: {fp32['e2e_ms_median'] / results['torch fp32']['e2e_ms_median']:.2f}")
    if "ultralytics (original)" in results:
        original = results["ultralytics (original)"]
        for timing in ("e2e", "latency"):
            print(f"speed-up over the original, {timing}: " + ", ".join(
                f"{label} {original[f'{timing}_ms_median'] / stats[f'{timing}_ms_median']:.2f}x"
                for label, stats in results.items() if label != "ultralytics (original)"))
    write_stats_output(args.stats_output, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
