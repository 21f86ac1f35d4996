"""Pickled whole modules (`torch.save(model)`) read as inert records: their state dict comes out
as torch's own, and every pickled state form lands on the record."""
import pickle
import zipfile

import numpy as np
import torch

from manypose.convert.torch_pickle import PickledObject, load_checkpoint, module_tensors


def test_a_pickled_module_tree_gives_torchs_state_dict(tmp_path):
    torch.manual_seed(0)
    block = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    block.register_buffer("grid", torch.arange(4.0), persistent=False)  # not in the state dict
    block.register_buffer("anchor", torch.ones(2))
    block._modules["missing"] = None  # an optional submodule left unset
    network = torch.nn.Sequential(block, torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2)))
    torch.save({"model": network}, tmp_path / "whole.pt")
    tensors = module_tensors(load_checkpoint(tmp_path / "whole.pt")["model"])
    expected = {k: v.numpy() for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert sorted(tensors) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(tensors[name], value, err_msg=name)


def test_a_prefix_names_every_tensor(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "linear.pt")
    assert sorted(module_tensors(load_checkpoint(tmp_path / "linear.pt"), "head.")) == ["head.bias", "head.weight"]


def test_anything_but_a_record_has_no_tensors():
    assert module_tensors({"weight": np.zeros(2)}) == {}


def _record_with_state(state_opcodes: bytes) -> bytes:
    """A pickle of one inert ultralytics record whose BUILD state the given opcodes push."""
    return b"\x80\x02cultralytics.nn\nBlock\n)\x81" + state_opcodes + b"b."


def _checkpoint(tmp_path, data: bytes):
    path = tmp_path / "record.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data)
    return load_checkpoint(path)


def test_dict_and_slots_states_are_merged(tmp_path):
    state = pickle.dumps(({"a": 1, "b": 2}, {"b": 3, "c": 4}), protocol=2)[2:-1]
    record = _checkpoint(tmp_path, _record_with_state(state))
    assert isinstance(record, PickledObject) and record.qualified_name == "ultralytics.nn.Block"
    assert (record.a, record.b, record.c) == (1, 3, 4)


def test_empty_halves_of_a_slots_state_are_allowed(tmp_path):
    state = pickle.dumps((None, {"c": 4}), protocol=2)[2:-1]
    assert _checkpoint(tmp_path, _record_with_state(state)).c == 4


def test_a_state_that_is_not_a_dict_is_kept_whole(tmp_path):
    state = pickle.dumps([1, 2, 3], protocol=2)[2:-1]
    assert _checkpoint(tmp_path, _record_with_state(state)).state == [1, 2, 3]
