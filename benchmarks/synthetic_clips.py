"""Synthetic tracking clips with exact identities: real COCO people, cut out with their
segmentation masks, moving over a blurred people-free COCO picture, crossing one another and
passing behind pillars. Each frame's ground truth gives every person's id, the box of the pixels
left visible, the COCO keypoints moved with the cut-out and the share of the person visible.

    python benchmarks/synthetic_clips.py OUT_DIR [--seed S] [--people N] [--frames F]
                                         [--size 640x360] [--split train|val] [--fps 25]

writes OUT_DIR/clip-S.mp4 and OUT_DIR/clip-S.json. The same arguments give the same clip.
People come from train2017 unless `--split val` asks for val2017's (held-out clips, never for
tuning). A quarter of the people (at least one of three or more) stand still; the others walk
straight or curved paths across the picture, in alternate directions so that they cross, with
pauses at both ends.

Ground truth JSON: {"seed", "size": [w, h], "fps", "split", "frames": [{"frame", "people":
[{"id", "box": [x1, y1, x2, y2] of the visible pixels, "keypoints": 17 x [x, y, v] (v: 0 not
labelled in COCO, 1 hidden by a pillar, another person or the frame's edge, or away from the
person's visible pixels, 2 visible),
"visibility": visible share of the person's pixels, "moving": bool}]}]}. People with no visible
pixel are left out of their frame.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common import COCO_MINI, benchmark_parser

ANKLES = (15, 16)
OCCLUDER = -1  # owner of the pixels a pillar covers


@dataclass(frozen=True)
class Cutout:
    """A COCO person cut out of its picture: BGR pixels, mask in 0..1 and keypoints (17, 3),
    all relative to the person's box."""

    image: np.ndarray
    mask: np.ndarray
    keypoints: np.ndarray

    def scaled(self, height: float) -> "Cutout":
        factor = height / self.image.shape[0]
        size = (max(1, round(self.image.shape[1] * factor)), max(1, round(self.image.shape[0] * factor)))
        keypoints = self.keypoints.copy()
        keypoints[:, :2] = (keypoints[:, :2] + 0.5) * (np.array(size) / self.image.shape[1::-1]) - 0.5
        return Cutout(cv2.resize(self.image, size, interpolation=cv2.INTER_AREA),
                      cv2.resize(self.mask, size, interpolation=cv2.INTER_AREA), keypoints)


@dataclass(frozen=True)
class Walker:
    """One synthetic person: `positions` (F, 2) of the cut-out's top left corner per frame."""

    identity: int
    cutout: Cutout
    positions: np.ndarray

    def moving(self, frame: int) -> bool:
        """Whether the person moves at `frame` (against the frame before, or after for the first)."""
        step = self.positions[max(frame, 1)] - self.positions[max(frame, 1) - 1]
        return bool(np.hypot(*step) > 1e-6)


def split_files(split: str) -> tuple[Path, Path]:
    """The annotation file and image folder of coco-mini's `split` (train or val)."""
    return COCO_MINI / f"annotations/person_keypoints_{split}2017.json", COCO_MINI / f"{split}2017"


def load_cutouts(split: str = "train", min_keypoints: int = 10, min_height: float = 80) -> list[Cutout]:
    """Whole, single people of the split (not a crowd, ankles labelled, box clear of the picture's
    edges), in annotation id order."""
    from pycocotools.coco import COCO

    annotations, images = split_files(split)
    coco = COCO(str(annotations))
    cutouts = []
    for annotation in sorted(coco.loadAnns(coco.getAnnIds(iscrowd=False)), key=lambda a: a["id"]):
        info = coco.loadImgs(annotation["image_id"])[0]
        if _whole_person(annotation, info, min_keypoints, min_height):
            cutouts.append(_cut_out(coco, annotation, cv2.imread(str(images / info["file_name"]))))
    return cutouts


def _whole_person(annotation, info, min_keypoints, min_height) -> bool:
    x, y, width, height = annotation["bbox"]
    keypoints = np.reshape(annotation["keypoints"], (17, 3))
    clear_of_edges = x > 2 and y > 2 and x + width < info["width"] - 2 and y + height < info["height"] - 2
    return (annotation["num_keypoints"] >= min_keypoints and height >= min_height and clear_of_edges
            and all(keypoints[k, 2] > 0 for k in ANKLES))


def _cut_out(coco, annotation, image) -> Cutout:
    x, y, width, height = (int(round(v)) for v in annotation["bbox"])
    mask = coco.annToMask(annotation)[y:y + height, x:x + width].astype(np.float32)
    keypoints = np.reshape(annotation["keypoints"], (17, 3)).astype(np.float64)
    keypoints[:, :2] -= (x, y)
    return Cutout(image[y:y + height, x:x + width].copy(), mask, keypoints)


