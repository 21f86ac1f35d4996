"""`manypose predict --engine ray`: the local engine's JSON and drawn images from a pool of Ray
actors, and the options refused without it. One local cluster serves the module (Ray takes
seconds to start)."""
import logging
import sys

import cv2
import pytest

from manypose.cli import main
from manypose.config import EstimatorConfig
from manypose.predict import plan_batch
from manypose.predict_ray import actor_resources, gpus_per_worker, predict_batch_on_ray, worker_config
from manypose.runtime.devices import DeviceUnavailable
from manypose.zoo import DEMO_IMAGE


@pytest.fixture(scope="module")
def ray_cluster():
    try:
        from manypose.predict_ray import import_ray

        ray = import_ray()
    except ImportError:
        pytest.skip("ray is not installed (pip install 'manypose[ray]')")
    # two CPUs whatever the machine, so that two actors fit
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory):
    """Three images, a truncated JPEG and a file that is no image."""
    folder = tmp_path_factory.mktemp("inputs")
    photo = cv2.imread(str(DEMO_IMAGE))
    cv2.imwrite(str(folder / "astronaut.jpg"), photo)
    cv2.imwrite(str(folder / "mirrored.jpg"), photo[:, ::-1])
    cv2.imwrite(str(folder / "grey.png"), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    data = (folder / "astronaut.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "notes.jpg").write_text("not an image at all")
    return folder


def test_ray_engine_writes_the_local_engines_json_and_drawings(ray_cluster, mixed_inputs, tmp_path):
    inputs = [str(mixed_inputs), str(mixed_inputs / "missing.jpg")]
    for engine in ("local", "ray"):
        options = ["--engine", engine] + (["--workers", "2"] if engine == "ray" else [])
        code = main(["predict", *inputs, "--json-output", str(tmp_path / f"{engine}.json"),
                     "--image-output", str(tmp_path / f"{engine}_drawn"), "--quiet", *options])
        assert code == 1, "the bad files fail the run, as with the local engine"
    assert (tmp_path / "ray.json").read_text() == (tmp_path / "local.json").read_text()
    drawn = sorted(path.name for path in (tmp_path / "local_drawn").iterdir())
    assert drawn == ["astronaut.jpg", "grey.jpg", "mirrored.jpg"]
    for name in drawn:
        assert (tmp_path / "ray_drawn" / name).read_bytes() == (tmp_path / "local_drawn" / name).read_bytes()


@pytest.mark.parametrize("options, named", [(["--workers", "2"], "--workers"),
                                            (["--address", "auto"], "--address"),
                                            (["--engine", "local", "--address", "auto", "--workers", "2"],
                                             "--address and --workers")])
def test_ray_options_are_refused_without_the_ray_engine(options, named, capsys):
    assert main(["predict", str(DEMO_IMAGE), "--quiet", *options]) == 2
    assert f"manypose predict: error: {named} " in capsys.readouterr().err


def test_a_missing_ray_names_the_extra_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    assert main(["predict", str(DEMO_IMAGE), "--quiet", "--engine", "ray"]) == 1
    assert "pip install 'manypose[ray]'" in capsys.readouterr().err


def test_actors_share_the_cores_unless_threads_are_given():
    assert worker_config(EstimatorConfig(), cpus_per_worker=0.5).threads == 1
    assert worker_config(EstimatorConfig(), cpus_per_worker=2.0).threads == 2
    assert worker_config(EstimatorConfig(threads=1), cpus_per_worker=2.0).threads == 1


@pytest.mark.parametrize("device, cluster_gpus, workers, share", [
    ("cpu", 4, 2, 0), ("auto", 0, 2, 0), ("auto", 2, 2, 1), ("cuda", 4, 2, 1), ("cuda:1", 1, 2, 0.5),
    ("cuda", 1, 3, 0.3333), ("cuda", 2, 3, 0.6666)])
def test_actors_ask_ray_for_a_gpu_or_a_share_of_one(device, cluster_gpus, workers, share):
    assert gpus_per_worker(device, cluster_gpus, workers) == share


def test_an_actor_with_a_gpu_asks_ray_for_it_alone():
    assert actor_resources(cpus=0.5, gpus=0) == {"num_cpus": 0.5}
    assert actor_resources(cpus=0.5, gpus=0.25) == {"num_gpus": 0.25}


def test_an_actor_runs_on_the_gpu_ray_shows_it():
    assert worker_config(EstimatorConfig(device="cuda:1"), cpus_per_worker=1).device == "cuda"
    assert worker_config(EstimatorConfig(device="auto"), cpus_per_worker=1).device == "auto"


def test_cuda_on_a_cluster_without_gpus_is_refused_before_the_actors_start(ray_cluster, mixed_inputs):
    with pytest.raises(DeviceUnavailable, match="^cuda: the Ray cluster has no GPUs; use --device cpu or auto$"):
        predict_batch_on_ray(EstimatorConfig(device="cuda"), plan_batch([mixed_inputs]), progress=False)


def test_a_worker_that_fails_says_why_in_one_line(ray_cluster, mixed_inputs):
    # a cluster's node without the model: the driver found it, the actor does not
    with pytest.raises(RuntimeError, match=r"^a Ray worker failed: .*ModelNotFound: /nowhere/model: no such"):
        predict_batch_on_ray(EstimatorConfig(model="/nowhere/model"), plan_batch([mixed_inputs]), progress=False)


def test_the_driver_prepares_the_model_without_the_gpu_the_actors_ask_for(ray_cluster, mixed_inputs, capsys):
    # this machine has no CUDA: the refusal must be the cluster's, not the driver's own load
    assert main(["predict", str(mixed_inputs), "--quiet", "--engine", "ray", "--device", "cuda"]) == 1
    assert "manypose predict: error: cuda: the Ray cluster has no GPUs" in capsys.readouterr().err
