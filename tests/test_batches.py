"""Batches: several images through one network call give the poses of one image at a time."""
import json
import shutil
import warnings

import numpy as np
import pytest

import manypose
from manypose.bench import batch_throughput
from manypose.cli import main
from manypose.data.images import ImageReadError, read_image


class CountingBackend:
    """The estimator's own backend, with the input shapes of its calls written down."""

    def __init__(self, backend):
        self.backend, self.shapes = backend, []
        self.name, self.device, self.fixed_batch = backend.name, backend.device, backend.fixed_batch

    def __call__(self, blob):
        self.shapes.append(blob.shape)
        return self.backend(blob)

    def parallel_runner(self):
        return self, 1


@pytest.fixture(scope="module")
def dev_files(dev_images):
    return sorted(dev_images.glob("*.jpg"))[:14]


@pytest.fixture(scope="module")
def one_by_one(dev_files):
    return manypose.load(score_threshold=0.01)(dev_files)


def counted(batch_size):
    estimator = manypose.load(score_threshold=0.01, batch_size=batch_size)
    estimator.backend = CountingBackend(estimator.backend)
    return estimator


def assert_same_poses(expected, found):
    assert len(expected) == len(found)
    for a, b in zip(expected, found):
        assert len(a) == len(b)
        assert np.allclose(a.keypoints, b.keypoints, atol=1e-4) and np.allclose(a.scores, b.scores, atol=1e-4)
        assert np.allclose(a.boxes, b.boxes, atol=1e-4)


@pytest.mark.parametrize("batch_size", [3, 8])
def test_a_batch_gives_the_poses_of_one_image_at_a_time(dev_files, one_by_one, batch_size):
    estimator = counted(batch_size)
    assert_same_poses(one_by_one, estimator(dev_files))
    calls = estimator.backend.shapes
    assert sum(shape[0] for shape in calls) == len(dev_files)
    assert max(shape[0] for shape in calls) > 1 and len(calls) < len(dev_files)
    assert all(shape[0] <= batch_size for shape in calls)


def test_only_inputs_of_one_shape_share_a_call(dev_files):
    estimator = counted(4)
    images = [read_image(path) for path in dev_files[:4]]
    estimator(images)
    shapes = {estimator.preprocess(image)[0].shape[1:] for image in images}
    assert {shape[1:] for shape in estimator.backend.shapes} == shapes
    assert len(estimator.backend.shapes) == len(shapes)


def test_a_list_is_answered_in_its_order_and_a_bad_image_raises(dev_files, one_by_one, tmp_path):
    estimator = manypose.load(score_threshold=0.01, batch_size=4)
    reversed_files = dev_files[::-1]
    assert_same_poses(one_by_one[::-1], estimator(reversed_files))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        estimator([dev_files[0], broken])


def test_a_stream_keeps_bad_images_in_place_within_a_batch(dev_files, one_by_one, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    items = [dev_files[0], broken, dev_files[1], dev_files[2]]
    results = list(manypose.load(score_threshold=0.01, batch_size=4).stream(items))
    assert [r.index for r in results] == [0, 1, 2, 3] and results[1].error is not None
    assert_same_poses([one_by_one[0], *one_by_one[1:3]], [results[0].poses, results[2].poses, results[3].poses])


def test_a_network_exported_for_one_image_runs_one_per_call(tmp_path, dev_files):
    onnx = pytest.importorskip("onnx")
    folder = shutil.copytree(manypose.zoo.bundled_models()["yolo11n-pose"], tmp_path / "fixed")
    (folder / "model-int8.onnx").unlink()
    graph = onnx.load(str(folder / "model.onnx"))
    for value in (*graph.graph.input, *graph.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(graph, str(folder / "model.onnx"))
    with pytest.warns(UserWarning, match="exported for batches of 1; images run one per call"):
        estimator = manypose.load(folder, batch_size=4)
    assert estimator.batch_size == 1 and len(estimator(dev_files[:2])) == 2


def test_predict_writes_the_same_json_with_batches(dev_files, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for path in dev_files[:6]:
        shutil.copy(path, folder)
    outputs = []
    for batch in ("1", "4"):
        output = tmp_path / f"batch{batch}.json"
        assert main(["predict", str(folder), "--batch", batch, "--json-output", str(output), "--quiet"]) == 0
        outputs.append(json.loads(output.read_text()))
    assert outputs[0] == outputs[1] and len(outputs[0]) == 6
    with pytest.raises(SystemExit) as refused:
        main(["predict", str(folder), "--batch", "0"])
    assert refused.value.code == 2


def test_batches_are_a_setting_of_a_loaded_estimator(estimator, dev_images):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert estimator.reconfigured(batch_size=4).batch_size == 4
    folder = dev_images.parent / dev_images.name
    rates = batch_throughput(estimator, folder, (1, 2), rounds=1)
    assert list(rates) == [1, 2] and all(rate > 0 for rate in rates.values())
