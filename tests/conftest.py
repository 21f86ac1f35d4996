"""Shared test setup: where ../shared lives, and models built once per session."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MANYPOSE_SHARED", PROJECT_ROOT.parent / "shared"))


def coco_pose_heads():
    """The head of a COCO-17 YOLO-pose network, for building networks in tests."""
    from manypose.heads import PoseObjectsHead
    from manypose.skeleton import COCO17

    return (PoseObjectsHead(COCO17),)


def require_bfloat16() -> None:
    """Skip, saying why, on a CPU whose OpenVINO computes no bfloat16 (AVX2 without AVX512-BF16)."""
    from manypose.runtime.openvino_backend import has_bfloat16

    if not has_bfloat16():
        pytest.skip("this CPU has no bfloat16: OpenVINO refuses --precision bf16 here")


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def shared_path(relative: str) -> Path:
    """A file under ../shared; when it is absent, the test is skipped with the reason on a
    user's machine, and fails under CI (CI=true), where a skip would hide untested code."""
    path = SHARED / relative
    if not path.exists():
        message = f"{path} not found (set MANYPOSE_SHARED to the shared data folder)"
        if under_ci():
            pytest.fail(f"CI: {message}", pytrace=False)
        pytest.skip(message)
    return path


def pytest_sessionstart(session):
    if under_ci() and not SHARED.is_dir():
        pytest.exit(f"CI: the shared data folder {SHARED} is missing (set MANYPOSE_SHARED); the tests that "
                    "need it would be skipped, so the run stops here", returncode=1)


def shared_scope(fixture_name, config) -> str:
    """"module" for a fixture that runs code under mutation testing, but one per test while
    mutmut records which tests call which function (MUTANT_UNDER_TEST=stats): a shared value is
    made inside its first test only, and mutmut would run that test alone against the mutants of
    the code that made it."""
    return "function" if os.environ.get("MUTANT_UNDER_TEST") == "stats" else "module"


def modules_imported_by(code: str) -> set[str]:
    """Top-level modules imported once `code` has run in a fresh interpreter."""
    report = "\nimport sys; print(','.join(sorted({name.split('.')[0] for name in sys.modules})))"
    result = subprocess.run([sys.executable, "-c", code + report], capture_output=True, text=True, check=True)
    return set(result.stdout.strip().splitlines()[-1].split(","))


@pytest.fixture(scope="session")
def dev_annotations() -> Path:
    return shared_path("data/coco-mini/annotations/person_keypoints_val2017.json")


@pytest.fixture(scope="session")
def dev_images() -> Path:
    return shared_path("data/coco-mini/val2017")


@pytest.fixture(scope="session")
def yolo11n_checkpoint() -> Path:
    return shared_path("models/yolo11n-pose.pt")


@pytest.fixture(scope="session")
def estimator():
    import manypose

    return manypose.load()


@pytest.fixture(scope="session", autouse=True)
def session_model_cache(tmp_path_factory):
    """Fixtures shared by many tests never see or fill the user's model cache either."""
    patch = pytest.MonkeyPatch()
    patch.setenv("MANYPOSE_HOME", str(tmp_path_factory.mktemp("session-home")))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def isolated_model_cache(tmp_path, monkeypatch):
    """Each test has a model cache of its own: none sees what another exported. No test fetches
    from the internet: those that fetch serve the files themselves (tests/zoo)."""
    monkeypatch.setenv("MANYPOSE_HOME", str(tmp_path / "manypose-home"))
    monkeypatch.setenv("MANYPOSE_OFFLINE", "1")
    monkeypatch.delenv("MANYPOSE_MIRROR", raising=False)


def pytest_make_parametrize_id(config, val, argname):
    """Test ids without spaces: tools that pass ids on a command line (mutmut) would split them."""
    if isinstance(val, bytes):
        val = val.decode("ascii", "backslashreplace")
    if isinstance(val, str) and " " in val:
        return val.replace(" ", "_")
    return None
