"""Composite-field decoding: manypose's decoder beside OpenPifPaf's (its C++ extension) on the same
fields: time per image, people per image, dev-set AP.

    python benchmarks/cifcaf_decoder.py [--openpifpaf-python /tmp/manypose-peers/venv/bin/python]
        [--annotations ../shared/data/coco-mini/annotations/person_keypoints_val2017.json]
        [--input-size 641] [--repeats 5] [--complete-poses] [--stats-output FILE] [--save-fixture FILE]

There is no trained OpenPifPaf network here, so the fields come from the dev ground truth: every
image's people encoded by manypose's encoder at input-size (as benchmarks/round_trip.py does,
labelled keypoints only), as the outputs of a network that learnt them exactly ("clean"), and
the same with noise ("noisy", seeded per image): confidences scaled by 0.4 to 1, positions off by
0.2 (CIF) or 0.3 (CAF) cells, scales by 0.7 to 1.3, and spurious vectors on 1% of the cells
(confidence 0.2 to 0.7, pointing up to 1.5 cells away for CIF, 4.5 for CAF).
Both decoders read the same float16 fields, zero where the confidence is below 0.2 (no step
reads those cells). OpenPifPaf runs in its own interpreter (benchmarks/reference_runners/
openpifpaf_cifcaf.py, default settings, one torch thread); manypose's decoder with score
threshold 0, so both keep the people OpenPifPaf's instance threshold keeps. --complete-poses runs
both as OpenPifPaf's evaluation does (its --force-complete-pose, manypose's complete_poses).

Printed per variant and decoder (manypose's, manypose's with seeds from local maxima only,
OpenPifPaf's): ms/image (mean over images of the median of `repeats` calls) and its ratio to
OpenPifPaf's whole decoder call and to its C++ part alone, the share of images where it finds as
many people as OpenPifPaf's, the AP. And numba's compile time (the first call with an empty
cache, in a fresh interpreter), kept out of the timings.

--save-fixture writes the fields and OpenPifPaf's poses of FIXTURE_IMAGES images (both variants)
for tests/decoders/test_cifcaf_decoder.py; with --complete-poses the poses only (the fields are
those of the run without).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (PEERS_PYTHON, add_annotations_argument, add_stats_output_argument, benchmark_parser,
                    write_stats_output)
from round_trip import cifcaf_geometry

from manypose.decoders import DecoderOptions
from manypose.decoders.cifcaf import CifCafDecoder
from manypose.encoders.cifcaf import CifCafEncoder
from manypose.evaluate import coco_keypoint_stats, load_coco
from manypose.heads.composite_fields import coco17_heads

RUNNER = Path(__file__).resolve().parent / "reference_runners" / "openpifpaf_cifcaf.py"
STORED_CONFIDENCE = 0.2  # the lowest threshold of either decoder
SPURIOUS_SHARE = 0.01
POSITION_NOISE = {1: 0.2, 2: 0.3}    # cells, by vectors per field (CIF 1, CAF 2)
SPURIOUS_REACH = {1: 1.5, 2: 4.5}    # cells
FIXTURE_IMAGES = (34417, 183709, 217285, 397133)  # crowded, overlapping, small people
COMPILE_PROBE = """
import time, numpy as np
from manypose.decoders.cifcaf import CifCafDecoder
from manypose.heads.composite_fields import coco17_heads
outputs = {"cif": np.zeros((17, 5, 9, 9), np.float32), "caf": np.zeros((19, 8, 9, 9), np.float32)}
start = time.perf_counter()
CifCafDecoder(*coco17_heads())(outputs)
print(time.perf_counter() - start)
"""


def dev_fields(coco, input_size: int) -> dict:
    """{key: (image id, scale to input pixels, outputs)}, key "clean-ID" and "noisy-ID"."""
    heads = coco17_heads()
    encoder = CifCafEncoder(*heads)
    fields = {}
    for image_id in sorted(coco.getImgIds()):
        info = coco.imgs[image_id]
        people = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
        scale, rows, cols = cifcaf_geometry(info["width"], info["height"], input_size, heads[0].stride)
        keypoints = np.array([person["keypoints"] for person in people], np.float64).reshape(-1, 17, 3)
        keypoints[..., :2] *= scale
        clean = encoder(keypoints, rows, cols).as_outputs()
        noisy = {name: with_noise(values, np.random.default_rng(image_id)) for name, values in clean.items()}
        fields[f"clean-{image_id}"] = (image_id, scale, stored(clean))
        fields[f"noisy-{image_id}"] = (image_id, scale, stored(noisy))
    return fields


def with_noise(fields: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of one head's fields (F, 2 + 3V, H, W) as a noisy network might output them."""
    fields = fields.copy()
    count, components, height, width = fields.shape
    vectors = (components - 2) // 3
    positions, scales = fields[:, 2:2 + 2 * vectors], fields[:, 2 + 2 * vectors:]
    found = fields[:, 1] > 0
    fields[:, 1][found] *= rng.uniform(0.4, 1.0, found.sum())
    positions.transpose(0, 2, 3, 1)[found] += rng.normal(0, POSITION_NOISE[vectors], (found.sum(), 2 * vectors))
    scales.transpose(0, 2, 3, 1)[found] *= rng.uniform(0.7, 1.3, (found.sum(), vectors))
    spurious = (rng.random((count, height, width)) < SPURIOUS_SHARE) & ~found
    field, row, col = np.nonzero(spurious)
    fields[field, 1, row, col] = rng.uniform(0.2, 0.7, len(field))
    for v in range(vectors):
        fields[field, 2 + 2 * v, row, col] = col + rng.uniform(-1, 1, len(field)) * SPURIOUS_REACH[vectors]
        fields[field, 3 + 2 * v, row, col] = row + rng.uniform(-1, 1, len(field)) * SPURIOUS_REACH[vectors]
        fields[field, 2 + 2 * vectors + v, row, col] = rng.uniform(0.5, 3.0, len(field))
    return fields


