"""In-browser mode: the page runs the model itself with onnxruntime-web (wasm, WebGPU when the
browser has it) and decodes in JavaScript, so no frame leaves the machine; the server only
serves files. onnxruntime-web comes from the npm registry once (`manypose serve
--install-client`) into the cache, or from $MANYPOSE_ORT_WEB (a folder holding its dist files)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from ..heads.pose_objects import PoseObjectsCodec
from ..zoo import cache_dir

ORT_WEB_VERSION = "1.31.1"
ORT_WEB_ENV = "MANYPOSE_ORT_WEB"
# what the page loads: the script, and the wasm runtimes it picks between
ORT_WEB_FILES = ("ort.all.min.js", "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm",
                 "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def client_folder() -> Path:
    return cache_dir().parent / "web"


def client_files() -> Optional[Path]:
    """The folder of onnxruntime-web's files, where they are all present."""
    given = os.environ.get(ORT_WEB_ENV)
    folder = Path(given) if given else client_folder() / "node_modules" / "onnxruntime-web" / "dist"
    return folder if all((folder / name).is_file() for name in ORT_WEB_FILES) else None


def install_client() -> Path:
    """onnxruntime-web from the npm registry into the cache (needs npm, and the registry once)."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("installing onnxruntime-web needs npm (Node.js); or set MANYPOSE_ORT_WEB to a folder "
                           "with its dist files")
    folder = client_folder()
    folder.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--ignore-scripts",
               f"onnxruntime-web@{ORT_WEB_VERSION}"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or client_files() is None:
        raise RuntimeError(f"npm could not install onnxruntime-web@{ORT_WEB_VERSION}: {result.stderr.strip()[-500:]}")
    return client_files()


def client_model(estimator) -> Optional[dict]:
    """The float ONNX file and the settings the page's decoder needs, for the models it can
    decode (poses as objects without keypoint objects, letterboxed input, on an ONNX backend);
    None for the others."""
    onnx = getattr(estimator.backend, "onnx_path", None)
    spec = estimator.input_spec
    letterboxed = spec.resize == "letterbox" and spec.anchor == "center" and not spec.corner_aligned
    if not isinstance(estimator.codec, PoseObjectsCodec) or estimator.codec.head.keypoint_objects \
            or onnx is None or estimator.int8 or not letterboxed:
        return None
    options = estimator.config.decoder
    settings = {"onnx": "/client/model.onnx", "size": spec.size, "stride": spec.stride, "pad": spec.pad_value,
                "scale": spec.scale, "rgb": spec.channels == "RGB", "classes": estimator.codec.head.num_classes,
                "score_threshold": options.score_threshold, "iou_threshold": options.iou_threshold,
                "max_detections": options.max_detections}
    return {"onnx": Path(onnx), "settings": settings}