def people_free_pictures(split: str = "train") -> list[Path]:
    """The split's pictures with no person annotated, by file name."""
    annotations, images = split_files(split)
    data = json.loads(annotations.read_text())
    with_people = {a["image_id"] for a in data["annotations"]}
    return sorted(images / i["file_name"] for i in data["images"] if i["id"] not in with_people)


def plan_walkers(rng: np.random.Generator, cutouts: list[Cutout], people: int, frames: int,
                 size: tuple[int, int]) -> list[Walker]:
    """`people` walkers with ids 1..people over `frames` frames of a `size` (w, h) picture."""
    height = size[1]
    chosen = rng.choice(len(cutouts), people, replace=people > len(cutouts))
    still = max(1, people // 4) if people >= 3 else 0
    walkers = []
    for index, cutout_index in enumerate(chosen):
        cutout = cutouts[cutout_index].scaled(rng.uniform(0.3, 0.5) * height)
        if index < still:
            path = _standing(rng, cutout, frames, size)
        else:
            path = _walking(rng, cutout, frames, size, leftwards=index % 2 == 1)
        walkers.append(Walker(index + 1, cutout, path))
    return walkers


def _standing(rng, cutout, frames, size) -> np.ndarray:
    width, height = size
    h, w = cutout.mask.shape
    corner = (rng.uniform(0.1, 0.9) * width - w / 2, rng.uniform(0.6, 0.95) * height - h)
    return np.tile(corner, (frames, 1))


def _walking(rng, cutout, frames, size, leftwards: bool) -> np.ndarray:
    """Feet from one side to the other on a straight line or a bend, after and before pauses."""
    width, height = size
    h, w = cutout.mask.shape
    start = np.array([rng.uniform(-0.05, 0.2) * width, rng.uniform(0.6, 0.98) * height])
    end = np.array([rng.uniform(0.8, 1.05) * width, rng.uniform(0.6, 0.98) * height])
    if leftwards:
        start, end = end, start
    bend = rng.choice([0.0, rng.uniform(-0.25, 0.25) * height])
    middle = (start + end) / 2 + (0, bend)
    leave, arrive = sorted(rng.uniform([0, 0.7], [0.3, 1.0]) * (frames - 1))
    progress = np.clip((np.arange(frames) - leave) / max(arrive - leave, 1), 0, 1)[:, None]
    feet = (1 - progress) ** 2 * start + 2 * progress * (1 - progress) * middle + progress ** 2 * end
    return feet - (w / 2, h)  # the corner: feet at the bottom middle of the cut-out


def plan_pillars(rng: np.random.Generator, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """One or two pillars (x1, y1, x2, y2) in the middle of the picture, standing on its bottom."""
    width, height = size
    pillars = []
    for centre in rng.choice([0.3, 0.5, 0.7], rng.integers(1, 3), replace=False):
        half = rng.uniform(0.03, 0.05) * width
        x = (centre + rng.uniform(-0.05, 0.05)) * width
        pillars.append((int(x - half), int(rng.uniform(0, 0.3) * height), int(x + half), height))
    return pillars


def background(rng: np.random.Generator, size: tuple[int, int], split: str) -> tuple[np.ndarray, np.ndarray]:
    """A blurred people-free picture of `size`, and another one's texture for the pillars."""
    pictures = people_free_pictures(split)
    first, second = rng.choice(len(pictures), 2, replace=False)
    scene = cv2.GaussianBlur(_cover(cv2.imread(str(pictures[first])), size), (0, 0), 4)
    return scene, _cover(cv2.imread(str(pictures[second])), size)


def _cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to cover `size` (w, h) and cropped in the middle."""
    width, height = size
    factor = max(width / image.shape[1], height / image.shape[0])
    scaled = cv2.resize(image, (int(np.ceil(image.shape[1] * factor)), int(np.ceil(image.shape[0] * factor))))
    top, left = (scaled.shape[0] - height) // 2, (scaled.shape[1] - width) // 2
    return scaled[top:top + height, left:left + width]


def render_frame(scene, texture, pillars, walkers: list[Walker], frame: int):
    """The picture of `frame` and its ground truth people: the nearer person (lower feet) is
    drawn over the farther, pillars over everyone."""
    picture = scene.astype(np.float32)
    owner = np.zeros(scene.shape[:2], np.int32)
    pasted = {}
    for walker in sorted(walkers, key=lambda w: w.positions[frame][1] + w.cutout.mask.shape[0]):
        pasted[walker.identity] = _paste(picture, owner, walker, frame)
    for x1, y1, x2, y2 in pillars:
        picture[y1:y2, max(x1, 0):x2] = texture[y1:y2, max(x1, 0):x2] * 0.8  # shaded, to stand out
        owner[y1:y2, max(x1, 0):x2] = OCCLUDER
    people = [_truth(walker, frame, owner, *pasted[walker.identity]) for walker in walkers]
    return np.clip(picture + 0.5, 0, 255).astype(np.uint8), [p for p in people if p is not None]


def _paste(picture, owner, walker: Walker, frame: int):
    """Blend the walker into `picture` at its sub-pixel position and claim its pixels in
    `owner`; returns its keypoints in the picture and its mask's area."""
    cutout = walker.cutout
    corner = walker.positions[frame]
    whole = np.floor(corner).astype(int)
    shift = np.float32([[1, 0, corner[0] - whole[0]], [0, 1, corner[1] - whole[1]]])
    h, w = cutout.mask.shape
    image = cv2.warpAffine(cutout.image, shift, (w + 1, h + 1), borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(cutout.mask, shift, (w + 1, h + 1))
    top, left = max(whole[1], 0), max(whole[0], 0)
    bottom, right = min(whole[1] + h + 1, picture.shape[0]), min(whole[0] + w + 1, picture.shape[1])
    if bottom > top and right > left:
        crop = (slice(top - whole[1], bottom - whole[1]), slice(left - whole[0], right - whole[0]))
        alpha = mask[crop][..., None]
        region = picture[top:bottom, left:right]
        region[:] = region * (1 - alpha) + image[crop] * alpha
        owner[top:bottom, left:right][mask[crop] >= 0.5] = walker.identity
    keypoints = cutout.keypoints.copy()
    keypoints[:, :2] += corner
    return keypoints, float((mask >= 0.5).sum())


def _truth(walker: Walker, frame: int, owner, keypoints, area):
    visible = np.argwhere(owner == walker.identity)
    if len(visible) == 0:
        return None
    (y1, x1), (y2, x2) = visible.min(0), visible.max(0) + 1
    return {"id": walker.identity, "box": [float(x1), float(y1), float(x2), float(y2)],
            "keypoints": _keypoint_visibility(keypoints, owner, walker.identity).tolist(),
            "visibility": round(len(visible) / max(area, 1.0), 4), "moving": walker.moving(frame)}


def _keypoint_visibility(keypoints, owner, identity, reach: int = 2) -> np.ndarray:
    """v = 2 where a labelled keypoint's pixel is in the picture, not covered by a pillar or
    another person, and has a pixel of its person within `reach` (COCO puts some keypoints just
    off the mask); 1 where it is hidden; 0 where COCO has no label."""
    height, width = owner.shape
    result = keypoints.copy()
    for k, (x, y, label) in enumerate(keypoints):
        column, row = int(round(x)), int(round(y))
        inside = 0 <= column < width and 0 <= row < height
        near = owner[max(row - reach, 0):row + reach + 1, max(column - reach, 0):column + reach + 1]
        shown = inside and owner[row, column] in (0, identity) and (near == identity).any()
        result[k, 2] = 0 if label == 0 else 2 if shown else 1
    result[:, :2] = np.round(result[:, :2], 3)
    return result


def generate_clip(seed: int, people: int = 5, frames: int = 200, size: tuple[int, int] = (640, 360),
                  split: str = "train", cutouts: list[Cutout] | None = None):
    """Yield (picture, ground truth people) per frame of the clip `seed` gives."""
    rng = np.random.default_rng(seed)
    scene, texture = background(rng, size, split)
    pillars = plan_pillars(rng, size)
    walkers = plan_walkers(rng, cutouts if cutouts is not None else load_cutouts(split), people, frames, size)
    for frame in range(frames):
        yield render_frame(scene, texture, pillars, walkers, frame)


def write_clip(folder: Path, seed: int, people: int = 5, frames: int = 200, size: tuple[int, int] = (640, 360),
               split: str = "train", fps: float = 25.0, cutouts: list[Cutout] | None = None) -> tuple[Path, Path]:
    """Write folder/clip-SEED.mp4 and its ground truth folder/clip-SEED.json; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    video, truth_path = folder / f"clip-{seed}.mp4", folder / f"clip-{seed}.json"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    truth = []
    try:
        for index, (picture, people_truth) in enumerate(generate_clip(seed, people, frames, size, split, cutouts)):
            writer.write(picture)
            truth.append({"frame": index, "people": people_truth})
    finally:
        writer.release()
    truth_path.write_text(json.dumps({"seed": seed, "size": list(size), "fps": fps, "split": split, "frames": truth}))
    return video, truth_path


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--people", type=int, default=5)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=parse_size, default=(640, 360), help="WIDTHxHEIGHT")
    parser.add_argument("--split", choices=["train", "val"], default="train")
    parser.add_argument("--fps", type=float, default=25.0)
    args = parser.parse_args()
    for path in write_clip(args.output, args.seed, args.people, args.frames, args.size, args.split, args.fps):
        print(path)


if __name__ == "__main__":
    main()
