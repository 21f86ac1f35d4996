"""Encode the dev ground truth as a head's training targets, decode them back, and score the
poses against the ground truth (COCO OKS AP): how much the encoder and decoder lose together.

    python benchmarks/round_trip.py --head displacements [--input-size 385]
        [--annotations ../shared/data/coco-mini/annotations/person_keypoints_val2017.json]

displacements: PoseNet's heatmaps, offsets and tree displacements. Images are brought to the
input as PoseNet brings them (centred zero padding to a square, then a resize to input-size),
the annotations mapped forward, the targets encoded on the stride-16 grid, the decoded poses
mapped back to the image. The decoder reads heatmap logits: the binary heatmaps become
+-HEATMAP_LOGIT. Two readings:
- labelled: the targets as the encoder makes them. PoseNet's tree goes through the nose, so a
  person whose nose (or another inner keypoint) is unlabelled has no displacement across it and
  the far side of the tree is lost: this is what the annotations allow, not a codec error;
- imputed: each person's unlabelled keypoints are first put at the mean of its labelled ones
  (then encoded as labelled), as a network that predicts hidden keypoints somewhere plausible
  would route through them; the ground truth ignores them. This isolates the codec's own loss.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from manypose.decoders.displacements import POSENET_TREE, DisplacementDecoder, round_half_up
from manypose.encoders.displacements import DisplacementEncoder
from manypose.evaluate import coco_keypoint_stats, load_coco

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEV_ANNOTATIONS = SHARED / "data/coco-mini/annotations/person_keypoints_val2017.json"
HEATMAP_LOGIT = 10.0
POSENET_STRIDE = 16


def posenet_padding(width: int, height: int) -> tuple[int, int]:
    """(top = bottom, left = right) padding: posenet 2.2.2 rounds half the difference on both
    sides, so an odd difference leaves the padded image a pixel off square."""
    side = max(width, height)
    return round_half_up((side - height) / 2), round_half_up((side - width) / 2)


def with_unlabelled_imputed(keypoints: np.ndarray) -> np.ndarray:
    """People (N, K, 3) whose unlabelled keypoints sit at the mean of their labelled ones."""
    imputed = keypoints.copy()
    for person in imputed:
        labelled = person[:, 2] > 0
        if labelled.any():
            person[~labelled, :2] = person[labelled, :2].mean(axis=0)
            person[~labelled, 2] = 1
    return imputed


def displacements_round_trip(coco, input_size: int, impute: bool) -> list[dict]:
    """COCO results: every image's people encoded and decoded at `input_size`."""
    encoder = DisplacementEncoder(POSENET_TREE, POSENET_STRIDE)
    decoder = DisplacementDecoder(POSENET_TREE, POSENET_STRIDE, score_threshold=0.5, nms_radius=20.0, max_poses=100)
    grid = (input_size - 1) // POSENET_STRIDE + 1
    results = []
    for image_id in sorted(coco.getImgIds()):
        info = coco.imgs[image_id]
        people = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
        if not people:
            continue
        pad_y, pad_x = posenet_padding(info["width"], info["height"])
        shift = np.array([pad_x, pad_y], np.float64)
        scale = input_size / np.array([info["width"] + 2 * pad_x, info["height"] + 2 * pad_y], np.float64)
        keypoints = np.array([person["keypoints"] for person in people], np.float64).reshape(-1, 17, 3)
        keypoints[..., :2] = (keypoints[..., :2] + shift) * scale
        targets = encoder(with_unlabelled_imputed(keypoints) if impute else keypoints, grid, grid)
        targets["heatmaps"] = np.where(targets["heatmaps"] > 0, HEATMAP_LOGIT, -HEATMAP_LOGIT)
        _, scores, decoded = decoder(targets)
        decoded[..., :2] = decoded[..., :2] / scale - shift
        results += [{"image_id": image_id, "category_id": 1, "keypoints": pose.reshape(-1).tolist(),
                     "score": float(score)} for pose, score in zip(decoded, scores)]
    return results


HEADS = {"displacements": displacements_round_trip}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--head", choices=sorted(HEADS), required=True)
    parser.add_argument("--annotations", default=str(DEV_ANNOTATIONS))
    parser.add_argument("--input-size", type=int, default=385)
    args = parser.parse_args()

    coco = load_coco(args.annotations)
    for reading, impute in (("labelled", False), ("imputed", True)):
        results = HEADS[args.head](coco, args.input_size, impute)
        stats, summary = coco_keypoint_stats(coco, results)
        print(f"{args.head} round trip at {args.input_size}, {reading}: AP {stats['AP']:.3f} "
              f"({len(results)} poses)\n{summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
