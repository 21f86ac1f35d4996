"""Run Lightweight OpenPose's own Python grouping (modules/keypoints.py of its repository) on
saved network outputs, the way its demo does (bicubic x4 upsampling), for benchmarks/paf_decoder.py.

Usage: python lightweight_openpose.py --src LOP_SOURCE --raw-dir DIR --sizes SIZES.json --out OUT.json
"""
import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

COCO_FROM_OPENPOSE = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]


def main():
    parser = argparse.ArgumentParser()
    for option in ("--src", "--raw-dir", "--sizes", "--out"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.src)
    from modules.keypoints import extract_keypoints, group_keypoints

    sizes = json.loads(Path(args.sizes).read_text())
    predictions, postprocess_ms, grouping_ms = [], [], []
    for image_id, (width, height) in sizes.items():
        fields = np.load(Path(args.raw_dir) / f"{image_id}.npy")
        start = time.perf_counter()
        heatmaps = cv2.resize(fields[..., :19], None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
        pafs = cv2.resize(fields[..., 19:], None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
        middle = time.perf_counter()
        found, total = [], 0
        for part in range(18):
            total += extract_keypoints(heatmaps[:, :, part], found, total)
        entries, keypoints = group_keypoints(found, pafs)
        end = time.perf_counter()
        postprocess_ms.append((end - start) * 1e3)
        grouping_ms.append((end - middle) * 1e3)
        scale_x, scale_y = width / heatmaps.shape[1], height / heatmaps.shape[0]
        for entry in entries:
            points = []
            for part in COCO_FROM_OPENPOSE:
                index = int(entry[part])
                points += ([keypoints[index, 0] * scale_x, keypoints[index, 1] * scale_y, keypoints[index, 2]]
                           if index >= 0 else [0.0, 0.0, 0.0])
            predictions.append({"image_id": int(image_id), "category_id": 1, "keypoints": [float(v) for v in points],
                                "score": float(entry[-2] * max(0, entry[-1] - 1))})
    Path(args.out).write_text(json.dumps({"predictions": predictions,
                                          "postprocess_ms": postprocess_ms, "grouping_ms": grouping_ms}))


if __name__ == "__main__":
    main()