def stored(outputs: dict) -> dict:
    """float16 fields, zero below STORED_CONFIDENCE: what both decoders read."""
    return {name: np.where(values[:, 1:2] >= STORED_CONFIDENCE, values, 0).astype(np.float16)
            for name, values in outputs.items()}


def decode_ours(fields: dict, repeats: int, complete_poses: bool, seed_local_maxima: bool = False) -> dict:
    options = DecoderOptions(score_threshold=0.0, complete_poses=complete_poses)
    decoder = CifCafDecoder(*coco17_heads(), options, seed_local_maxima=seed_local_maxima)
    decoded = {}
    for key, (_, _, outputs) in fields.items():
        outputs = {name: values.astype(np.float32) for name, values in outputs.items()}
        decoder(outputs)  # untimed: the first call loads (or compiles) numba's code
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            _, scores, keypoints = decoder(outputs)
            times.append((time.perf_counter() - start) * 1e3)
        decoded[key] = {"keypoints": keypoints, "scores": scores, "ms": times}
    return decoded


def decode_openpifpaf(python: str, fields: dict, repeats: int, complete_poses: bool, scratch: Path) -> dict:
    fields_file, out_file = scratch / "fields.npz", scratch / "openpifpaf.npz"
    arrays = {"keys": np.array(list(fields))}
    for key, (_, _, outputs) in fields.items():
        arrays.update({f"{key}/{name}": values for name, values in outputs.items()})
    np.savez(fields_file, **arrays)
    subprocess.run([python, str(RUNNER), "--fields", str(fields_file), "--out", str(out_file),
                    "--repeats", str(repeats)] + (["--force-complete-pose"] if complete_poses else []), check=True)
    out = np.load(out_file)
    return {key: {"keypoints": out[f"{key}/keypoints"], "scores": out[f"{key}/scores"],
                  "ms": out[f"{key}/ms"], "core_ms": out[f"{key}/core_ms"]} for key in fields}


def coco_results(fields: dict, decoded: dict, variant: str) -> list[dict]:
    results = []
    for key, (image_id, scale, _) in fields.items():
        if key.startswith(variant):
            keypoints = decoded[key]["keypoints"].copy()
            keypoints[..., :2] /= scale
            results += [{"image_id": image_id, "category_id": 1, "keypoints": pose.reshape(-1).tolist(),
                         "score": float(score)} for pose, score in zip(keypoints, decoded[key]["scores"])]
    return results


