"""Optional dependencies: torch (and onnx) are needed to convert, export, quantize and train,
never to run an exported model."""
from __future__ import annotations

import importlib

INSTALL_HINTS = {
    "openvino": "pip install 'manypose[openvino]'",
    "fastapi": "pip install 'manypose[web]'",
    "uvicorn": "pip install 'manypose[web]'",
    "default": "pip install 'manypose[torch]' (with a CPU build of torch, e.g. pip install torch==2.13.0 onnx)",
}


class MissingDependency(ImportError):
    pass


def require(module: str, purpose: str):
    """Import an optional dependency, or explain how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        hint = INSTALL_HINTS.get(module, INSTALL_HINTS["default"])
        raise MissingDependency(f"{purpose} needs {module}: {hint}") from None
