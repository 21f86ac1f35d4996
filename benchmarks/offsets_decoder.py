"""SimplePose V2 (OffsetGuided) decoding speed with 20 people on a 640-pixel input.

    python benchmarks/offsets_decoder.py [--people 20] [--rounds 200] [--seed 0]

Real people (the dev set's annotated people with 10 or more keypoints, each scaled to a height
drawn from 80 to 300 pixels) are placed at random on a 640 x 640 input, encoded as the fields a
network that learnt them outputs (160 x 160 cells at stride 4), then decoded; the decoder's
time per image (median over rounds, after a warm-up that compiles it) is printed with how many
people it found. One JSON line last: {"people", "found", "decode_ms_median", "decode_ms_p90"}.
"""
from __future__ import annotations

import json
import statistics
import time

import numpy as np
from common import VAL_ANNOTATIONS, benchmark_parser

from manypose.decoders.guiding_offsets import GuidingOffsetDecoder
from manypose.encoders.guiding_offsets import GuidingOffsetEncoder
from manypose.heads.guiding_offsets import GuidingOffsetsHead
from manypose.skeleton import COCO17

SIZE = 640


def dev_people() -> list[np.ndarray]:
    """The dev set's people with 10 or more labelled keypoints, (17, 3) each, their box at the origin."""
    annotations = json.loads(VAL_ANNOTATIONS.read_text())["annotations"]
    people = []
    for annotation in annotations:
        if annotation["num_keypoints"] >= 10 and not annotation["iscrowd"]:
            person = np.array(annotation["keypoints"], np.float64).reshape(17, 3)
            labelled = person[:, 2] > 0
            person[labelled, :2] -= person[labelled, :2].min(axis=0)
            people.append(person)
    return people


def scene(people: list[np.ndarray], count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` people drawn from `people`, scaled and placed at random on the input."""
    placed = []
    for index in rng.integers(len(people), size=count):
        person = people[index].copy()
        labelled = person[:, 2] > 0
        height = rng.uniform(80, 300)
        person[labelled, :2] *= height / max(1.0, np.ptp(person[labelled, 1]))
        extent = person[labelled, :2].max(axis=0)
        person[labelled, :2] += rng.uniform(0, np.maximum(1.0, SIZE - 1 - extent))
        placed.append(person)
    return np.array(placed)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    head = GuidingOffsetsHead(COCO17)
    rng = np.random.default_rng(args.seed)
    people = scene(dev_people(), args.people, rng)
    fields = GuidingOffsetEncoder(head)(people, SIZE // head.stride, SIZE // head.stride).as_outputs()
    decoder = GuidingOffsetDecoder(head.limbs, len(COCO17), head.stride, min_person_score=0.0)
    decoder(fields)  # compiles
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        _, scores, _ = decoder(fields)
        times.append((time.perf_counter() - start) * 1e3)
    median, p90 = statistics.median(times), float(np.percentile(times, 90))
    print(f"{args.people} people on {SIZE} px ({fields.shape[2]} x {fields.shape[1]} cells): found {len(scores)}, "
          f"decoding {median:.2f} ms median, {p90:.2f} ms p90 over {args.rounds} rounds")
    print(json.dumps({"people": args.people, "found": len(scores), "decode_ms_median": round(median, 3),
                      "decode_ms_p90": round(p90, 3)}))


if __name__ == "__main__":
    main()
