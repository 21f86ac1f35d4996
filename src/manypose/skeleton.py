"""Keypoint sets as data: names, left/right flip map, OKS sigmas, drawing edges and colours."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

DEFAULT_SIGMA = 0.05  # OKS sigma for keypoints of custom sets that publish none

LEFT_COLOUR = (0, 165, 255)  # BGR orange
RIGHT_COLOUR = (255, 128, 0)  # BGR blue
CENTRE_COLOUR = (0, 220, 0)  # BGR green


@dataclass(frozen=True)
class Skeleton:
    """A keypoint set. Edges are 0-based index pairs; colours are BGR, one per edge."""

    name: str
    keypoints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    flip: tuple[int, ...] = field(default=())
    edge_colours: tuple[tuple[int, int, int], ...] = field(default=())

    def __post_init__(self):
        n = len(self.keypoints)
        if len(self.sigmas) != n:
            raise ValueError(f"skeleton {self.name!r}: {len(self.sigmas)} sigmas for {n} keypoints")
        for a, b in self.edges:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"skeleton {self.name!r}: edge ({a}, {b}) outside 0..{n - 1}")
        if not self.flip:
            object.__setattr__(self, "flip", flip_map_from_names(self.keypoints))
        if not self.edge_colours:
            object.__setattr__(self, "edge_colours", tuple(self._side_colour(e) for e in self.edges))

    def __len__(self) -> int:
        return len(self.keypoints)

    def index(self, keypoint_name: str) -> int:
        return self.keypoints.index(keypoint_name)

    def _side_colour(self, edge: tuple[int, int]) -> tuple[int, int, int]:
        sides = {keypoint_side(self.keypoints[i]) for i in edge}
        if sides == {"left"}:
            return LEFT_COLOUR
        if sides == {"right"}:
            return RIGHT_COLOUR
        return CENTRE_COLOUR

    def flip_keypoints(self, keypoints: np.ndarray, image_width: float) -> np.ndarray:
        """Mirror (..., K, 2+) keypoints horizontally and swap left and right parts."""
        flipped = keypoints[..., list(self.flip), :].copy()
        flipped[..., 0] = image_width - flipped[..., 0]
        return flipped

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "keypoints": list(self.keypoints),
            "edges": [list(e) for e in self.edges],
            "sigmas": list(self.sigmas),
            "flip": list(self.flip),
            "edge_colours": [list(c) for c in self.edge_colours],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Skeleton":
        return cls(
            name=data["name"],
            keypoints=tuple(data["keypoints"]),
            edges=tuple(tuple(e) for e in data["edges"]),
            sigmas=tuple(float(s) for s in data["sigmas"]),
            flip=tuple(data.get("flip", ())),
            edge_colours=tuple(tuple(c) for c in data.get("edge_colours", ())),
        )

    @classmethod
    def from_coco_category(cls, category: dict, sigmas: Optional[Sequence[float]] = None) -> "Skeleton":
        """A custom keypoint set from a COCO category's `keypoints` and 1-based `skeleton`.

        Edges naming keypoints the category does not have (seen in published sample files)
        are dropped with a warning rather than failing the whole dataset.
        """
        names = tuple(category.get("keypoints") or ())
        if not names:
            raise ValueError(f"COCO category {category.get('name')!r} defines no keypoints")
        edges = [(a - 1, b - 1) for a, b in category.get("skeleton") or []]
        valid = [e for e in edges if 0 <= min(e) and max(e) < len(names)]
        if len(valid) < len(edges):
            warnings.warn(f"COCO category {category.get('name')!r}: ignoring {len(edges) - len(valid)} "
                          f"skeleton edges that name keypoints beyond its {len(names)}")
        if sigmas is None:
            coco_sigmas = dict(zip(COCO17.keypoints, COCO17.sigmas))
            sigmas = [coco_sigmas.get(n.lower(), DEFAULT_SIGMA) for n in names]
        return cls(
            name=str(category.get("name", "custom")),
            keypoints=names,
            edges=tuple(valid),
            sigmas=tuple(sigmas),
        )


def keypoint_side(name: str) -> str:
    if mirrored_name(name) == name:
        return "centre"
    return "left" if name[:1].lower() == "l" else "right"


def mirrored_name(name: str) -> str:
    swaps = (("left", "right"), ("Left", "Right"), ("L_", "R_"), ("l_", "r_"))
    for a, b in swaps:
        if name.startswith(a):
            return b + name[len(a):]
        if name.startswith(b):
            return a + name[len(b):]
    if name[:1] in "LR" and name[1:2].isupper():
        return ("R" if name[0] == "L" else "L") + name[1:]
    return name


def flip_map_from_names(names: Sequence[str]) -> tuple[int, ...]:
    """For each keypoint the index of its mirror image (itself when it has none)."""
    index = {n: i for i, n in enumerate(names)}
    return tuple(index.get(mirrored_name(n), i) for i, n in enumerate(names))


def _one_based(pairs):
    return tuple((a - 1, b - 1) for a, b in pairs)


COCO17 = Skeleton(
    name="coco17",
    keypoints=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    edges=_one_based((
        (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
        (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
    )),
    # COCO keypoint evaluation's per-keypoint OKS constants
    sigmas=(0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
            0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089),
)

OPENPOSE18 = Skeleton(
    name="openpose18",
    keypoints=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    edges=((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
           (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)),
    # the neck has no COCO sigma; it sits between the shoulders, so it takes theirs
    sigmas=(0.026, 0.079, 0.079, 0.072, 0.062, 0.079, 0.072, 0.062, 0.107, 0.087, 0.089,
            0.107, 0.087, 0.089, 0.025, 0.025, 0.035, 0.035),
)

CROWDPOSE14 = Skeleton(
    name="crowdpose14",
    keypoints=(
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "head", "neck",
    ),
    edges=((12, 13), (13, 0), (13, 1), (0, 2), (2, 4), (1, 3), (3, 5), (0, 6), (1, 7),
           (6, 7), (6, 8), (8, 10), (7, 9), (9, 11)),
    # CrowdPose's evaluation constants
    sigmas=(0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087,
            0.089, 0.089, 0.079, 0.079),
)

BUILTIN = {s.name: s for s in (COCO17, OPENPOSE18, CROWDPOSE14)}


def openpose18_to_coco17(keypoints: np.ndarray) -> np.ndarray:
    """Map (..., 18, C) OpenPose-18 keypoints to (..., 17, C) COCO-17 (the neck is dropped)."""
    order = [OPENPOSE18.index(name) for name in COCO17.keypoints]
    return keypoints[..., order, :]


def get(name_or_dict) -> Skeleton:
    """A built-in skeleton by name, or one described by a dict (as in a model's JSON)."""
    if isinstance(name_or_dict, Skeleton):
        return name_or_dict
    if isinstance(name_or_dict, dict):
        return Skeleton.from_dict(name_or_dict)
    try:
        return BUILTIN[name_or_dict]
    except KeyError:
        raise ValueError(f"unknown skeleton {name_or_dict!r}; built-in: {', '.join(BUILTIN)}") from None


def coco17_to_openpose18(keypoints: np.ndarray) -> np.ndarray:
    """(N, 17, 3) COCO keypoints -> (N, 18, 3) OpenPose order; the neck is the shoulders'
    midpoint when both are labelled."""
    order = [COCO17.keypoints.index(name) if name in COCO17.keypoints else -1 for name in OPENPOSE18.keypoints]
    converted = np.zeros((len(keypoints), len(OPENPOSE18), 3), np.float32)
    for target, source in enumerate(order):
        if source >= 0:
            converted[:, target] = keypoints[:, source]
    left, right = keypoints[:, COCO17.index("left_shoulder")], keypoints[:, COCO17.index("right_shoulder")]
    both = (left[:, 2] > 0) & (right[:, 2] > 0)
    neck = OPENPOSE18.index("neck")
    converted[both, neck, :2] = (left[both, :2] + right[both, :2]) / 2
    converted[both, neck, 2] = np.minimum(left[both, 2], right[both, 2])
    return converted
