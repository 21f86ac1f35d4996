"""Decoder options: the thresholds a user may set, their defaults in one place."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

from ..option_checks import check_number, check_switch, check_whole_number


@dataclass(frozen=True)
class DecoderOptions:
    """What to keep of a network's candidates. `given` names the options the user set: a
    decoder that cannot honour one of those refuses it (see `check_honoured`); one left at its
    default is simply not used where the method has no such step."""

    score_threshold: float = 0.25   # drop people scored below
    iou_threshold: float = 0.7      # box overlap above which the weaker person is a duplicate
    max_detections: int = 300       # people kept per image, best first
    # every person found gets every keypoint, weak ones at low confidence: COCO's AP rewards it
    # (OpenPifPaf's --force-complete-pose, the setting of its evaluation), drawings do not
    complete_poses: bool = False
    # heatmap score from which a keypoint may start a person (displacement decoders: PoseNet,
    # SimplePose); None: the score threshold
    root_threshold: Optional[float] = None
    # KAPAO's fusion (decoders.kapao_fusion): keypoint objects replace the keypoints of pose objects
    # within this many network-input pixels (None: KAPAO's 50), or this fraction of the person box
    overwrite_tolerance: Optional[float] = None
    overwrite_tolerance_fraction: Optional[float] = None
    keypoint_objects: bool = True  # False: KAPAO's poses as the pose objects give them (its --no-kp-dets)
    given: frozenset = frozenset()

    def __post_init__(self):
        thresholds = ("score_threshold", "iou_threshold") + (() if self.root_threshold is None else ("root_threshold",))
        for name in thresholds:
            check_number(name, getattr(self, name), 0, 1)
        check_whole_number("max_detections", self.max_detections, 1)
        check_switch("complete_poses", self.complete_poses)
        check_switch("keypoint_objects", self.keypoint_objects)
        for name in ("overwrite_tolerance", "overwrite_tolerance_fraction"):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name))

    @classmethod
    def from_given(cls, **values) -> "DecoderOptions":
        """Options from keyword values, None meaning 'not set' (the default applies)."""
        known = {f.name for f in fields(cls)} - {"given"}
        unknown = sorted(values.keys() - known)
        if unknown:
            raise TypeError(f"unknown decoder option {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        given = {name: value for name, value in values.items() if value is not None}
        return cls(**given, given=frozenset(given))

    def check_honoured(self, honoured, method: str) -> None:
        """Refuse options the user set that `method` has no use for."""
        refused = sorted(self.given - set(honoured))
        if refused:
            raise ValueError(f"{method} has no {', '.join(refused)}; it honours "
                             f"{', '.join(sorted(honoured)) or 'no decoder option'}")

