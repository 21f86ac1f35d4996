"""Importers of published checkpoints into the manypose model format."""
from .torch_pickle import CheckpointError, UnsafeCheckpointError
from .ultralytics import convert_ultralytics, read_ultralytics, ultralytics_model_file

__all__ = ["CheckpointError", "UnsafeCheckpointError", "convert_ultralytics", "read_ultralytics",
           "ultralytics_model_file", "convert"]


def convert(checkpoint, out_folder, name=None, dtype="float16"):
    """Convert a published checkpoint (today: Ultralytics YOLOv8/YOLO11-pose .pt)."""
    return convert_ultralytics(checkpoint, out_folder, name=name, dtype=dtype)
