"""The project's model format: a folder with `model.json` (description) and `weights.safetensors`.

The description names the architecture (data, no code), the skeleton, the input size and
normalization, the heads, provenance and license. Weights are a flat state dict. Nothing is
pickled, so loading a model never runs code from the file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from safetensors.numpy import save as serialize_tensors

from . import skeleton as skeletons
from .io import atomic_write_bytes, atomic_write_text

FORMAT = "manypose-model"
FORMAT_VERSION = 1
DESCRIPTION_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"


class ModelFileError(ValueError):
    """A model folder is missing, incomplete or damaged."""


class ModelFile:
    """A model's description, and its weights read on first use (the ONNX runtime needs none)."""

    def __init__(self, description: dict, weights: dict[str, np.ndarray] | None = None,
                 folder: Path | None = None):
        self.description = description
        self.folder = folder
        self._weights = weights

    @property
    def weights(self) -> dict[str, np.ndarray]:
        if self._weights is None:
            self._weights = read_weights(self.folder, self.description)
        return self._weights

    @property
    def name(self) -> str:
        return self.description.get("name", "unnamed")

    @property
    def skeleton(self) -> skeletons.Skeleton:
        return skeletons.get(self.description["skeleton"])

    @property
    def architecture(self) -> dict:
        return self.description["architecture"]

    @property
    def identity(self) -> str:
        """A digest naming these exact weights (for caches of exported forms)."""
        weights = self.description.get("weights", {}).get("sha256")
        return weights or self.description.get("provenance", {}).get("source_sha256", "unknown")


def default_input(size: int = 640) -> dict:
    """Letterboxed RGB scaled to 0..1, padded with grey 114 to a multiple of the stride.
    The network sees (pixel - pixel_mean) * scale."""
    return {"size": size, "stride": 32, "channels": "RGB", "scale": 1 / 255.0,
            "pixel_mean": [0, 0, 0], "pad_value": 114}


def save(folder, description: dict, weights: dict[str, np.ndarray], dtype: str = "float16") -> Path:
    """Write a model folder; floating weights are stored as `dtype`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stored = {k: (v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v)
              for k, v in weights.items()}
    data = serialize_tensors({k: np.ascontiguousarray(v) for k, v in stored.items()})
    atomic_write_bytes(folder / WEIGHTS_FILE, data)
    description = {"format": FORMAT, "format_version": FORMAT_VERSION, **description,
                   "weights": {"file": WEIGHTS_FILE, "dtype": dtype,
                               "sha256": hashlib.sha256(data).hexdigest()}}
    atomic_write_text(folder / DESCRIPTION_FILE, json.dumps(description, indent=1) + "\n")
    return folder


def model_folder(path) -> Path:
    path = Path(path)
    folder = path.parent if path.name in (DESCRIPTION_FILE, WEIGHTS_FILE) else path
    if not (folder / DESCRIPTION_FILE).is_file():
        raise ModelFileError(f"{path}: not a manypose model folder (no {DESCRIPTION_FILE})")
    return folder


def read_description(path) -> dict:
    folder = model_folder(path)
    try:
        description = json.loads((folder / DESCRIPTION_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{folder / DESCRIPTION_FILE}: unreadable model description ({error})") from None
    if description.get("format") != FORMAT:
        raise ModelFileError(f"{folder / DESCRIPTION_FILE}: not a {FORMAT} description")
    if description.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{folder}: model format {description['format_version']} is newer "
                             f"than this manypose understands ({FORMAT_VERSION}); upgrade manypose")
    return description


def load(path) -> ModelFile:
    folder = model_folder(path)
    return ModelFile(read_description(folder), folder=folder)


def read_weights(folder: Path, description: dict, verify: bool = True) -> dict[str, np.ndarray]:
    weights_path = folder / description["weights"]["file"]
    if not weights_path.is_file():
        raise ModelFileError(f"{weights_path}: weights file is missing")
    if verify and file_sha256(weights_path) != description["weights"].get("sha256"):
        raise ModelFileError(f"{weights_path}: checksum mismatch, the weights file is damaged")
    try:
        weights = load_file(str(weights_path))
    except Exception as error:  # safetensors raises its own error types
        raise ModelFileError(f"{weights_path}: unreadable weights ({error})") from None
    return {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in weights.items()}


def file_sha256(path) -> str:
    """Hex SHA-256 of a file, read in blocks (checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
