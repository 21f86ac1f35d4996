"""Phone photos at network speed: the dev images enlarged to 12 and 48 megapixels, end to end,
latency and network for full and reduced JPEG decoding, beside Ultralytics' pipeline on the
same files, and dev AP with both decodings (same model, the enlarged annotations).

    python benchmarks/large_images.py [--images 8] [--rounds 2] [--ap-images 79] [--ap-sizes dev,12MP]
                                      [--ap-variants 1] [--ap-on-train]

The bundled model in float32 and INT8 (onnxruntime), on the 640-pixel dev images as they are
(the baseline) and enlarged. The enlarged JPEGs (quality 92, long side 4032 and 8064: 4032 x 3024 and 8064 x 6048 for the
4:3 images) are written once to a cache folder (--cache). With --ap-variants K, AP is the mean
over K enlargements of each scored image (each 64 pixels shorter than the last, JPEG quality 92,
88, 95 in turn): the pixel-level luck of one enlargement averages out, the luck of the images
scored does not. Ultralytics runs in the peers venv (../shared/peers/setup_peers.sh); without it
its columns are left out. The last line is JSON.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from common import (TRAIN_ANNOTATIONS, TRAIN_IMAGES, ULTRALYTICS_TIMER, VAL_ANNOTATIONS, VAL_IMAGES, add_peer_arguments,
                    benchmark_parser, last_line_json)
from tqdm import tqdm

import manypose
from manypose.decoders import DecoderOptions
from manypose.bench import benchmark
from manypose.data.images import declared_size, read_image
from manypose.evaluate import coco_keypoint_stats, load_coco

SIZES = {"12MP": 4032, "48MP": 8064}  # long side
EVAL_SCORE = 0.01  # manypose eval's score threshold
VARIANT_QUALITIES = (92, 88, 95)
VARIANT_STEP = 64  # pixels off the long side from one variant to the next


def enlarged_set(cache: Path, label: str, long_side: int, files: list[Path], quality: int = 92) -> Path:
    """The files enlarged (cubic) to `long_side`, as JPEGs of `quality`, made once."""
    folder = cache / label
    folder.mkdir(parents=True, exist_ok=True)
    for path in tqdm(files, desc=f"enlarging to {label}", unit="image"):
        target = folder / path.name
        if not target.exists():
            image = cv2.imread(str(path))
            factor = long_side / max(image.shape[:2])
            size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
            cv2.imwrite(str(target), cv2.resize(image, size, interpolation=cv2.INTER_CUBIC),
                        [cv2.IMWRITE_JPEG_QUALITY, quality])
    return folder


def enlarged_annotations(folder: Path, count: int, annotations: Path = VAL_ANNOTATIONS):
    """The first `count` images' annotations on their enlarged files: coordinates times each
    image's factor."""
    data = json.loads(Path(annotations).read_text())
    data["images"] = sorted(data["images"], key=lambda image: image["id"])[:count]
    factors = {}
    for image in data["images"]:
        width, height = declared_size((folder / image["file_name"]).read_bytes())
        factors[image["id"]] = width / image["width"]
        image["width"], image["height"] = width, height
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in factors]
    for annotation in data["annotations"]:
        factor = factors[annotation["image_id"]]
        keypoints = np.asarray(annotation["keypoints"], float).reshape(-1, 3)
        keypoints[:, :2] *= factor
        annotation["keypoints"] = keypoints.ravel().tolist()
        annotation["bbox"] = [v * factor for v in annotation["bbox"]]
        annotation["area"] *= factor ** 2
        annotation.pop("segmentation", None)
    path = folder / f"annotations-{count}.json"
    path.write_text(json.dumps(data))
    return load_coco(path)


def scored_ap(estimator, coco, folder: Path) -> dict:
    """AP with reduced decoding (the estimator given the path) and full decoding (given the
    whole decoded image)."""
    found = {"reduced": [], "full": []}
    for image_id, image in tqdm(sorted(coco.imgs.items()), desc=f"AP on {folder.name}", unit="image"):
        path = folder / image["file_name"]
        found["reduced"] += estimator(path).to_coco(image_id)
        found["full"] += estimator(read_image(path)).to_coco(image_id)
    return {mode: round(coco_keypoint_stats(coco, results)[0]["AP"], 4) for mode, results in found.items()}


