"""COCO AP of the float and INT8 models natively and on an emulated CPU without VNNI.

    python benchmarks/int8_without_vnni.py [--model NAME|PATH] [--annotations F --images DIR] [--cpu Haswell]

Without VNNI (AVX2 only), ONNX Runtime's u8 x s8 kernels add pairs of products in int16
(vpmaddubsw), which saturates; with VNNI the sums are exact. To measure that CPU on this one,
the network alone runs under QEMU's user-mode emulation (`qemu-x86_64 -cpu Haswell`, from the
qemu-user package) on the very inputs prepared natively; the decoding and the scoring run
natively on its outputs (they are float and unaffected, and far too slow emulated). Rows that
need QEMU are skipped, with a message, where qemu-x86_64 is absent.

Emulated timings say nothing of a real AVX2 CPU's speed: the int8/fp32 ratio printed beside
them is a weak hint at most.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import VAL_ANNOTATIONS, VAL_IMAGES, add_stats_output_argument, benchmark_parser, write_stats_output

QEMU = "qemu-x86_64"


def blob_key(blob: np.ndarray) -> str:
    return f"{blob.shape}-{hashlib.sha1(np.ascontiguousarray(blob).tobytes()).hexdigest()}"


class RecordingBackend:
    """The estimator's backend, keeping every input blob it is given (by `blob_key`)."""

    def __init__(self, backend, blobs: dict):
        self.backend, self.blobs = backend, blobs

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def __call__(self, blob):
        self.blobs[blob_key(blob)] = blob
        return self.backend(blob)

    def parallel_runner(self):
        return self, 1


class ReplayingBackend(RecordingBackend):
    """Answers each blob with the network outputs computed elsewhere (`outputs` by `blob_key`)."""

    def __init__(self, backend, outputs: dict):
        super().__init__(backend, {})
        self.outputs = outputs

    def __call__(self, blob):
        return dict(zip(self.backend.output_names, self.outputs[blob_key(blob)]))


def evaluate_with(estimator, backend, args) -> float:
    from manypose.evaluate import evaluate

    estimator.backend = backend
    return evaluate(estimator, args.annotations, args.images, progress=False)[0]["AP"]


def run_network(onnx_path: str, blobs_path: str, out_path: str) -> None:
    """The network alone over saved blobs (run under QEMU): outputs saved by blob key, in order."""
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    blobs = np.load(blobs_path)
    start = time.perf_counter()
    outputs = {key: session.run(None, {session.get_inputs()[0].name: blobs[key]}) for key in blobs.files}
    print(f"seconds {time.perf_counter() - start:.1f}")
    np.savez(out_path, **{f"{index}|{key}": value for key, values in outputs.items()
                          for index, value in enumerate(values)})


def emulated_outputs(onnx_path: str, blobs: dict, cpu: str, folder: Path) -> tuple[dict, float]:
    """Network outputs and seconds of `onnx_path` over `blobs` on QEMU's `cpu`."""
    np.savez(folder / "blobs.npz", **blobs)
    done = subprocess.run([QEMU, "-cpu", cpu, sys.executable, __file__, "--run-network", onnx_path,
                           str(folder / "blobs.npz"), str(folder / "outputs.npz")],
                          capture_output=True, text=True, check=True)
    seconds = float(done.stdout.split("seconds ")[-1])
    saved = np.load(folder / "outputs.npz")
    outputs = {}
    for name in sorted(saved.files, key=lambda name: int(name.split("|")[0])):
        outputs.setdefault(name.split("|", 1)[1], []).append(saved[name])
    return outputs, seconds


def main() -> int:
    if sys.argv[1:2] == ["--run-network"]:
        run_network(*sys.argv[2:5])
        return 0
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", default=None, help="manypose model (default: the bundled one)")
    parser.add_argument("--annotations", default=str(VAL_ANNOTATIONS))
    parser.add_argument("--images", default=str(VAL_IMAGES))
    parser.add_argument("--cpu", default="Haswell", help="QEMU CPU model without VNNI (default Haswell: AVX2)")
    add_stats_output_argument(parser)
    args = parser.parse_args()

    import manypose

    figures = {}
    for label, int8 in (("fp32", False), ("int8", True)):
        estimator = manypose.load(args.model, int8=int8, score_threshold=0.01)
        blobs = {}
        figures[f"native {label} AP"] = evaluate_with(estimator, RecordingBackend(estimator.backend, blobs), args)
        if shutil.which(QEMU) is None:
            continue
        with tempfile.TemporaryDirectory() as folder:
            outputs, seconds = emulated_outputs(estimator.backend.onnx_path, blobs, args.cpu, Path(folder))
        figures[f"{args.cpu} {label} AP"] = evaluate_with(estimator, ReplayingBackend(estimator.backend, outputs), args)
        figures[f"{args.cpu} {label} network seconds"] = seconds
    for name, value in figures.items():
        print(f"{name:<32} {value:.4f}")
    if shutil.which(QEMU) is None:
        print(f"emulated rows skipped: {QEMU} not found (Debian: apt-get install qemu-user)")
    else:
        ratio = figures[f"{args.cpu} int8 network seconds"] / figures[f"{args.cpu} fp32 network seconds"]
        print(f"emulated int8/fp32 network time: {ratio:.2f} (emulation: a weak hint, not a speed)")
    write_stats_output(args.stats_output, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
