"""Import Lightweight OpenPose checkpoints (Daniil-Osokin/lightweight-human-pose-estimation.pytorch,
the published checkpoint_iter_370000.pth layout), read without running pickled code."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import modelfile
from ..data.transforms import InputSpec
from ..heads import PafHead
from ..skeleton import OPENPOSE18
from .imported import imported_model
from .torch_pickle import CheckpointError, load_checkpoint

LICENSE = "Apache-2.0"
# the original's demo: long side 456, BGR, (pixel - 128) / 256, padded with 128 to a multiple of 8
INPUT = InputSpec(size=456, stride=8, channels="BGR", scale=1 / 256, pixel_mean=(128.0, 128.0, 128.0),
                  pad_value=128)

# published key -> our key; the first matching pattern wins
KEY_PATTERNS = (
    (r"^model\.0\.0\.", "backbone.0.conv."),
    (r"^model\.0\.1\.", "backbone.0.norm."),
    (r"^model\.(\d+)\.0\.", r"backbone.\1.depthwise."),
    (r"^model\.(\d+)\.1\.", r"backbone.\1.depthwise_norm."),
    (r"^model\.(\d+)\.3\.", r"backbone.\1.pointwise."),
    (r"^model\.(\d+)\.4\.", r"backbone.\1.pointwise_norm."),
    (r"^cpm\.align\.0\.", "cpm.align."),
    (r"^cpm\.trunk\.(\d+)\.0\.", r"cpm.trunk.\1.depthwise."),
    (r"^cpm\.trunk\.(\d+)\.2\.", r"cpm.trunk.\1.pointwise."),
    (r"^cpm\.conv\.0\.", "cpm.conv."),
    (r"^initial_stage\.trunk\.(\d+)\.0\.", r"initial_stage.trunk.\1."),
    (r"^(initial_stage|refinement_stages\.\d+)\.(heatmaps|pafs)\.0\.0\.", r"\1.\2.hidden."),
    (r"^(initial_stage|refinement_stages\.\d+)\.(heatmaps|pafs)\.1\.0\.", r"\1.\2.output."),
    (r"^refinement_stages\.(\d+)\.trunk\.(\d+)\.initial\.0\.", r"refinement_stages.\1.blocks.\2.entry."),
    (r"^refinement_stages\.(\d+)\.trunk\.(\d+)\.trunk\.0\.0\.", r"refinement_stages.\1.blocks.\2.conv_a."),
    (r"^refinement_stages\.(\d+)\.trunk\.(\d+)\.trunk\.0\.1\.", r"refinement_stages.\1.blocks.\2.norm_a."),
    (r"^refinement_stages\.(\d+)\.trunk\.(\d+)\.trunk\.1\.0\.", r"refinement_stages.\1.blocks.\2.conv_b."),
    (r"^refinement_stages\.(\d+)\.trunk\.(\d+)\.trunk\.1\.1\.", r"refinement_stages.\1.blocks.\2.norm_b."),
)


def our_key(published: str):
    for pattern, replacement in KEY_PATTERNS:
        if re.match(pattern, published):
            return re.sub(pattern, replacement, published)
    return None


def map_state_dict(state: dict, refinement_stages: int | None = None) -> tuple[dict, PafHead, dict[str, np.ndarray]]:
    """(architecture, head, our state dict) from a published-layout state dict of numpy arrays.

    `refinement_stages` keeps only the first N (the published demo uses 1 of the checkpoint's 3).
    Raises CheckpointError listing the keys that match nothing."""
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    unknown = sorted(k for k in state if our_key(k) is None)
    if unknown:
        raise CheckpointError(f"not a Lightweight OpenPose state dict: {len(unknown)} keys match no layer "
                              f"({', '.join(unknown[:8])})")
    present = sorted({int(m.group(1)) for k in state if (m := re.match(r"refinement_stages\.(\d+)\.", k))})
    stages = len(present) if refinement_stages is None else min(refinement_stages, len(present))
    weights = {our_key(k): np.asarray(v, np.float32) for k, v in state.items()
               if not (m := re.match(r"refinement_stages\.(\d+)\.", k)) or int(m.group(1)) < stages}
    arch = {"family": "lightweight_openpose", "channels": int(weights["cpm.align.weight"].shape[0]),
            "refinement_stages": stages}
    return arch, PafHead(OPENPOSE18), weights


def lightweight_openpose_model_file(checkpoint, name: str | None = None, refinement_stages: int | None = None,
                                    content=None) -> modelfile.ModelFile:
    """A Lightweight OpenPose .pth (a dict with 'state_dict', or a bare state dict) as a model;
    `content` is the file's content when it has been read already."""
    content = load_checkpoint(checkpoint) if content is None else content
    state = content.get("state_dict", content) if isinstance(content, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise CheckpointError(f"{checkpoint}: holds no state dict of tensors")
    try:
        arch, head, weights = map_state_dict(state, refinement_stages)
    except CheckpointError as error:
        raise CheckpointError(f"{checkpoint}: {error}") from None
    provenance = {"source_file": Path(checkpoint).name, "source_format": "Lightweight OpenPose state dict",
                  "source_sha256": modelfile.file_sha256(checkpoint)}
    return imported_model(checkpoint, name or Path(checkpoint).stem, arch, (head,), INPUT, weights, provenance, LICENSE,
                          "Lightweight OpenPose weights (Daniil Osokin), Apache-2.0; converted to the manypose format.")
