"""What installing and running manypose pulls in."""
import re
import subprocess
import sys
from importlib import metadata

FORBIDDEN = {"ultralytics", "torchvision", "tensorflow", "tensorflow-cpu", "tf-keras"}


def requirement_names(distribution: str, seen=None) -> set:
    """Names of every installed distribution manypose depends on, transitively (no extras)."""
    seen = set() if seen is None else seen
    for requirement in metadata.requires(distribution) or []:
        if "extra ==" in requirement:
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
    assert {"numpy", "opencv-python-headless", "torch", "pycocotools"} <= names
    assert not names & FORBIDDEN


def test_prediction_imports_none_of_them():
    code = ("import sys, manypose; from manypose.zoo import DEMO_IMAGE; manypose.load()(DEMO_IMAGE); "
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'ultralytics', 'torchvision', 'tensorflow'})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
