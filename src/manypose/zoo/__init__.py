"""Models by name: the bundled default, models in the local cache, published checkpoints
(fetched once, their sha256 checked, then converted), and architectures to train from scratch.

The bundled default works offline. A published model (see `manypose models`) is fetched on
first use into the cache directory; MANYPOSE_OFFLINE=1 forbids any network use, and
MANYPOSE_MIRROR=URL fetches the published file names from URL instead. A checkpoint or
converted folder put into the cache directory loads by its name too.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from .. import modelfile
from .registry import PublishedModel, published_models
from .untrained import UNTRAINED, untrained_model

BUNDLED_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "yolo11n-pose"
DEMO_IMAGE = BUNDLED_DIR / "astronaut.jpg"


class ModelNotFound(LookupError):
    pass


def cache_dir() -> Path:
    """Where local models live: $MANYPOSE_HOME/models, else $XDG_CACHE_HOME/manypose/models, else
    ~/.cache/manypose/models; never the working directory."""
    home = os.environ.get("MANYPOSE_HOME")
    if not home:
        home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "manypose"
    return Path(home).expanduser().absolute() / "models"


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
    published = published_models().get(name)
    if published and published.fetched(cache_dir()):
        return published.main_file(cache_dir())
    if published:
        raise ModelNotFound(f"model {name!r} is not fetched yet: `manypose models fetch {name}` (loading it by name "
                            f"fetches it too), or put {published.files[0].name} into {cache_dir()}")
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
        if str(name_or_path) not in published_models():
            raise
        path = fetch_model(str(name_or_path))
    if path.is_file() and (path.suffix != ".json" or _is_tfjs_model(path)):
        from ..convert import model_file_from_checkpoint

        published = str(name_or_path) in published_models()  # named as asked for, not by its file
        return model_file_from_checkpoint(path, str(name_or_path) if published else None)
    return modelfile.read_model_folder(path)


def _is_tfjs_model(path: Path) -> bool:
    from ..convert.tfjs import is_tfjs_model

    return is_tfjs_model(path)


def fetch_model(name: str, sha256: str | None = None, progress: bool = True) -> Path:
    """The published model's main file in the cache, fetched (each file checked against its
    published sha256, or `sha256` for a one-file model without one) where it is missing or
    damaged. Without any checksum to check against, nothing is fetched."""
    from .download import DownloadError, check_digest, fetch_file, offline

    model = _published(name)
    files = model.files
    if sha256 is not None:
        if len(files) != 1:
            raise ValueError(f"{name} has {len(files)} files; --sha256 is for one-file models")
        files = (replace(files[0], sha256=sha256.lower(), sha256_prefix=None),)
    unchecked = [file.name for file in files if not file.checkable]
    if unchecked:
        raise ModelNotFound(f"{name}: no sha256 of {', '.join(unchecked)} is published; fetch it with "
                            f"`manypose models fetch {name} --sha256 HEX` and a digest from a source you trust, "
                            "or pass the checkpoint's path")
    if offline() and not model.fetched(cache_dir()):
        trainable = f"; `manypose train --model {name}` trains its architecture from scratch" if name in UNTRAINED else ""
        raise ModelNotFound(f"{name} is not in the cache and MANYPOSE_OFFLINE is set: fetch it where there is a "
                            f"network (`manypose models fetch {name}`) and copy {model.folder(cache_dir())}, or pass "
                            f"the checkpoint's path{trainable}")
    for file in files:
        destination = model.folder(cache_dir()) / file.name
        if destination.is_file():
            try:
                check_digest(destination, file.sha256, file.sha256_prefix, str(destination))
                continue
            except ValueError:  # damaged: removed, fetched again
                pass
        try:
            fetch_file(file.source_url(), destination, file.sha256, file.sha256_prefix, progress)
        except DownloadError as error:
            raise DownloadError(f"fetching {name}: {error}") from None
    return model.main_file(cache_dir())


def verify_models(names=None) -> list[dict]:
    """Each fetched published model (or those named) checked against its published sha256:
    rows of name, file, and status ok, damaged, missing or unchecked. A damaged file is left
    as it is, to look at; fetch_model replaces it."""
    rows = []
    for name in names or [n for n, m in published_models().items() if _any_file(m)]:
        model = _published(name)
        for file in model.files:
            path = model.folder(cache_dir()) / file.name
            rows.append({"name": name, "file": str(path), "status": _file_status(path, file)})
    return rows


def _any_file(model: PublishedModel) -> bool:
    return any((model.folder(cache_dir()) / file.name).is_file() for file in model.files)


def _file_status(path: Path, file) -> str:
    from .download import unpublished_digest

    if not path.is_file():
        return "missing"
    if not file.checkable:
        return "unchecked"
    return "ok" if unpublished_digest(path, file.sha256, file.sha256_prefix) is None else "damaged"


def _published(name: str) -> PublishedModel:
    if name not in published_models():
        raise ModelNotFound(f"{name!r} is not a published model; known: {', '.join(published_models())}")
    return published_models()[name]


def list_models() -> list[dict]:
    rows = [{"name": n, "where": "bundled", "path": str(p)} for n, p in bundled_models().items()]
    rows += [{"name": n, "where": "local" if p.is_dir() else "local checkpoint", "path": str(p)}
             for n, p in local_models().items()]
    present = {row["name"] for row in rows}
    rows += [{"name": n, "where": "fetched" if m.fetched(cache_dir()) else "not fetched",
              "path": str(m.main_file(cache_dir())) if m.fetched(cache_dir()) else m.files[0].url,
              "about": m.about, "licence": m.licence}
             for n, m in published_models().items() if n not in present]
    rows += [{"name": n, "where": "architecture", "path": architecture.about} for n, architecture in UNTRAINED.items()
             if n not in present]
    return rows
