"""What installing and running manypose pulls in."""
import re
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import pytest

from conftest import modules_imported_by

FORBIDDEN = {"ultralytics", "torchvision", "tensorflow", "tensorflow-cpu", "tf-keras"}


def requirement_names(distribution: str, seen=None, extras=()) -> set:
    """Names of every installed distribution manypose depends on, transitively."""
    seen = set() if seen is None else seen
    for requirement in metadata.requires(distribution) or []:
        extra = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", requirement)
        if extra and extra.group(1) not in extras:
            continue
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name not in seen:
            seen.add(name)
            try:
                requirement_names(name, seen)
            except metadata.PackageNotFoundError:
                pass
    return seen


def test_dependencies_exclude_ultralytics_torchvision_and_tensorflow():
    names = requirement_names("manypose")
    assert {"numpy", "opencv-python-headless", "onnxruntime", "pycocotools"} <= names
    assert "torch" not in names, "running models needs no torch"
    with_extras = requirement_names("manypose", extras=("torch", "test"))
    assert {"torch", "onnx"} <= with_extras
    assert not with_extras & FORBIDDEN


def test_prediction_imports_none_of_them():
    modules = modules_imported_by("import manypose; from manypose.zoo import DEMO_IMAGE; manypose.load()(DEMO_IMAGE)")
    assert "manypose" in modules and not modules & {"ultralytics", "torchvision", "tensorflow"}


def test_every_data_file_of_the_package_is_installed_with_it():
    """A wheel carries only what package-data names: the web page, the registry, the bundled model."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["manypose"]
    package = root / "src" / "manypose"
    data = [path.relative_to(package).as_posix() for path in package.rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts]
    assert any(name.startswith("serve/static/") for name in data)
    assert [name for name in data if not any(fnmatch(name, pattern) and name.count("/") == pattern.count("/")
                                             for pattern in patterns)] == []