def compile_seconds() -> float:
    """The first call's time in a fresh interpreter with an empty numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        probe = subprocess.run([sys.executable, "-c", COMPILE_PROBE], check=True, capture_output=True, text=True,
                               env=dict(os.environ, NUMBA_CACHE_DIR=cache))
    return float(probe.stdout.split()[-1])


def mean_of_medians(decoded: dict, keys, name: str) -> float:
    return statistics.mean(statistics.median(decoded[key][name]) for key in keys)


def summary(coco, fields: dict, decoded: dict) -> dict:
    """Per variant and decoder: ms/image, AP, and the share of images with as many people as
    OpenPifPaf's; the C++ part's ms/image."""
    figures = {}
    for variant in ("clean", "noisy"):
        keys = [key for key in fields if key.startswith(variant)]
        theirs = decoded["OpenPifPaf"]
        figures[variant] = {label: {
            "ms": mean_of_medians(result, keys, "ms"),
            "AP": coco_keypoint_stats(coco, coco_results(fields, result, variant))[0]["AP"],
            "same_people_count": np.mean([len(result[key]["scores"]) == len(theirs[key]["scores"]) for key in keys]),
        } for label, result in decoded.items()}
        figures[variant]["OpenPifPaf"]["cpp_ms"] = mean_of_medians(theirs, keys, "core_ms")
    return figures


def save_fixture(path: Path, fields: dict, theirs: dict, with_fields: bool) -> None:
    arrays = {}
    for key, (image_id, _, outputs) in fields.items():
        if image_id in FIXTURE_IMAGES:
            if with_fields:
                arrays.update({f"{key}/{name}": values for name, values in outputs.items()})
            arrays[f"{key}/keypoints"] = theirs[key]["keypoints"]
            arrays[f"{key}/scores"] = theirs[key]["scores"]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--openpifpaf-python", default=str(PEERS_PYTHON), help="an interpreter with openpifpaf 0.13")
    add_annotations_argument(parser)
    parser.add_argument("--input-size", type=int, default=641)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--complete-poses", action="store_true", help="both decoders as OpenPifPaf's evaluation runs")
    add_stats_output_argument(parser)
    parser.add_argument("--save-fixture", type=Path, help="write the test fixture here")
    args = parser.parse_args()

    coco = load_coco(args.annotations)
    fields = dev_fields(coco, args.input_size)
    compile_s = compile_seconds()
    decoded = {"manypose": decode_ours(fields, args.repeats, args.complete_poses),
               "manypose, fast seeds": decode_ours(fields, args.repeats, args.complete_poses, seed_local_maxima=True)}
    with tempfile.TemporaryDirectory() as scratch:
        decoded["OpenPifPaf"] = decode_openpifpaf(args.openpifpaf_python, fields, args.repeats, args.complete_poses,
                                                  Path(scratch))
    figures = summary(coco, fields, decoded)
    print(f"{'fields':<7} {'decoder':<21} {'ms/image':>8} {'/ OpenPifPaf':>12} {'/ its C++ part':>14} "
          f"{'same count':>10} {'AP':>6}")
    for variant, rows in figures.items():
        theirs = rows["OpenPifPaf"]
        for label, row in rows.items():
            print(f"{variant:<7} {label:<21} {row['ms']:>8.2f} {row['ms'] / theirs['ms']:>12.2f} "
                  f"{row['ms'] / theirs['cpp_ms']:>14.2f} {row['same_people_count']:>10.0%} {row['AP']:>6.3f}")
        print(f"{variant:<7} {'OpenPifPaf, C++ part':<21} {theirs['cpp_ms']:>8.2f}")
    print(f"numba compile time (first call, empty cache): {compile_s:.1f} s, not in the timings above")
    figures["numba_compile_s"] = compile_s
    write_stats_output(args.stats_output, figures)
    if args.save_fixture:
        save_fixture(args.save_fixture, fields, decoded["OpenPifPaf"], with_fields=not args.complete_poses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
