"""Encode the dev ground truth as a head's training targets, decode them back, and score the
poses against the ground truth (COCO OKS AP): how much the encoder and decoder lose together.

    python benchmarks/round_trip.py --head displacements|cifcaf|cifcaf-dense|offsets [--input-size N]
        [--annotations ../shared/data/coco-mini/annotations/person_keypoints_val2017.json]
        [--images ../shared/data/coco-mini/val2017]

Each reading prints pycocotools' summary; the last line is JSON: {"head", "input_size", "AP"
(the imputed reading: the codec's own loss), "AP_labelled", "poses"}. Image sizes come from
the images when --images is given, else from the annotations.

offsets: SimplePose V2's heatmaps, refinement and guiding offsets (stride 4). The image is scaled
so that its long side spans input-size pixels, the targets are what a network that learnt them
would output, and the guiding-offset decoder groups them (no score threshold). Same two readings.

displacements: PoseNet's heatmaps, offsets and tree displacements. Images are brought to the
input as PoseNet brings them (centred zero padding to a square, then a resize to input-size),
the annotations mapped forward, the targets encoded on the stride-16 grid, the decoded poses
mapped back to the image. The decoder reads heatmap logits: the binary heatmaps become
+-HEATMAP_LOGIT. Two readings:
- labelled: the targets as the encoder makes them (it routes the tree's displacements through
  unlabelled keypoints that lie between labelled ones); people of one or two keypoints without
  a path between them still come out split;
- imputed: each person's unlabelled keypoints are first put at the mean of its labelled ones
  (then encoded as labelled), as a network that predicts hidden keypoints somewhere plausible
  would route through them; the ground truth ignores them. This isolates the codec's own loss.

cifcaf: OpenPifPaf's composite fields (COCO person heads, stride 8; cifcaf-dense adds the dense
associations). The image is scaled so that its long side spans input-size - 1 pixels (default
641: OpenPifPaf's evaluation size), the grid covers it (cell i at pixel 8 i), the targets become
the fields a network that learnt them would output (`CifCafTargets.as_outputs`, keypoints of
unknown scale at 1 cell) and OpenPifPaf's decoder turns them into poses (no score threshold).
Regions to ignore (crowds, people without keypoints) are left out: they only mean "do not
learn here". Same two readings: labelled (a person's keypoints with no skeleton path between
them come out as separate poses; people with fewer than 3 keypoints are below the decoder's
instance threshold) and imputed (the imputed keypoints marked visible: the encoder drops a
hidden keypoint near a visible one of another person).
"""
from __future__ import annotations

import json
import math
import sys
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from common import add_annotations_argument, benchmark_parser

from manypose.decoders import DecoderOptions
from manypose.decoders.cifcaf import CifCafDecoder
from manypose.decoders.displacements import POSENET_TREE, DisplacementDecoder, round_half_up
from manypose.decoders.guiding_offsets import GuidingOffsetDecoder
from manypose.encoders.cifcaf import CifCafEncoder
from manypose.encoders.displacements import DisplacementEncoder
from manypose.encoders.guiding_offsets import GuidingOffsetEncoder
from manypose.evaluate import coco_keypoint_stats, load_coco
from manypose.heads.composite_fields import coco17_heads
from manypose.heads.guiding_offsets import GuidingOffsetsHead
from manypose.skeleton import COCO17

HEATMAP_LOGIT = 10.0
POSENET_STRIDE = 16


def posenet_padding(width: int, height: int) -> tuple[int, int]:
    """(top = bottom, left = right) padding: posenet 2.2.2 rounds half the difference on both
    sides, so an odd difference leaves the padded image a pixel off square."""
    side = max(width, height)
    return round_half_up((side - height) / 2), round_half_up((side - width) / 2)


def with_unlabelled_imputed(keypoints: np.ndarray, visibility: int = 1) -> np.ndarray:
    """People (N, K, 3) whose unlabelled keypoints sit at the mean of their labelled ones, with
    `visibility`."""
    imputed = keypoints.copy()
    for person in imputed:
        labelled = person[:, 2] > 0
        if labelled.any():
            person[~labelled, :2] = person[labelled, :2].mean(axis=0)
            person[~labelled, 2] = visibility
    return imputed


def annotated_people(coco):
    """(image id, image info, people's keypoints (N, 17, 3) float64) of each image with people."""
    for image_id in sorted(coco.getImgIds()):
        people = coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
        if people:
            keypoints = np.array([person["keypoints"] for person in people], np.float64).reshape(-1, 17, 3)
            yield image_id, coco.imgs[image_id], keypoints


def coco_results(image_id, decoded: np.ndarray, scores: np.ndarray) -> list[dict]:
    return [{"image_id": image_id, "category_id": 1, "keypoints": pose.reshape(-1).tolist(), "score": float(score)}
            for pose, score in zip(decoded, scores)]


def cifcaf_geometry(width: int, height: int, input_size: int, stride: int) -> tuple[float, int, int]:
    """Scale from image to input pixels (the long side spans input_size - 1) and the grid's rows,
    cols (cell i at input pixel stride i, the last at or beyond the image's far edge)."""
    scale = (input_size - 1) / max(width, height)
    return scale, math.ceil(height * scale / stride) + 1, math.ceil(width * scale / stride) + 1


