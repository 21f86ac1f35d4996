#!/usr/bin/env python
"""Score tracking cases with py-motmetrics (CLEAR MOT, IDF1) and TrackEval (HOTA), for
benchmarks/tracking_metrics_parity.py. Runs in a scratch venv of its own (motmetrics needs
numpy < 2), never in manypose's:

    python3 -m venv /tmp/tracking-metrics-venv
    /tmp/tracking-metrics-venv/bin/pip install motmetrics==1.4.0 trackeval==1.3.0
    /tmp/tracking-metrics-venv/bin/pip install "numpy<2"   # pip warns: TrackEval asks for numpy 2, its HOTA runs on 1.26

    python tracking_metrics.py CASES.json   # prints one JSON list, a dict of figures per case

CASES.json: a list of {"truth": frames, "predicted": frames}, a frame a list of [id, [x1, y1, x2, y2]].
"""
import json
import sys

import motmetrics
import numpy as np
from trackeval.metrics.hota import HOTA


def boxes(frame):
    return np.array([box for _, box in frame], dtype=float).reshape(-1, 4)


def iou(a, b):
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), -1)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], -1), np.prod(b[:, 2:] - b[:, :2], -1)
    return overlap / (area_a[:, None] + area_b[None] - overlap)


def clear_and_identity(case):
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for truth, predicted in zip(case["truth"], case["predicted"]):
        a, b = boxes(truth), boxes(predicted)
        a[:, 2:] -= a[:, :2]  # motmetrics takes x, y, w, h
        b[:, 2:] -= b[:, :2]
        distances = motmetrics.distances.iou_matrix(a, b, max_iou=0.5)
        accumulator.update([i for i, _ in truth], [i for i, _ in predicted], distances)
    names = {"mota": "mota", "idf1": "idf1", "idp": "idp", "idr": "idr", "num_switches": "id_switches",
             "num_false_positives": "false_positives", "num_misses": "misses"}
    summary = motmetrics.metrics.create().compute(accumulator, metrics=list(names))
    return {ours: float(summary[theirs].iloc[0]) for theirs, ours in names.items()}


def hota(case):
    def dense(frames):
        ids = {i: k for k, i in enumerate(sorted({i for frame in frames for i, _ in frame}))}
        return ids, [np.array([ids[i] for i, _ in frame], dtype=int) for frame in frames]

    truth_ids, truth_dense = dense(case["truth"])
    predicted_ids, predicted_dense = dense(case["predicted"])
    data = {"num_gt_dets": sum(map(len, case["truth"])), "num_tracker_dets": sum(map(len, case["predicted"])),
            "num_gt_ids": len(truth_ids), "num_tracker_ids": len(predicted_ids),
            "gt_ids": truth_dense, "tracker_ids": predicted_dense,
            "similarity_scores": [iou(boxes(t), boxes(p)) for t, p in zip(case["truth"], case["predicted"])]}
    result = HOTA().eval_sequence(data)
    return {"hota": float(np.mean(result["HOTA"])), "deta": float(np.mean(result["DetA"])),
            "assa": float(np.mean(result["AssA"]))}


cases = json.loads(open(sys.argv[1]).read())
print(json.dumps([{**clear_and_identity(case), **hota(case)} for case in cases]))
