"""What KAPAO's fusion gives a model with keypoint objects: COCO keypoint AP of its pose objects
alone (--no-kp-dets) and with the keypoint objects fused, and how many keypoints were fused.

    python benchmarks/kapao_fusion.py --model M [--annotations COCO.json --images DIR]
    python benchmarks/kapao_fusion.py --prepare OUT [--model M]

--prepare writes M (default: the bundled yolo11n-pose) with a keypoint-object head (person score
kept, one class per keypoint at a low prior) as a model folder, to fine-tune with `manypose
train --model OUT`. Works with KAPAO's own checkpoints too. The last line printed is one JSON
object: {"AP_pose_objects": a, "AP_fused": b, "fused_keypoints": n}.
"""
from __future__ import annotations

import json

from common import VAL_IMAGES, add_annotations_argument, benchmark_parser


def main():
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", default=None)
    add_annotations_argument(parser)
    parser.add_argument("--images", default=str(VAL_IMAGES))
    parser.add_argument("--input-size", type=int, default=None)
    parser.add_argument("--prepare", metavar="OUT", help="write the model with a keypoint-object head and stop")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.model, args.prepare)
        return
    import manypose
    from manypose.evaluate import evaluate

    figures = {}
    for name, keypoint_objects in (("AP_pose_objects", False), ("AP_fused", True)):
        estimator = manypose.load(args.model, input_size=args.input_size, score_threshold=0.01,
                                  keypoint_objects=keypoint_objects)
        stats, _, failures = evaluate(estimator, args.annotations, args.images, progress=False)
        if failures:
            raise SystemExit("\n".join(failures))
        figures[name] = round(stats["AP"], 4)
        if keypoint_objects:
            figures["fused_keypoints"] = int(estimator.decoder.decode.fused_counts.sum())
    print(json.dumps(figures))


def prepare(model_name, out: str) -> None:
    from pathlib import Path

    from manypose import modelfile
    from manypose.train.keypoint_objects import with_keypoint_objects
    from manypose.zoo import find_model

    model = with_keypoint_objects(find_model(model_name), Path(out).name)
    modelfile.save(out, model.description, model.weights, dtype="float32")
    print(f"wrote {out}: train it with manypose train --model {out}")


if __name__ == "__main__":
    main()
