"""The torch and ONNX Runtime backends give the same poses; ONNX Runtime needs no torch."""
import subprocess
import sys

import numpy as np
import pytest

import manypose
from manypose.evaluate import evaluate


@pytest.fixture(scope="module")
def both_backends():
    return (manypose.load(backend="torch", score_threshold=0.01),
            manypose.load(backend="onnxruntime", score_threshold=0.01))


def test_same_poses_on_dev_images(both_backends, dev_images):
    with_torch, with_onnx = both_backends
    for path in sorted(dev_images.glob("*.jpg"))[:8]:
        a, b = with_torch(path), with_onnx(path)
        confident_a, confident_b = a.scores > 0.3, b.scores > 0.3
        assert confident_a.sum() == confident_b.sum()
        assert np.abs(a.keypoints[confident_a][..., :2] - b.keypoints[confident_b][..., :2]).max(initial=0) < 0.5


def test_same_ap_on_the_dev_set(both_backends, dev_annotations, dev_images):
    with_torch, with_onnx = both_backends
    ap_torch = evaluate(with_torch, dev_annotations, dev_images, progress=False)[0]["AP"]
    ap_onnx = evaluate(with_onnx, dev_annotations, dev_images, progress=False)[0]["AP"]
    assert abs(ap_torch - ap_onnx) <= 0.005


def test_onnx_runtime_inference_never_imports_torch():
    code = ("import sys, manypose; from manypose.zoo import DEMO_IMAGE; "
            "e = manypose.load(); assert e.backend.name == 'onnxruntime'; assert len(e(DEMO_IMAGE)) == 1; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_unknown_backend_and_torch_int8():
    with pytest.raises(ValueError, match="unknown backend"):
        manypose.load(backend="tensorrt")
    with pytest.raises(ValueError, match="onnxruntime backend only"):
        manypose.load(backend="torch", int8=True)


def test_stream_keeps_order_and_reports_bad_files(tmp_path, estimator):
    from manypose.zoo import DEMO_IMAGE

    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    results = list(estimator.stream([DEMO_IMAGE, bad, DEMO_IMAGE]))
    assert [r.path.name for r in results] == ["astronaut.jpg", "bad.jpg", "astronaut.jpg"]
    assert results[1].error is not None and results[1].poses is None
    assert len(results[0].poses) == len(results[2].poses) == 1


def test_without_torch_the_default_model_runs_and_torch_features_explain():
    code = ("import sys; sys.modules['torch'] = None; import manypose; from manypose.zoo import DEMO_IMAGE; "
            "assert len(manypose.load()(DEMO_IMAGE)) == 1\n"
            "try:\n    manypose.load(backend='torch')\nexcept ImportError as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "the torch backend needs torch: pip install" in result.stdout
