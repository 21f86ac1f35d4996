"""Where a model's ONNX forms live: shipped beside it, or exported once into the cache."""
from __future__ import annotations

import os
import sys
from pathlib import Path

FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
CALIBRATION_ENV = "MANYPOSE_CALIBRATION_IMAGES"


def exported_cache_dir() -> Path:
    from ..zoo import cache_dir

    return cache_dir().parent / "exported"


def onnx_model_path(model_file, int8: bool = False, calibration_images=None) -> Path:
    """The ONNX file to run; exports (and quantizes) on first use, then reuses the cached file."""
    file_name = INT8_FILE if int8 else FP32_FILE
    if model_file.folder is not None and (model_file.folder / file_name).is_file():
        return model_file.folder / file_name
    cached = exported_cache_dir() / f"{model_file.name}-{model_file.identity[:16]}-{file_name}"
    if cached.is_file():
        return cached
    from .. import export

    if not int8:
        print(f"manypose: exporting {model_file.name} to ONNX once, cached as {cached}", file=sys.stderr)
        return export.export_onnx(model_file, cached)
    calibration_images = calibration_images or os.environ.get(CALIBRATION_ENV)
    if not calibration_images:
        raise ValueError(f"{model_file.name} has no INT8 form yet: give calibration images once "
                         f"(--calibration-images DIR or ${CALIBRATION_ENV}), a few dozen training images")
    print(f"manypose: quantizing {model_file.name} to INT8 once, calibrated on {calibration_images}, "
          f"cached as {cached}", file=sys.stderr)
    return export.quantize_int8(onnx_model_path(model_file), cached, calibration_images,
                                model_file.description["input"])
