"""The project's model format: a folder with `model.json` (description) and `weights.safetensors`.

The description names the network's architecture (data, no code), the skeleton, the input
(see data.transforms.InputSpec), the heads (see heads: the one description of what the network
outputs), provenance and license. Weights are a flat state dict. Nothing is pickled, so reading
a model never runs code from the file. Folders of format 1 are migrated on read.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from safetensors.numpy import save as serialize_tensors

from . import skeleton as skeletons
from .atomic_files import atomic_write_bytes, atomic_write_text
from .data.transforms import InputSpec
from .heads import head_from_dict

FORMAT = "manypose-model"
FORMAT_VERSION = 2
DESCRIPTION_FILE = "model.json"
WEIGHTS_FILE = "weights.safetensors"
ONNX_FILE = "model.onnx"  # exported forms a folder may ship (see export)
INT8_ONNX_FILE = "model-int8.onnx"


class ModelFileError(ValueError):
    """A model folder is missing, incomplete or damaged."""


@contextlib.contextmanager
def reading_model_file(path, what: str):
    """Where a library reads one of a model's files (model.json, weights, ONNX): its failure is
    the file's (truncated, corrupt, unreadable), the user's to fix, not a bug of ours. It becomes
    a ModelFileError naming the file, in one line."""
    try:
        yield
    except MemoryError:
        raise
    except Exception as error:  # each library raises its own types, with no common base
        raise ModelFileError(f"{path}: {what} ({_last_line(error)})") from None


def _last_line(error: Exception) -> str:
    """The line that says what is wrong: libraries put where they failed first (OpenVINO: one line
    per call site). The file is named already."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


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

    def _entry(self, key: str):
        if key not in self.description:
            raise ModelFileError(f"{self.folder or self.name}: the model description has no {key!r}")
        return self.description[key]

    @property
    def skeleton(self) -> skeletons.Skeleton:
        return skeletons.get(self._entry("skeleton"))

    @property
    def architecture(self) -> dict:
        """The network's layers, without the heads' facts (see `heads`)."""
        return self._entry("architecture")

    @property
    def heads(self) -> tuple:
        skeleton = self.skeleton
        return tuple(head_from_dict(head, skeleton) for head in self._entry("heads"))

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec.from_dict(self._entry("input"))

    @property
    def identity(self) -> str:
        """A digest of the whole description, the weights' hash included (for caches of
        exported forms: an edit to model.json or new weights make a new entry)."""
        return hashlib.sha256(json.dumps(self.description, sort_keys=True).encode()).hexdigest()

    def check_weights_present(self) -> None:
        if self.folder is not None and self._weights is None:
            present_weights_path(self.folder, self._entry("weights"))


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
    with reading_model_file(folder / DESCRIPTION_FILE, "unreadable model description"):
        description = json.loads((folder / DESCRIPTION_FILE).read_text())
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ModelFileError(f"{folder / DESCRIPTION_FILE}: not a {FORMAT} description")
    version = description.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{folder / DESCRIPTION_FILE}: format_version must be a whole number from 1, "
                             f"not {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{folder}: model format {description['format_version']} is newer "
                             f"than this manypose understands ({FORMAT_VERSION}); upgrade manypose")
    if version == 1:
        try:
            description = migrated_from_v1(description)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise ModelFileError(f"{folder / DESCRIPTION_FILE}: cannot read this format-1 description ({error})") from None
    _check_entries(description, folder / DESCRIPTION_FILE)
    return description


REQUIRED_ENTRIES = ("architecture", "skeleton", "input", "heads", "weights")


def _check_entries(description: dict, source: Path) -> None:
    """Every entry present and readable, so that a damaged description fails here, naming it."""
    for key in REQUIRED_ENTRIES:
        if key not in description:
            raise ModelFileError(f"{source}: the model description has no {key!r} entry")
    try:
        model = ModelFile(description)
        model.heads, model.input_spec
        if not isinstance(description["weights"].get("file"), str):
            raise ValueError("the weights entry names no file")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{source}: bad model description ({error})") from None


def migrated_from_v1(description: dict) -> dict:
    """Format 1 repeated head facts in `architecture` (YOLO: num_classes, keypoint_shape;
    OpenPose: heatmaps, pafs): they now live in the heads only, checked to agree."""
    description = json.loads(json.dumps(description))
    arch, heads = description["architecture"], description["heads"]
    keypoint_shape = arch.pop("keypoint_shape", None)
    arch.pop("num_classes", None)
    heatmaps, pafs = arch.pop("heatmaps", None), arch.pop("pafs", None)
    for head in heads:
        if head["kind"] == "pose_objects" and keypoint_shape:
            head["keypoint_dims"] = int(keypoint_shape[1])
        if head["kind"] == "paf":
            head.pop("heatmaps", None), head.pop("pafs", None)
            if not head.get("limbs"):
                head.pop("limbs", None)  # the published OpenPose limbs, the default
    skeleton = skeletons.get(description["skeleton"])
    metas = [head_from_dict(head, skeleton) for head in heads]
    for meta in metas:
        if heatmaps is not None and (heatmaps, pafs) != (meta.heatmap_channels, meta.paf_channels):
            raise ValueError(f"{heatmaps} heatmaps and {pafs} fields do not fit the paf head's limbs")
    description["heads"] = [meta.to_dict() for meta in metas]
    description["input"] = InputSpec.from_dict(description["input"]).to_dict()
    description["format_version"] = FORMAT_VERSION
    return description


def read_model_folder(path) -> ModelFile:
    """The model in a folder (or its model.json); weights are read on first use."""
    folder = model_folder(path)
    return ModelFile(read_description(folder), folder=folder)


def present_weights_path(folder: Path, weights_entry: dict) -> Path:
    weights_path = folder / weights_entry["file"]
    if not weights_path.is_file():
        raise ModelFileError(f"{weights_path}: weights file is missing")
    return weights_path


def read_weights(folder: Path, description: dict) -> dict[str, np.ndarray]:
    weights_path = present_weights_path(folder, description["weights"])
    with reading_model_file(weights_path, "unreadable weights"):
        digest = file_sha256(weights_path)
    if digest != description["weights"].get("sha256"):
        raise ModelFileError(f"{weights_path}: checksum mismatch, the weights file is damaged")
    with reading_model_file(weights_path, "unreadable weights"):
        weights = load_file(str(weights_path))
    return {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in weights.items()}


def file_sha256(path) -> str:
    """Hex SHA-256 of a file, read in blocks (checkpoints can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
