"""Import OpenPifPaf checkpoints (the pickled `nets.Shell` its trainer saves, a dict with 'model',
'epoch' and 'meta') without openpifpaf, torchvision or running pickled code.

The pickled module tree is read as inert records (see torch_pickle). The backbone's kind comes
from its record's class (ShuffleNetV2K or Resnet), its widths, repeats and kernel from the weight
shapes and the records' children; the heads from the records of `openpifpaf.headmeta.Cif / Caf`
(keypoints, skeleton, upsample, base stride). Consecutive CAF heads (COCO's caf and the dense
caf25) become one CafHead: their convolutions are stacked, which keeps the pixel shuffle's
channel order. Every convolution, pool and batch norm of the checkpoint is then checked to have
the kernel, stride, padding, dilation, groups and eps of the module it maps to in our network.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np

from .. import modelfile
from ..data.transforms import InputSpec
from ..heads import CafHead, CifHead
from ..skeleton import COCO17, Skeleton
from .imported import imported_model
from .torch_pickle import CheckpointError, PickledObject, load_checkpoint, module_tensors

LICENSE = "AGPL-3.0"
# OpenPifPaf's predictor: RGB, ImageNet normalization, centre-padded with its grey to 16 k + 1
# (its grid cell i on input pixel stride * i); COCO evaluation at a long edge of 641
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PAD_GREY = (124, 116, 104)
EVAL_LONG_EDGE = 641
SUPPORTED_CLASSES = {
    "openpifpaf.network.nets.Shell", "openpifpaf.network.nets.CrossTalk",
    "openpifpaf.network.basenetworks.ShuffleNetV2K", "openpifpaf.network.basenetworks.InvertedResidualK",
    "openpifpaf.network.basenetworks.Resnet", "torchvision.models.resnet.Bottleneck",
    "openpifpaf.network.heads.CompositeField4",
    "torch.nn.modules.conv.Conv2d", "torch.nn.modules.batchnorm.BatchNorm2d", "torch.nn.modules.activation.ReLU",
    "torch.nn.modules.pooling.MaxPool2d", "torch.nn.modules.container.Sequential",
    "torch.nn.modules.container.ModuleList", "torch.nn.modules.pixelshuffle.PixelShuffle",
    "torch.nn.modules.dropout.Dropout2d",
}
GEOMETRY_CLASSES = {"torch.nn.modules.conv.Conv2d", "torch.nn.modules.batchnorm.BatchNorm2d",
                    "torch.nn.modules.pooling.MaxPool2d"}
CONV_NORM = {"0": "conv", "1": "norm"}
SHUFFLE_SHORTCUT = {"0": "0.conv", "1": "0.norm", "2": "1.conv", "3": "1.norm"}
SHUFFLE_MAIN = {"0": "0.conv", "1": "0.norm", "3": "1.conv", "4": "1.norm", "5": "2.conv", "6": "2.norm"}
RESNET_LAYERS = {"1": "reduce", "2": "spatial", "3": "expand"}


def is_openpifpaf_checkpoint(content) -> bool:
    model = content.get("model") if isinstance(content, dict) else None
    return isinstance(model, PickledObject) and model.qualified_name.startswith("openpifpaf.")


def openpifpaf_model_file(checkpoint, name: str | None = None, content=None) -> modelfile.ModelFile:
    """An OpenPifPaf checkpoint as an in-memory manypose model (weights checked to fit)."""
    content = load_checkpoint(checkpoint) if content is None else content
    with _naming(checkpoint):
        arch, heads, weights = read_openpifpaf(content)
    meta = content.get("meta") if isinstance(content.get("meta"), dict) else {}
    provenance = {"source_file": Path(checkpoint).name, "source_sha256": modelfile.file_sha256(checkpoint),
                  "source_format": "openpifpaf", "source_version": str(meta.get("version", "unknown")),
                  "source_epoch": content.get("epoch")}
    model = imported_model(checkpoint, name or Path(checkpoint).stem, arch, heads, input_spec(heads[0]), weights,
                           provenance, LICENSE,
                           "Weights trained with OpenPifPaf (AGPL-3.0); converted to the manypose format.")
    with _naming(checkpoint):
        check_geometry(content["model"], arch, heads)
    return model


def input_spec(head) -> InputSpec:
    """OpenPifPaf's preprocessing; input sizes are multiples of the backbone's stride plus one."""
    return InputSpec(size=EVAL_LONG_EDGE, stride=head.stride * head.upsample, channels="RGB",
                     scale=tuple(1 / (255 * s) for s in IMAGENET_STD), pixel_mean=tuple(255 * m for m in IMAGENET_MEAN),
                     pad_value=PAD_GREY, corner_aligned=True)


@contextlib.contextmanager
def _naming(source):
    """Errors name the file; a record tree without the entries it should have is malformed."""
    try:
        yield
    except CheckpointError as error:
        raise CheckpointError(f"{source}: {error}") from None
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
        raise CheckpointError(f"{source}: a malformed OpenPifPaf checkpoint ({type(error).__name__}: {error})") from None


def read_openpifpaf(content) -> tuple[dict, tuple, dict[str, np.ndarray]]:
    """(architecture description, heads, our state dict) of an unpickled OpenPifPaf checkpoint."""
    if not is_openpifpaf_checkpoint(content) or not content["model"].qualified_name.endswith(".Shell"):
        raise CheckpointError("not an OpenPifPaf checkpoint (no pickled nets.Shell under 'model')")
    shell = content["model"]
    unsupported = sorted({record.qualified_name for _, record in module_records(shell)} - SUPPORTED_CLASSES)
    if unsupported:
        raise CheckpointError(f"unsupported modules in the network: {', '.join(unsupported)}")
    if getattr(shell, "process_heads", None) is not None:
        raise CheckpointError("the network post-processes its heads (process_heads), which is not supported")
    base = shell._modules["base_net"]
    kind = base.qualified_name.rpartition(".")[2]
    if kind not in BACKBONE_READERS:
        raise CheckpointError(f"unsupported backbone {kind}; supported: {', '.join(BACKBONE_READERS)}")
    head_records = list(shell._modules["head_nets"]._modules.values())
    heads, groups = heads_from_metas([record.meta for record in head_records], int(base.stride))
    published = module_tensors(shell)
    weights = map_backbone(published, BACKBONE_READERS[kind][0])
    weights.update(stacked_head_weights(published, groups))
    arch = {"family": "pifpaf", "variant": str(getattr(base, "name", kind)), "batch_norm_eps": batch_norm_eps(shell),
            "backbone": BACKBONE_READERS[kind][1](base, published)}
    return arch, heads, weights


def module_records(record, prefix: str = ""):
    """(path, record) of every module in a pickled tree, the root first."""
    yield prefix.rstrip("."), record
    for name, child in (vars(record).get("_modules") or {}).items():
        if isinstance(child, PickledObject):
            yield from module_records(child, f"{prefix}{name}.")


def heads_from_metas(metas, base_stride: int) -> tuple[tuple, list[list[int]]]:
    """(CifHead, CafHead) and which OpenPifPaf heads each is made of (consecutive CAF heads stacked)."""
    kinds = [meta.qualified_name.rpartition(".")[2] for meta in metas]
    if kinds[:1] != ["Cif"] or len(kinds) < 2 or set(kinds[1:]) != {"Caf"}:
        raise CheckpointError(f"expected a Cif head then Caf heads, not {', '.join(kinds)} (other head kinds are "
                              "not supported)")
    cif, cafs = metas[0], metas[1:]
    keypoints = tuple(cif.keypoints)
    if any(tuple(caf.keypoints) != keypoints for caf in cafs):
        raise CheckpointError("the Cif and Caf heads have different keypoints")
    upsample = int(getattr(cif, "upsample_stride", 1))
    if any(int(getattr(caf, "upsample_stride", 1)) != upsample for caf in cafs):
        raise CheckpointError("the heads have different upsample strides")
    stride = int(getattr(cif, "base_stride", None) or base_stride) // upsample
    associations = tuple((a - 1, b - 1) for caf in cafs for a, b in caf.skeleton)
    skeleton = skeleton_of(cif, cafs[0])
    heads = (CifHead(skeleton, stride, upsample, score_weights(cif)), CafHead(skeleton, stride, upsample, associations))
    return heads, [[0], list(range(1, len(metas)))]


def score_weights(cif) -> tuple[float, ...]:
    """The Cif head's score weights (none: all 1); a checkpoint saved before they existed gets
    OpenPifPaf's migration's, 3 for the first three keypoints of a head named cif."""
    if "score_weights" not in vars(cif):
        return (3.0,) * 3 + (1.0,) * (len(cif.keypoints) - 3) if cif.name == "cif" else ()
    return tuple(float(w) for w in cif.score_weights or ())


def skeleton_of(cif, caf) -> Skeleton:
    if tuple(cif.keypoints) == COCO17.keypoints:
        return COCO17
    return Skeleton(name=f"openpifpaf-{cif.dataset}", keypoints=tuple(cif.keypoints),
                    edges=tuple((a - 1, b - 1) for a, b in (cif.draw_skeleton or caf.skeleton)),
                    sigmas=tuple(float(s) for s in cif.sigmas))


def stacked_head_weights(published: dict, groups: list[list[int]]) -> dict[str, np.ndarray]:
    weights = {}
    for ours, members in enumerate(groups):
        for tensor in ("weight", "bias"):
            parts = [published[f"head_nets.{index}.conv.{tensor}"] for index in members]
            weights[f"heads.{ours}.conv.{tensor}"] = np.concatenate(parts)
    return weights


def map_backbone(published: dict, our_module) -> dict[str, np.ndarray]:
    """Our state dict of the backbone from the published one; raises listing the keys that match no layer."""
    weights, unknown = {}, []
    for key, value in published.items():
        if key.startswith("head_nets."):
            continue
        path, _, tensor = key.rpartition(".")
        ours = our_module(path)
        if ours is None:
            unknown.append(key)
        else:
            weights[f"{ours}.{tensor}"] = value
    if unknown:
        raise CheckpointError(f"{len(unknown)} backbone weights match no layer ({', '.join(unknown[:8])})")
    return weights


def shufflenet_module(path: str):
    """Our module for a published ShuffleNetV2K module path (None: none)."""
    if m := re.fullmatch(r"base_net\.input_block\.([01])\.([01])", path):
        return f"backbone.{('stem', 'input_conv2')[int(m[1])]}.{CONV_NORM[m[2]]}"
    if m := re.fullmatch(r"base_net\.stage([234])\.(\d+)\.branch([12])\.(\d)", path):
        branch, table = ("shortcut", SHUFFLE_SHORTCUT) if m[3] == "1" else ("main", SHUFFLE_MAIN)
        return f"backbone.stages.{int(m[1]) - 2}.{m[2]}.{branch}.{table[m[4]]}" if m[4] in table else None
    if m := re.fullmatch(r"base_net\.conv5\.([01])", path):
        return f"backbone.final.{CONV_NORM[m[1]]}"
    return None


def resnet_module(path: str):
    """Our module for a published Resnet module path (None: none)."""
    if m := re.fullmatch(r"base_net\.input_block\.([01])", path):
        return f"backbone.stem.{CONV_NORM[m[1]]}"
    if path == "base_net.input_block.3":  # the max pool, when the checkpoint keeps it
        return "backbone.pool"
    if m := re.fullmatch(r"base_net\.input_block\.3\.([01])", path):
        return f"backbone.input_conv2.{CONV_NORM[m[1]]}"
    if m := re.fullmatch(r"base_net\.block([2-5])\.(\d+)\.(conv|bn)([123])", path):
        return f"backbone.stages.{int(m[1]) - 2}.{m[2]}.{RESNET_LAYERS[m[4]]}.{'conv' if m[3] == 'conv' else 'norm'}"
    if m := re.fullmatch(r"base_net\.block([2-5])\.(\d+)\.downsample\.([01])", path):
        return f"backbone.stages.{int(m[1]) - 2}.{m[2]}.shortcut.{CONV_NORM[m[3]]}"
    return None


def shufflenet_description(base, published: dict) -> dict:
    stages = [base._modules[f"stage{s}"] for s in (2, 3, 4)]
    conv2 = published.get("base_net.input_block.1.0.weight")
    return {"kind": "shufflenetv2k",
            "stem_channels": int(published["base_net.input_block.0.0.weight"].shape[0]),
            "input_conv2_channels": 0 if conv2 is None else int(conv2.shape[0]),
            "stage_repeats": [len(stage._modules) for stage in stages],
            "stage_channels": [2 * int(published[f"base_net.stage{s}.0.branch2.5.weight"].shape[0]) for s in (2, 3, 4)],
            "final_channels": int(published["base_net.conv5.0.weight"].shape[0]),
            "kernel": int(published["base_net.stage2.0.branch2.3.weight"].shape[-1])}


def resnet_description(base, published: dict) -> dict:
    blocks = [base._modules[f"block{s}"] for s in (2, 3, 4, 5) if base._modules.get(f"block{s}") is not None]
    stem = published["base_net.input_block.0.weight"]
    third = base._modules["input_block"]._modules.get("3")
    widths = [int(published[f"base_net.block{s}.0.conv1.weight"].shape[0]) for s in range(2, 2 + len(blocks))]
    expansion = int(published["base_net.block2.0.conv3.weight"].shape[0]) // widths[0]
    last_spatial = blocks[-1]._modules["0"]._modules["conv2"]
    return {"kind": "resnet", "stem_channels": int(stem.shape[0]), "stem_kernel": int(stem.shape[-1]),
            "stem_pool": third is not None and third.qualified_name.endswith("MaxPool2d"),
            "input_conv2": third is not None and third.qualified_name.endswith("Sequential"),
            "stage_repeats": [len(block._modules) for block in blocks], "stage_widths": widths,
            "expansion": expansion, "last_stage_dilation": int(_pair(last_spatial.dilation)[0])}


BACKBONE_READERS = {"ShuffleNetV2K": (shufflenet_module, shufflenet_description),
                    "Resnet": (resnet_module, resnet_description)}


def batch_norm_eps(shell) -> float:
    values = {float(record.eps) for _, record in module_records(shell) if record.qualified_name.endswith("BatchNorm2d")}
    if len(values) > 1:
        raise CheckpointError(f"the batch norms have different eps ({sorted(values)}); one is supported")
    return values.pop() if values else 1e-3


def check_geometry(shell, arch: dict, heads) -> None:
    """Every published conv, pool and batch norm has the geometry of the module it maps to."""
    from ..models import build_network

    network = build_network(arch, heads)
    our_module = BACKBONE_READERS[shell._modules["base_net"].qualified_name.rpartition(".")[2]][0]
    for path, record in module_records(shell):
        ours = our_module(path) if record.qualified_name in GEOMETRY_CLASSES else None
        if ours is None:
            continue
        module = network.get_submodule(ours)
        for attribute in ("kernel_size", "stride", "padding", "dilation", "groups", "eps"):
            theirs, wanted = getattr(record, attribute, None), getattr(module, attribute, None)
            if hasattr(module, attribute) and _pair(theirs) != _pair(wanted):
                raise CheckpointError(f"{path}: {attribute} {theirs} is not the {wanted} of a "
                                      f"{arch['backbone']['kind']} backbone")


def _pair(value):
    return (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
