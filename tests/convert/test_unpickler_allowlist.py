"""Every global the restricted unpickler allows resolves to its harmless stand-in, under each of
the names checkpoints use for it; near misses of those names are refused."""
import collections
import pickle
import zipfile

import numpy as np
import pytest

from manypose.convert import UnsafeCheckpointError
from manypose.convert.torch_pickle import PickledObject, load_checkpoint


def _op(value) -> bytes:
    return pickle.dumps(value, protocol=2)[2:-1]


def _global(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def _call(module: str, name: str, *args: bytes) -> bytes:
    return _global(module, name) + b"(" + b"".join(args) + b"tR"


STORAGE = b"(" + _op("storage") + _global("torch", "FloatStorage") + _op("0") + _op("cpu") + _op(4) + b"tQ"
TENSOR_ARGS = (STORAGE, _op(1), _op((2,)), _op((1,)))


def _load(tmp_path, payload: bytes):
    path = tmp_path / "allowed.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + payload + b".")
        archive.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
    return load_checkpoint(path)


@pytest.mark.parametrize("module", ["builtins", "__builtin__"])
@pytest.mark.parametrize("name, kind", [("set", set), ("frozenset", frozenset), ("list", list), ("tuple", tuple)])
def test_builtin_containers(tmp_path, module, name, kind):
    value = _load(tmp_path, _call(module, name, _op([3, 1])))
    assert type(value) is kind and sorted(value) == [1, 3]


@pytest.mark.parametrize("module", ["builtins", "__builtin__"])
def test_builtin_dict(tmp_path, module):
    assert _load(tmp_path, _call(module, "dict", _op([("a", 1)]))) == {"a": 1}


def test_ordered_dict(tmp_path):
    value = _load(tmp_path, _call("collections", "OrderedDict", _op([("b", 1), ("a", 2)])))
    assert type(value) is collections.OrderedDict and list(value) == ["b", "a"]


@pytest.mark.parametrize("name", ["_rebuild_tensor_v2", "_rebuild_tensor"])
def test_tensor_records_read_their_storage(tmp_path, name):
    assert _load(tmp_path, _call("torch._utils", name, *TENSOR_ARGS)).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("name", ["_rebuild_parameter", "_rebuild_parameter_with_state"])
def test_parameters_are_their_tensor(tmp_path, name):
    tensor = _call("torch._utils", "_rebuild_tensor_v2", *TENSOR_ARGS)
    value = _load(tmp_path, _call("torch._utils", name, tensor, b"\x89", _call("collections", "OrderedDict")))
    assert value.tolist() == [1.0, 2.0]


def test_a_size_is_a_tuple(tmp_path):
    assert _load(tmp_path, _call("torch", "Size", _op((2, 3)))) == (2, 3)


@pytest.mark.parametrize("module, name", [("torch", "device"), ("torch", "dtype"), ("torch.nn.modules.conv", "Conv2d")])
def test_classes_become_inert_records(tmp_path, module, name):
    value = _load(tmp_path, _call(module, name, _op("cpu")))
    assert isinstance(value, PickledObject) and value.qualified_name == f"{module}.{name}"
    assert value.constructor_args == ("cpu",)


@pytest.mark.parametrize("module, name", [
    ("BUILTINS", "set"), ("builtins", "SET"), ("torch", "size"), ("TORCH", "Size"), ("torch", "DEVICE"),
    ("torch._utils", "_REBUILD_TENSOR"), ("torch._utils", "_REBUILD_PARAMETER"), ("torch.utils", "_rebuild_parameter"),
    ("torch", "_rebuild_tensor"), ("_codecs", "decode"), ("collections", "defaultdict"), ("torchvision", "ops"),
])
def test_near_misses_are_refused(tmp_path, module, name):
    with pytest.raises(UnsafeCheckpointError, match=rf"references {module}\.{name}, which a weights file never "
                                                    r"needs \(it may run arbitrary code\)"):
        _load(tmp_path, _call(module, name))


@pytest.mark.parametrize("module", ["builtins", "__builtin__"])
def test_getattr_fetches_nothing(tmp_path, module):
    assert _load(tmp_path, _call(module, "getattr", _op([1]), _op("append"))) is None


@pytest.mark.parametrize("module, name", [("models.yolo", "Model"), ("models.yolo", "Detect"), ("models.common", "C3")])
def test_kapao_module_tree_classes_become_inert_records(tmp_path, module, name):
    value = _load(tmp_path, _call(module, name))
    assert isinstance(value, PickledObject) and value.qualified_name == f"{module}.{name}"


@pytest.mark.parametrize("module", ["models", "models.yolo_evil", "models.experimental", "models.commonx", "os.models.yolo"])
def test_kapao_near_misses_are_refused(tmp_path, module):
    with pytest.raises(UnsafeCheckpointError, match=rf"references {module}\.Model"):
        _load(tmp_path, _call(module, "Model"))
