#!/usr/bin/env bash
# Rebuild the bundled default model from the published checkpoint in ../shared:
# convert (float16 safetensors + JSON), export to ONNX, and quantize to INT8 calibrated on
# COCO train2017 images (never val2017). Needs torch and onnx: pip install torch==2.13.0 onnx
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${MANYPOSE_SHARED:-../shared}"
out=src/manypose/zoo/yolo11n-pose
manypose convert "$shared/models/yolo11n-pose.pt" "$out" --name yolo11n-pose
manypose export "$out" "$out/model.onnx"
manypose export "$out" "$out/model-int8.onnx" --int8 --calibration-images "$shared/data/coco-mini/train2017"
