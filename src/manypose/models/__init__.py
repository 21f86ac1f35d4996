"""Networks by method family, built from a model's architecture description and its heads'
metadata (which size the output layers)."""
from __future__ import annotations

import numpy as np
import torch

from .kapao import KapaoNet
from .lightweight_openpose import LightweightOpenPose
from .movenet import MoveNetMultiPose
from .offsetguided import OffsetGuidedNet
from .openpose import MobileNetOpenPose
from .pifpaf import PifPafNet
from .posenet import PoseNetMobileNetV1
from .yolo_pose import YoloPoseNet

NETWORKS = {"yolo_pose": YoloPoseNet, "openpose_mobilenet": MobileNetOpenPose,
            "lightweight_openpose": LightweightOpenPose, "posenet_mobilenet_v1": PoseNetMobileNetV1,
            "movenet_multipose": MoveNetMultiPose,
            "pifpaf": PifPafNet, "offsetguided": OffsetGuidedNet, "kapao": KapaoNet}


def register_network(family: str, network_class) -> None:
    """Make a network family known; its class is called as `network_class(arch, heads)`."""
    NETWORKS[family] = network_class


def build_network(arch: dict, heads) -> torch.nn.Module:
    family = arch.get("family")
    if family not in NETWORKS:
        raise ValueError(f"unknown network family {family!r}; known: {', '.join(NETWORKS)}")
    return NETWORKS[family](arch, tuple(heads))


def load_weights(network: torch.nn.Module, weights: dict[str, np.ndarray]) -> torch.nn.Module:
    """Load a flat state dict; raise ValueError listing every key or shape that does not fit."""
    expected = {k: tuple(v.shape) for k, v in network.state_dict().items()
                if not k.endswith("num_batches_tracked")}
    missing = sorted(expected.keys() - weights.keys())
    unexpected = sorted(weights.keys() - expected.keys())
    wrong_shape = sorted(k for k in expected.keys() & weights.keys()
                         if tuple(weights[k].shape) != expected[k])
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {', '.join(missing[:8])}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:8])}")
    if wrong_shape:
        problems.append("wrong shape: " + ", ".join(
            f"{k} {tuple(weights[k].shape)} != {expected[k]}" for k in wrong_shape[:8]))
    if problems:
        raise ValueError(f"weights do not fit the architecture ({'; '.join(problems)})")
    network.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)
                                                 if v.dtype.kind == "f" else v)
                             for k, v in weights.items()}, strict=False)
    return network


def load_matching_weights(network: torch.nn.Module, weights: dict[str, np.ndarray]) -> list[str]:
    """Load the weights whose names and shapes fit (fine-tuning onto another keypoint set keeps
    all but the layers sized by it); returns the names left as initialised."""
    expected = network.state_dict()
    fitting = {k: v for k, v in weights.items() if k in expected and tuple(v.shape) == tuple(expected[k].shape)}
    network.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32) if v.dtype.kind == "f" else v)
                             for k, v in fitting.items()}, strict=False)
    return sorted(k for k in expected if k not in fitting and not k.endswith("num_batches_tracked"))


def inference_network(model_file) -> torch.nn.Module:
    """The model's network with its weights, in eval mode, batch norms folded where it has any."""
    return folded(load_weights(build_network(model_file.architecture, model_file.heads), model_file.weights).eval())


def folded(network: torch.nn.Module) -> torch.nn.Module:
    """The network with its batch norms folded into their convolutions, where it has any (inference only)."""
    fold = getattr(network, "fold_batch_norms", None)
    return fold() if fold else network
