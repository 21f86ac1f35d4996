"""Write Ultralytics-shaped checkpoints for tests, without ultralytics.

The pickle holds plain objects whose classes claim to live in ultralytics modules, with the
`_modules` / `_parameters` / `_buffers` attributes of a pickled nn.Module tree, as a real
checkpoint does.
"""
from __future__ import annotations

import collections
import sys
import types

import torch

MODULE_NAMES = ("ultralytics", "ultralytics.nn", "ultralytics.nn.tasks", "ultralytics.nn.modules")


class _Node:
    pass


def _fake_class(module_name: str, class_name: str) -> type:
    module = sys.modules[module_name]
    if not hasattr(module, class_name):
        setattr(module, class_name, type(class_name, (_Node,), {"__module__": module_name}))
    return getattr(module, class_name)


def _tree(module: torch.nn.Module, cls: type) -> object:
    node = cls()
    node.training = False
    node._parameters = collections.OrderedDict(
        (k, v.detach().clone()) for k, v in module._parameters.items() if v is not None)
    node._buffers = collections.OrderedDict((k, v.clone()) for k, v in module._buffers.items())
    node._non_persistent_buffers_set = set(module._non_persistent_buffers_set)
    node._modules = collections.OrderedDict(
        (k, _tree(child, _fake_class("ultralytics.nn.modules", type(child).__name__)))
        for k, child in module._modules.items())
    return node


def write_checkpoint(path, network: torch.nn.Module, yaml: dict, class_name: str = "PoseModel") -> None:
    """Save `network`'s tree and `yaml` the way Ultralytics lays out a .pt file."""
    before = {name: sys.modules.get(name) for name in MODULE_NAMES}
    try:
        for name in MODULE_NAMES:
            sys.modules.setdefault(name, types.ModuleType(name))
        model = _tree(network, _fake_class("ultralytics.nn.tasks", class_name))
        _add_fixed_dfl_bins(model)
        model.yaml = yaml
        model.nc = 1
        model.kpt_shape = yaml.get("kpt_shape", [17, 3])
        torch.save({"date": "2024-01-01", "version": "8.0.0", "model": model, "ema": None}, path)
    finally:  # leave no fake ultralytics behind for other tests
        for name, module in before.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _add_fixed_dfl_bins(model) -> None:
    """Real checkpoints carry the box-distribution bins 0..15 as a conv weight in the head."""
    head = list(model._modules["model"]._modules.values())[-1]
    empty = collections.OrderedDict
    conv = _fake_class("ultralytics.nn.modules", "Conv2d")()
    conv._parameters = empty(weight=torch.arange(16.0).reshape(1, 16, 1, 1))
    conv._buffers, conv._modules = empty(), empty()
    dfl = _fake_class("ultralytics.nn.modules", "DFL")()
    dfl._parameters, dfl._buffers, dfl._modules = empty(), empty(), empty(conv=conv)
    head._modules["dfl"] = dfl