def cifcaf_round_trip(coco, input_size: int, impute: bool, dense: bool = False) -> list[dict]:
    """COCO results: every image's people encoded as composite fields and decoded."""
    heads = coco17_heads(dense=dense)
    encoder = CifCafEncoder(*heads)
    decoder = CifCafDecoder(*heads, DecoderOptions(score_threshold=0.0))
    results = []
    for image_id, info, keypoints in annotated_people(coco):
        scale, rows, cols = cifcaf_geometry(info["width"], info["height"], input_size, heads[0].stride)
        keypoints[..., :2] *= scale
        if impute:
            keypoints = with_unlabelled_imputed(keypoints, visibility=2)
        _, scores, decoded = decoder(encoder(keypoints, rows, cols).as_outputs())
        decoded[..., :2] /= scale
        results += coco_results(image_id, decoded, scores)
    return results


def displacements_round_trip(coco, input_size: int, impute: bool) -> list[dict]:
    """COCO results: every image's people encoded and decoded at `input_size`."""
    encoder = DisplacementEncoder(POSENET_TREE, POSENET_STRIDE)
    decoder = DisplacementDecoder(POSENET_TREE, POSENET_STRIDE, score_threshold=0.5, nms_radius=20.0, max_poses=100)
    grid = (input_size - 1) // POSENET_STRIDE + 1
    results = []
    for image_id, info, keypoints in annotated_people(coco):
        pad_y, pad_x = posenet_padding(info["width"], info["height"])
        shift = np.array([pad_x, pad_y], np.float64)
        scale = input_size / np.array([info["width"] + 2 * pad_x, info["height"] + 2 * pad_y], np.float64)
        keypoints[..., :2] = (keypoints[..., :2] + shift) * scale
        targets = encoder(with_unlabelled_imputed(keypoints) if impute else keypoints, grid, grid)
        targets["heatmaps"] = np.where(targets["heatmaps"] > 0, HEATMAP_LOGIT, -HEATMAP_LOGIT)
        _, scores, decoded = decoder(targets)
        decoded[..., :2] = decoded[..., :2] / scale - shift
        results += coco_results(image_id, decoded, scores)
    return results


def offsets_round_trip(coco, input_size: int, impute: bool) -> list[dict]:
    """COCO results: every image's people encoded as heatmaps and guiding offsets, and decoded."""
    head = GuidingOffsetsHead(COCO17)
    encoder = GuidingOffsetEncoder(head)
    decoder = GuidingOffsetDecoder(head.limbs, len(COCO17), head.stride, min_person_score=0.0)
    results = []
    for image_id, info, keypoints in annotated_people(coco):
        scale = input_size / max(info["width"], info["height"])
        rows, cols = (math.ceil(side * scale / head.stride) for side in (info["height"], info["width"]))
        keypoints[..., :2] = (keypoints[..., :2] + 0.5) * scale  # COCO's integer pixels: their centres
        if impute:
            keypoints = with_unlabelled_imputed(keypoints)
        _, scores, decoded = decoder(encoder(keypoints, rows, cols).as_outputs())
        decoded[..., :2] = decoded[..., :2] / scale - 0.5
        results += coco_results(image_id, decoded, scores)
    return results


HEADS = {  # round trip, default input size
    "displacements": (displacements_round_trip, 385),
    "cifcaf": (cifcaf_round_trip, 641),
    "cifcaf-dense": (partial(cifcaf_round_trip, dense=True), 641),
    "offsets": (offsets_round_trip, 640),
}


def sizes_from_images(coco, images: Path) -> None:
    """Put each annotated image's real size into the annotations (a wrong pairing stops here)."""
    for info in coco.imgs.values():
        image = cv2.imread(str(images / info["file_name"]), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise SystemExit(f"{images / info['file_name']}: missing or unreadable")
        info["height"], info["width"] = image.shape[:2]


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--head", choices=sorted(HEADS), required=True)
    add_annotations_argument(parser)
    parser.add_argument("--images", type=Path, help="the annotated images (default: sizes from the annotations)")
    parser.add_argument("--input-size", type=int, help="default: 385 for displacements, 641 for cifcaf, 640 for "
                                                          "offsets")
    args = parser.parse_args()

    coco = load_coco(args.annotations)
    if args.images:
        sizes_from_images(coco, args.images)
    round_trip, default_size = HEADS[args.head]
    input_size = args.input_size or default_size
    ap = {}
    for reading, impute in (("labelled", False), ("imputed", True)):
        results = round_trip(coco, input_size, impute)
        stats, summary = coco_keypoint_stats(coco, results)
        ap[reading] = round(stats["AP"], 4)
        print(f"{args.head} round trip at {input_size}, {reading}: AP {stats['AP']:.3f} "
              f"({len(results)} poses)\n{summary}")
    print(json.dumps({"head": args.head, "input_size": input_size, "AP": ap["imputed"], "AP_labelled": ap["labelled"],
                      "poses": len(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