def ultralytics_speed(args, folder: Path) -> dict | None:
    if not args.peer_python.exists():
        return None
    done = subprocess.run([str(args.peer_python), "-c", ULTRALYTICS_TIMER, str(args.weights), str(folder), str(args.rounds)],
                          capture_output=True, text=True)
    if done.returncode:
        print(f"Ultralytics failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return last_line_json(done.stdout)


def scored_set(args, label: str, annotations: Path, images: Path, variant: int = 0):
    """The annotations and folder AP is scored on: the first --ap-images images, enlarged to
    `label`'s size (less `variant` steps) or as they are ("dev")."""
    coco = load_coco(annotations)
    first = sorted(coco.imgs)[:args.ap_images]
    files = [images / coco.imgs[i]["file_name"] for i in first]
    if label == "dev":
        folder = linked_set(args.cache / f"{images.name}-{args.ap_images}", files)
    else:
        name = label if variant == 0 else f"{label}-variant{variant}"
        folder = enlarged_set(args.cache / images.name, name, SIZES[label] - VARIANT_STEP * variant, files,
                              VARIANT_QUALITIES[variant % len(VARIANT_QUALITIES)])
    return enlarged_annotations(folder, args.ap_images, annotations), folder


def variants_ap(args, evaluated, label: str, annotations: Path, images: Path) -> dict:
    """AP with both decodings, the mean over --ap-variants enlargements (one for "dev", which
    is not enlarged), each variant's and the spread of their differences."""
    count = 1 if label == "dev" else args.ap_variants
    each = [scored_ap(evaluated, *scored_set(args, label, annotations, images, k)) for k in range(count)]
    figures = {mode: round(statistics.mean(ap[mode] for ap in each), 4) for mode in ("reduced", "full")}
    if count > 1:
        differences = [ap["reduced"] - ap["full"] for ap in each]
        figures |= {"variants": each, "difference_sd": round(statistics.stdev(differences), 4)}
    return figures


def linked_set(folder: Path, files: list[Path]) -> Path:
    """`folder` holding links to `files` (a chosen few, or images scored as they are)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        if not (folder / path.name).exists():
            (folder / path.name).symlink_to(path.resolve())
    return folder


def speeds(args, estimators: dict, folder: Path, decodings) -> dict:
    figures = {f"{name} {decoding}": benchmark(estimator, folder, args.rounds, full_images=decoding == "full")
               for name, estimator in estimators.items() for decoding in decodings}
    figures["Ultralytics"] = ultralytics_speed(args, folder)
    return figures


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--images", type=int, default=8, help="dev images timed per size (default 8)")
    parser.add_argument("--ap-images", type=int, default=79, help="dev images scored for AP (default all 79)")
    parser.add_argument("--ap-sizes", default="dev,12MP", help="sets scored for AP (default dev,12MP; also 48MP)")
    parser.add_argument("--ap-variants", type=int, default=1,
                        help="enlargements of each scored image, AP their mean (default 1)")
    parser.add_argument("--ap-on-train", action="store_true",
                        help="score AP on the first --ap-images train images instead of the dev images "
                             "(a check on images that played no part in the choice)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/manypose-large-images"))
    add_peer_arguments(parser)
    args = parser.parse_args()

    files = sorted(VAL_IMAGES.glob("*.jpg"))
    scored_annotations, scored_images = (TRAIN_ANNOTATIONS, TRAIN_IMAGES) if args.ap_on_train else \
        (VAL_ANNOTATIONS, VAL_IMAGES)
    estimators = {"fp32": manypose.load(), "int8": manypose.load(int8=True)}
    ap_sizes = args.ap_sizes.split(",")
    sets = {"dev": linked_set(args.cache / f"dev-timed-{args.images}", files[:args.images])}
    for label, long_side in SIZES.items():
        folder = enlarged_set(args.cache, label, long_side, files[:args.images])
        sets[label] = linked_set(args.cache / f"{label}-timed-{args.images}", sorted(folder.glob("*.jpg"))[:args.images])
    figures = {"model": estimators["fp32"].name, "backend": estimators["fp32"].backend.name,
               "AP images": f"the first {args.ap_images} {'train' if args.ap_on_train else 'dev'} images"}
    for label, folder in sets.items():
        figures[label] = speeds(args, estimators, folder, ("reduced",) if label == "dev" else ("full", "reduced"))
    evaluated = estimators["fp32"].reconfigured(decoder=DecoderOptions.from_given(score_threshold=EVAL_SCORE))
    for label in ap_sizes:
        figures[label]["AP"] = variants_ap(args, evaluated, label, scored_annotations, scored_images)
    report(figures)
    print(json.dumps(figures))
    return 0


def report(figures: dict) -> None:
    print("ms/image; end to end: a pass over the folder; latency: one image alone; network: the network alone")
    print(f"{'set':<6} {'run':<14} {'end to end':>10} {'latency':>8} {'network':>8} {'e2e/net':>8} "
          f"{'lat/net':>8} {'Ultralytics e2e / this':>23}")
    for label in ("dev", *SIZES):
        runs = figures[label]
        theirs = runs["Ultralytics"]
        for run, ours in runs.items():
            if run in ("Ultralytics", "AP"):
                continue
            ahead = f"{theirs['e2e_ms_median'] / ours['e2e_ms_median']:.2f}x" if theirs else "-"
            print(f"{label:<6} {run:<14} {ours['e2e_ms_median']:>10.1f} {ours['latency_ms_median']:>8.1f} "
                  f"{ours['network_ms_median']:>8.1f} {ours['e2e_over_network']:>8.2f} "
                  f"{ours['latency_over_network']:>8.2f} {ahead:>23}")
        if theirs:
            print(f"{label:<6} {'Ultralytics':<14} {theirs['e2e_ms_median']:>10.1f} {theirs['latency_ms_median']:>8.1f}")
    for label in ("dev", *SIZES):
        if "AP" in figures[label]:
            ap = figures[label]["AP"]
            spread = f" (mean of {len(ap['variants'])} enlargements; sd of the difference " \
                     f"{ap['difference_sd']:.4f})" if "variants" in ap else ""
            print(f"AP on {label}, {figures['AP images']} (score threshold {EVAL_SCORE}, as eval): "
                  f"reduced decoding {ap['reduced']:.4f}, full decoding {ap['full']:.4f}{spread}")


if __name__ == "__main__":
    sys.exit(main())
