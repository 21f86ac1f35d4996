"""Head kinds: the one description of a model's heads, and the codec of each kind.

A model description lists its heads (`heads` in model.json), each a dict with a `kind`. A kind
is one module: a metadata dataclass (keypoint set, stride, channel layout; the network's head
modules are sized from it) and a codec that claims heads of that kind and owns both directions,
annotations -> training targets and network outputs -> poses, and the export policies that
depend on its layout; for training, its contract (training.py: targets, loss, named terms) and
how its heads fit a new keypoint set. `register(meta, codec)` makes a kind known.
"""
# registers the built-in kinds
from . import centers, composite_fields, displacements, guiding_offsets, kapao, paf, pose_objects  # noqa: F401
from .base import CODECS, HEAD_KINDS, Codec, HeadMeta, codec_for, head_from_dict, register, single_head
from .centers import CentersHead
from .composite_fields import CafHead, CifHead
from .displacements import DisplacementsHead
from .guiding_offsets import GuidingOffsetsHead
from .kapao import KapaoHead
from .paf import PafHead
from .pose_objects import PoseObjectsHead
from .training import LossTerm, TrainingContract

__all__ = ["Codec", "HeadMeta", "register", "codec_for", "head_from_dict", "HEAD_KINDS", "CODECS",
           "single_head", "TrainingContract", "LossTerm", "CentersHead", "CifHead", "CafHead", "DisplacementsHead",
           "GuidingOffsetsHead", "KapaoHead", "PafHead", "PoseObjectsHead"]
