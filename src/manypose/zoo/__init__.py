"""Models by name: the bundled default, models in the local cache, checkpoints to convert, and
architectures to train from scratch.

Everything works offline. Larger published sizes are not bundled: put their Ultralytics `.pt`
file (or a converted folder) into the cache directory, or pass its path, and they load by name.
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import modelfile

BUNDLED_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "yolo11n-pose"
DEMO_IMAGE = BUNDLED_DIR / "astronaut.jpg"

# published models that load by name once their checkpoint is in the cache directory
KNOWN_CHECKPOINTS = {
    f"{family}{size}-pose": f"Ultralytics {family.replace('yolo', 'YOLO')} {size}-size pose model (AGPL-3.0)"
    for family in ("yolo11", "yolov8") for size in "nsmlx"
}


# architectures that training builds untrained by name (`manypose train --model shufflenetv2k16`):
# OpenPifPaf's backbones (models.pifpaf.ARCHITECTURES) with the COCO cif and caf heads
UNTRAINED = {name: f"OpenPifPaf {name} architecture, untrained (train it from scratch)"
             for name in ("shufflenetv2k16", "shufflenetv2k30", "resnet50")}


class ModelNotFound(LookupError):
    pass


def cache_dir() -> Path:
    """Where local models live: $MANYPOSE_HOME/models, default ~/.cache/manypose/models."""
    home = os.environ.get("MANYPOSE_HOME") or Path.home() / ".cache" / "manypose"
    return Path(home) / "models"


def bundled_models() -> dict[str, Path]:
    return {p.name: p for p in sorted(BUNDLED_DIR.iterdir()) if (p / modelfile.DESCRIPTION_FILE).is_file()}


def local_models() -> dict[str, Path]:
    """Converted folders, Ultralytics (.pt) and OpenPifPaf (.pkl) checkpoints in the cache directory."""
    folder = cache_dir()
    if not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.iterdir()):
        if (path / modelfile.DESCRIPTION_FILE).is_file():
            found[path.name] = path
        elif path.suffix in (".pt", ".pkl") and path.stem not in found:
            found[path.stem] = path
    return found


def resolve(name_or_path=None) -> Path:
    """The folder or checkpoint file for a model name or path (None: the default model)."""
    name = str(name_or_path or DEFAULT_MODEL)
    path = Path(name).expanduser()
    if path.exists():
        return path
    for models in (bundled_models(), local_models()):
        if name in models:
            return models[name]
    if name in KNOWN_CHECKPOINTS:
        raise ModelNotFound(
            f"model {name!r} is not available offline: get {name}.pt (Ultralytics releases) and "
            f"put it in {cache_dir()}, or pass its path with --model")
    if name in UNTRAINED:
        raise ModelNotFound(f"{name!r} is an architecture without weights: train it (manypose train --model "
                            f"{name} ...), or pass a converted checkpoint")
    if any(sep in name for sep in ("/", "\\")) or path.suffix:
        raise ModelNotFound(f"{name}: no such model file or folder")
    available = ", ".join(list(bundled_models()) + list(local_models())) or "none"
    raise ModelNotFound(f"unknown model {name!r}; available: {available} (see `manypose models`)")


def find_model(name_or_path=None, untrained: bool = False) -> modelfile.ModelFile:
    """The model for a name or path: a model folder as it is, a published checkpoint converted
    in memory (None: the default model); with `untrained` (training), an architecture's name
    gives that network untrained when no model of that name is found."""
    try:
        path = resolve(name_or_path)
    except ModelNotFound:
        if untrained and str(name_or_path) in UNTRAINED:
            return untrained_model(str(name_or_path))
        raise
    if path.is_file() and (path.suffix != ".json" or _is_tfjs_model(path)):
        from ..convert import model_file_from_checkpoint

        return model_file_from_checkpoint(path)
    return modelfile.read_model_folder(path)


def untrained_model(name: str) -> modelfile.ModelFile:
    """An OpenPifPaf architecture with the COCO cif and caf heads and OpenPifPaf's input, no
    weights (all initialised by the network); needs torch."""
    from ..convert.openpifpaf import input_spec
    from ..heads.composite_fields import coco17_heads
    from ..models.pifpaf import architecture

    heads = coco17_heads()
    description = {"name": name, "architecture": architecture(name), "skeleton": heads[0].skeleton.to_dict(),
                   "input": input_spec(heads[0]).to_dict(), "heads": [head.to_dict() for head in heads],
                   "provenance": {"untrained": "torch's initialisation"}, "license": "AGPL-3.0-or-later",
                   "license_note": "an untrained network of manypose's own code"}
    return modelfile.ModelFile(description, {})


def _is_tfjs_model(path: Path) -> bool:
    from ..convert.tfjs import is_tfjs_model

    return is_tfjs_model(path)


def list_models() -> list[dict]:
    rows = [{"name": n, "where": "bundled", "path": str(p)} for n, p in bundled_models().items()]
    rows += [{"name": n, "where": "local" if p.is_dir() else "local checkpoint", "path": str(p)}
             for n, p in local_models().items()]
    present = {row["name"] for row in rows}
    rows += [{"name": n, "where": "not downloaded", "path": about}
             for n, about in KNOWN_CHECKPOINTS.items() if n not in present]
    rows += [{"name": n, "where": "architecture", "path": about} for n, about in UNTRAINED.items() if n not in present]
    return rows
