"""Device choice: a GPU asked for and not usable is an error that says why, never the CPU in
its place; auto ends where it can; the device bound is reported."""
from types import SimpleNamespace

import onnxruntime
import pytest

import manypose
from manypose.cli import main
from manypose.runtime.devices import (CPU_PROVIDER, CUDA_PROVIDER, Device, DeviceUnavailable, bound_onnx_device,
                                      onnx_providers, torch_device)

NO_CUDA_HERE = CUDA_PROVIDER not in onnxruntime.get_available_providers()


@pytest.mark.parametrize("text, expected", [("cpu", Device("cpu")), ("auto", Device("auto")),
                                            ("cuda", Device("cuda", 0)), ("CUDA:3", Device("cuda", 3))])
def test_devices_are_read_by_name_and_index(text, expected):
    assert Device.parse(text) == expected


@pytest.mark.parametrize("text", ["gpu", "cpu:1", "cuda:", "cuda:-1", "cuda:x", ""])
def test_other_devices_are_refused_naming_the_choices(text):
    with pytest.raises(ValueError, match="expected auto, cpu, cuda, cuda:N"):
        Device.parse(text)


def test_onnx_providers_for_each_device():
    both = [CUDA_PROVIDER, CPU_PROVIDER]
    assert onnx_providers(Device("cpu"), both) == [CPU_PROVIDER]
    assert onnx_providers(Device("auto"), [CPU_PROVIDER]) == [CPU_PROVIDER]
    assert onnx_providers(Device("cuda", 1), both) == [(CUDA_PROVIDER, {"device_id": 1}), CPU_PROVIDER]
    assert onnx_providers(Device("auto"), both)[0] == (CUDA_PROVIDER, {"device_id": 0})
    with pytest.raises(DeviceUnavailable, match="no CUDA provider.*onnxruntime-gpu"):
        onnx_providers(Device("cuda"), [CPU_PROVIDER])


def test_onnxruntime_falling_back_to_the_cpu_is_an_error_when_cuda_was_asked_for():
    with pytest.raises(DeviceUnavailable, match="could not bind its CUDA provider"):
        bound_onnx_device(Device("cuda"), [CPU_PROVIDER])
    assert bound_onnx_device(Device("auto"), [CPU_PROVIDER]) == "cpu"
    assert bound_onnx_device(Device("cuda", 2), [CUDA_PROVIDER, CPU_PROVIDER]) == "cuda:2"


def fake_torch(cuda_version, devices):
    """torch's view of the machine, as torch_device reads it."""
    return SimpleNamespace(__version__="2.x", version=SimpleNamespace(cuda=cuda_version),
                           cuda=SimpleNamespace(is_available=lambda: devices > 0, device_count=lambda: devices))


@pytest.mark.parametrize("cuda_version, devices, device, message", [
    (None, 0, "cuda", "is a CPU build"),
    ("12.4", 0, "cuda", "sees no CUDA device"),
    ("12.4", 2, "cuda:2", r"sees 2 CUDA devices \(cuda:0 to cuda:1\)"),
])
def test_torch_refuses_a_gpu_it_cannot_use_and_says_why(cuda_version, devices, device, message):
    with pytest.raises(DeviceUnavailable, match=message):
        torch_device(Device.parse(device), fake_torch(cuda_version, devices))


def test_torch_auto_takes_the_gpu_when_there_is_one():
    assert torch_device(Device("auto"), fake_torch("12.4", 1)) == "cuda:0"
    assert torch_device(Device("auto"), fake_torch(None, 0)) == "cpu"
    assert torch_device(Device("cuda", 1), fake_torch("12.4", 2)) == "cuda:1"


@pytest.mark.skipif(not NO_CUDA_HERE, reason="this onnxruntime has a CUDA provider")
def test_loading_on_a_gpu_this_machine_lacks_fails_with_the_reason():
    with pytest.raises(DeviceUnavailable, match="onnxruntime-gpu"):
        manypose.load(device="cuda")
    with pytest.raises(DeviceUnavailable, match="runs on the CPU only"):
        manypose.load(backend="openvino", device="cuda:0")


@pytest.mark.skipif(not NO_CUDA_HERE, reason="this onnxruntime has a CUDA provider")
def test_auto_runs_on_the_cpu_here_with_the_cpus_poses(estimator, dev_images):
    auto = manypose.load(device="auto")
    assert auto.backend.device == "cpu"
    image = sorted(dev_images.glob("*.jpg"))[0]
    assert (auto(image).keypoints == estimator(image).keypoints).all()


@pytest.mark.skipif(not NO_CUDA_HERE, reason="this onnxruntime has a CUDA provider")
def test_the_command_line_says_where_it_runs_and_why_not(dev_images, capsys):
    image = str(sorted(dev_images.glob("*.jpg"))[0])
    assert main(["predict", image, "--device", "cuda:1", "--quiet"]) == 1
    assert "cuda:1: the installed onnxruntime has no CUDA provider" in capsys.readouterr().err
    assert main(["predict", image, "--device", "auto", "--quiet"]) == 0
    assert "onnxruntime runs on cpu" in capsys.readouterr().err
