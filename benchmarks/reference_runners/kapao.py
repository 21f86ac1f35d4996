"""Make KAPAO's parity data with its own code (github wmcnally/kapao): a small random-weight model
built from its yolov5s6.yaml, saved as its train.py saves checkpoints, and what its val.py
pipeline gives on one image: network output (raw logits and decoded), the candidates of its
test-time views merged, pose and keypoint objects after its NMS, fused
poses, per-class fused counts, plain and with test-time augmentation.

Runs outside the project, in a scratch environment with torch and KAPAO's requirements (tqdm,
pandas, seaborn, setuptools<81, opencv, pyyaml) and a TTF named Arial.ttf beside its source.

Usage: python kapao.py --src KAPAO_SOURCE --out tests/data/kapao
"""
import argparse
import json
import os
import sys
from copy import deepcopy
from pathlib import Path

import cv2
import numpy as np

WIDTH, DEPTH = 0.03125, 0.33
IMAGE_SIZE = 128  # long side of the network input (a multiple of the stride 64)
SETTINGS = {"conf_thres": 0.5, "iou_thres": 0.45, "conf_thres_kp": 0.45, "iou_thres_kp": 0.25,
            "conf_thres_kp_person": 0.3, "overwrite_tol": 40}
TTA = {"scales": [0.8, 1, 1.2], "flips": [None, 3, None]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.chdir(args.src)
    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"  # KAPAO predates torch.load's weights_only default
    sys.path.insert(0, args.src)
    import torch
    import yaml
    from models.experimental import attempt_load
    from models.yolo import Model
    from utils.augmentations import letterbox
    from val import post_process_batch, run_nms

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    spec = yaml.safe_load(Path("models/yolov5s6.yaml").read_text())
    spec.update(width_multiple=WIDTH, depth_multiple=DEPTH)
    data = yaml.safe_load(Path("data/coco-kp.yaml").read_text())
    model = Model(spec, nc=data["nc"], num_coords=data["num_coords"])
    randomize(model, torch)
    model.nc, model.names = data["nc"], data["names"]  # as train.py attaches them
    checkpoint = {"epoch": 0, "best_fitness": np.float64(0.0), "model": deepcopy(model).half(),
                  "ema": deepcopy(model).half(), "updates": 0,
                  "optimizer": torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9).state_dict(),
                  "wandb_id": None}
    checkpoint_path = out / "kapao_random.pt"
    torch.save(checkpoint, checkpoint_path)

    image = test_image()
    cv2.imwrite(str(out / "image.png"), image)
    model = attempt_load(str(checkpoint_path), map_location="cpu")
    stride = int(model.stride.max())
    blob = letterbox(image, IMAGE_SIZE, stride=stride, auto=True)[0][:, :, ::-1].transpose(2, 0, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(blob)).float()[None] / 255.0
    data.update(SETTINGS, use_kp_dets=True, count_fused=True, imgsz=IMAGE_SIZE)
    results = {"input": blob}
    with torch.no_grad():
        decoded, levels = model(tensor)
        results["output"] = decoded.numpy()
        results["raw"] = torch.cat([level.reshape(1, -1, level.shape[-1]) for level in levels], 1).numpy()
        for name, scales, flips in (("plain", [1], [None]), ("tta", TTA["scales"], TTA["flips"])):
            merged = model(tensor, augment=True, kp_flip=data["kp_flip"], scales=scales, flips=flips)[0]
            person_dets, kp_dets = run_nms(data, merged.clone())
            # post_process_batch moves its inputs to the image in place: it gets copies
            _, poses, scores, _, fused = post_process_batch(data, tensor, [], [[image.shape[:2]]],
                                                            [d.clone() for d in person_dets],
                                                            [d.clone() for d in kp_dets])
            if name == "tta":
                results["tta_candidates"] = passing_candidates(merged[0].numpy(), min(SETTINGS["conf_thres"],
                                                                                      SETTINGS["conf_thres_kp"]))
            results[f"{name}_person_dets"] = person_dets[0].numpy()
            results[f"{name}_kp_dets"] = kp_dets[0].numpy()
            results[f"{name}_poses"] = np.array(poses, np.float32).reshape(-1, 17, 3)
            results[f"{name}_scores"] = np.array(scores, np.float32)
            results[f"{name}_fused"] = fused.astype(np.int64)
    np.savez_compressed(out / "outputs.npz", **results)
    (out / "settings.json").write_text(json.dumps({"width_multiple": WIDTH, "depth_multiple": DEPTH,
                                                   "image_size": IMAGE_SIZE, **SETTINGS, **TTA,
                                                   "torch": torch.__version__}, indent=1) + "\n")
    for name in ("plain", "tta"):
        print(name, "people", len(results[f"{name}_poses"]), "keypoint objects", len(results[f"{name}_kp_dets"]),
              "fused", results[f"{name}_fused"].tolist())


def passing_candidates(candidates: np.ndarray, threshold: float) -> np.ndarray:
    """The candidates that can pass run_nms's thresholds (objectness and best class score), in order."""
    best = (candidates[:, 5:5 + 18] * candidates[:, 4:5]).max(1)
    return candidates[(candidates[:, 4] > threshold) & (best > threshold)]


def randomize(model, torch):
    """Random batch-norm statistics and output biases, so that every term of the network counts
    and some pose and keypoint objects pass the thresholds."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                size = module.num_features
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
        for conv in model.model[-1].m:
            conv.weight.mul_(4.0)  # scores that vary from cell to cell, not only with the bias
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.5)
            conv.bias.view(3, -1)[:, 5] += 1.0  # the person class, else rarely the best


def test_image() -> np.ndarray:
    """A 128 x 112 BGR image of smoothed noise: no two places alike, so that no two candidates
    tie (ties would leave NMS's choice to rounding)."""
    noise = np.random.default_rng(0).integers(0, 256, (112, 128, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 1.5)


if __name__ == "__main__":
    main()
