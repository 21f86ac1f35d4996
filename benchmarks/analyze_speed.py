"""`manypose analyze` on a COCO val-sized input: the dev annotations repeated to about 5,000
images, with results near every person (jittered ground truth) and strays, timed beside one
pycocotools evaluation of the same files.

    python benchmarks/analyze_speed.py [--copies 64] [--output /tmp/manypose-analyze-speed]

The last line is JSON: images, results, seconds for the whole analysis and for pycocotools'
evaluation alone.
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from common import VAL_ANNOTATIONS, benchmark_parser

from manypose.analysis.run import analyze


def repeated_set(copies: int, folder: Path) -> tuple[Path, Path, int, int]:
    """The dev annotations `copies` times over (new ids), and jittered results for each copy."""
    data = json.loads(Path(VAL_ANNOTATIONS).read_text())
    rng = np.random.default_rng(0)
    repeated = {"images": [], "annotations": [], "categories": data["categories"]}
    results = []
    for copy in range(copies):
        offset = copy * 10 ** 7
        repeated["images"] += [dict(image, id=image["id"] + offset) for image in data["images"]]
        for annotation in data["annotations"]:
            repeated["annotations"].append(dict(annotation, id=annotation["id"] + offset,
                                                image_id=annotation["image_id"] + offset))
            keypoints = np.array(annotation["keypoints"], float).reshape(-1, 3)
            keypoints[:, :2] += rng.normal(0, 0.05 * np.sqrt(annotation["area"] + 1), (len(keypoints), 2))
            keypoints[:, 2] = rng.random(len(keypoints))
            results.append({"image_id": annotation["image_id"] + offset, "category_id": 1,
                            "keypoints": keypoints.ravel().tolist(), "score": float(rng.random())})
            results.append({"image_id": annotation["image_id"] + offset, "category_id": 1,  # a stray
                            "keypoints": (keypoints + [200, 0, 0]).ravel().tolist(), "score": float(rng.random())})
    folder.mkdir(parents=True, exist_ok=True)
    annotations, predictions = folder / "annotations.json", folder / "results.json"
    annotations.write_text(json.dumps(repeated))
    predictions.write_text(json.dumps(results))
    return annotations, predictions, len(repeated["images"]), len(results)


def pycocotools_seconds(annotations: Path, predictions: Path) -> float:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(annotations))
        start = time.perf_counter()
        evaluation = COCOeval(coco, coco.loadRes(str(predictions)), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        return time.perf_counter() - start


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--copies", type=int, default=64, help="times the 79 dev images are repeated (default 64)")
    parser.add_argument("--output", type=Path, default=Path("/tmp/manypose-analyze-speed"))
    args = parser.parse_args()
    annotations, predictions, images, results = repeated_set(args.copies, args.output / "input")
    start = time.perf_counter()
    analyze(annotations, predictions, args.output / "report", progress=False)
    seconds = time.perf_counter() - start
    reference = pycocotools_seconds(annotations, predictions)
    print(f"{images} images, {results} results: the whole analysis {seconds:.1f} s "
          f"(report included); one pycocotools evaluation {reference:.1f} s")
    print(json.dumps({"images": images, "results": results, "analysis_seconds": round(seconds, 2),
                      "pycocotools_evaluation_seconds": round(reference, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
