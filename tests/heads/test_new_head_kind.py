"""A head kind defined entirely in this file (a single-person heatmap head decoded by argmax)
runs through model folder -> ONNX export -> estimator -> poses on every backend, with no
change to runtime/, export or the estimator, and trains through the Trainer on a data set of
its own keypoints with no change to train/: a kind is one module plus its registration."""
import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import manypose
from manypose import modelfile
from manypose.data.augment import AugmentOptions
from manypose.decoders import DecoderOptions
from manypose.data.transforms import InputSpec
from manypose.heads import (CODECS, HEAD_KINDS, Codec, HeadMeta, LossTerm, TrainingContract, register,
                            single_head)
from manypose.models import NETWORKS, register_network
from manypose.skeleton import COCO17
from manypose.train import Trainer, TrainOptions

PEAK_WEIGHT = 2.0


@dataclass(frozen=True)
class ArgmaxHeatmapHead(HeadMeta):
    """One heatmap per keypoint at `stride`; one person, at the maxima."""

    stride: int = 8
    kind = "test_argmax_heatmaps"


@dataclass(frozen=True)
class CellTargets:
    """One sample's targets: 1 on the cell of every labelled keypoint, 0 elsewhere (K, cells, cells)."""

    stride: int

    def __call__(self, sample, size: int) -> np.ndarray:
        cells = size // self.stride
        target = np.zeros((sample.keypoints.shape[1], cells, cells), np.float32)
        for person in sample.keypoints:
            for index, (x, y, visibility) in enumerate(person):
                if visibility > 0 and 0 <= x < size and 0 <= y < size:
                    target[index, int(y) // self.stride, int(x) // self.stride] = 1.0
        return target


class CellLoss(torch.nn.Module):
    """Binary cross-entropy on the keypoints' cells (weighed up: they are few) and on the rest."""

    def forward(self, raw_outputs, targets):
        (logits,) = raw_outputs
        truth = torch.stack([torch.from_numpy(target) for target in targets]).to(logits.device)
        losses = F.binary_cross_entropy_with_logits(logits, truth, reduction="none")
        peaks = truth > 0
        items = torch.stack((PEAK_WEIGHT * losses[peaks].sum() / max(int(peaks.sum()), 1), losses[~peaks].mean()))
        return items.sum(), items.detach()


class ArgmaxCodec(Codec):
    kinds = ("test_argmax_heatmaps",)
    honoured_options = ("score_threshold",)

    def training(self):
        terms = (LossTerm("peak", PEAK_WEIGHT), LossTerm("background", ranks=False))
        return TrainingContract(CellTargets(self.heads[0].stride), CellLoss(), terms, raw_outputs=("cell_logits",))

    def _decoder(self, options):
        head = self.heads[0]

        def decode(outputs):
            maps = outputs[head.output_names[0]]
            flat = maps.reshape(len(maps), -1)
            ys, xs = np.divmod(flat.argmax(axis=1), maps.shape[2])
            confidence = flat.max(axis=1)
            keypoints = np.stack(((xs + 0.5) * head.stride, (ys + 0.5) * head.stride, confidence), 1)[None]
            if confidence.mean() < options.score_threshold:
                return np.zeros((0, 4)), np.zeros(0), np.zeros((0, len(maps), 3))
            box = np.concatenate((keypoints[0, :, :2].min(0), keypoints[0, :, :2].max(0)))[None]
            return box, confidence.mean()[None], keypoints
        return decode


class BrightnessHeatmapNet(torch.nn.Module):
    """Each keypoint's heatmap is the mean brightness of a stride x stride cell."""

    def __init__(self, arch, heads):
        super().__init__()
        head = single_head(heads, ArgmaxHeatmapHead.kind)
        self.cells = torch.nn.Conv2d(3, len(head.skeleton), head.stride, head.stride)

    def raw_outputs(self, images):
        return (self.cells(images),)

    def forward(self, images):
        return torch.sigmoid(self.cells(images))


@pytest.fixture
def toy_model(tmp_path):
    register(ArgmaxHeatmapHead, ArgmaxCodec)
    register_network("test_brightness", BrightnessHeatmapNet)
    head = ArgmaxHeatmapHead(COCO17)
    cells = np.full((17, 3, 8, 8), 8.0 / (3 * 64), np.float32)  # mean over the cell, scaled
    weights = {"cells.weight": cells, "cells.bias": np.full(17, -4.0, np.float32)}
    description = {"name": "toy", "architecture": {"family": "test_brightness"}, "skeleton": COCO17.to_dict(),
                   "input": InputSpec(size=256, stride=32).to_dict(), "heads": [head.to_dict()]}
    yield modelfile.save(tmp_path / "toy", description, weights, dtype="float32")
    HEAD_KINDS.pop(ArgmaxHeatmapHead.kind)
    CODECS.remove(ArgmaxCodec)
    NETWORKS.pop("test_brightness")


def bright_square(x: int, y: int) -> np.ndarray:
    image = np.zeros((240, 320, 3), np.uint8)
    image[y - 20:y + 20, x - 20:x + 20] = 255  # several whole cells of the network input
    return image


@pytest.mark.parametrize("backend", ["onnxruntime", "torch", "openvino"])
def test_a_head_kind_defined_in_test_code_runs_end_to_end(toy_model, backend):
    estimator = manypose.load(toy_model, backend=backend, score_threshold=0.5)
    poses = estimator(bright_square(200, 80))
    assert len(poses) == 1 and poses.keypoints.shape == (1, 17, 3)
    assert np.abs(poses.keypoints[0, :, :2] - (200, 80)).max() < 20  # a cell inside the square
    assert len(estimator(np.zeros((240, 320, 3), np.uint8))) == 0, "a dark image scores below 0.5"


def test_its_options_are_honoured_or_refused(toy_model):
    with pytest.raises(ValueError, match="test_argmax_heatmaps decoder has no iou_threshold"):
        manypose.load(toy_model, iou_threshold=0.5)


def test_it_exports_with_its_own_output_name(toy_model, tmp_path):
    import onnx

    from manypose import export

    path = export.export_onnx(modelfile.read_model_folder(toy_model), tmp_path / "toy.onnx")
    assert [output.name for output in onnx.load(str(path)).graph.output] == ["test_argmax_heatmaps"]


@dataclass(frozen=True)
class PersonScoreHead(HeadMeta):
    """One number per image: how likely it shows a person."""

    kind = "test_person_score"


class HeatmapsAndScoreCodec(ArgmaxCodec):
    """Claims two heads and decodes their two outputs together."""

    kinds = ("test_argmax_heatmaps", "test_person_score")

    def _decoder(self, options):
        keypoints_of = super()._decoder(DecoderOptions(score_threshold=0.0))
        score_name = self.heads[1].output_names[0]

        def decode(outputs):
            boxes, _, keypoints = keypoints_of(outputs)
            score = outputs[score_name].reshape(-1)
            keep = score >= options.score_threshold
            return boxes[keep], score[keep], keypoints[keep]
        return decode


class TwoOutputNet(BrightnessHeatmapNet):
    def __init__(self, arch, heads):
        super().__init__(arch, heads[:1])

    def forward(self, images):
        return super().forward(images), images.mean(dim=(1, 2, 3))


def test_one_codec_claims_two_heads_and_reads_both_outputs(tmp_path):
    register(ArgmaxHeatmapHead, ArgmaxCodec)
    register(PersonScoreHead, HeatmapsAndScoreCodec)
    register_network("test_two_outputs", TwoOutputNet)
    try:
        heads = [ArgmaxHeatmapHead(COCO17).to_dict(), PersonScoreHead(COCO17).to_dict()]
        description = {"name": "two", "architecture": {"family": "test_two_outputs"}, "skeleton": COCO17.to_dict(),
                       "input": InputSpec(size=256, stride=32).to_dict(), "heads": heads}
        weights = {"cells.weight": np.full((17, 3, 8, 8), 8.0 / 192, np.float32),
                   "cells.bias": np.full(17, -4.0, np.float32)}
        folder = modelfile.save(tmp_path / "two", description, weights, dtype="float32")
        for backend in ("onnxruntime", "torch"):
            poses = manypose.load(folder, backend=backend, score_threshold=0.001)(bright_square(200, 80))
            assert len(poses) == 1 and np.abs(poses.keypoints[0, :, :2] - (200, 80)).max() < 20
            assert poses.scores[0] == pytest.approx(1600 / (320 * 240), rel=0.05)  # the mean brightness
    finally:
        HEAD_KINDS.pop(ArgmaxHeatmapHead.kind)
        HEAD_KINDS.pop(PersonScoreHead.kind)
        CODECS.remove(ArgmaxCodec)
        CODECS.remove(HeatmapsAndScoreCodec)
        NETWORKS.pop("test_two_outputs")


COLOURS = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}  # keypoint name -> BGR dot


def write_coloured_dots(folder, count: int = 8, size: int = 256):
    """`count` black images, each of one 'person': a red, a green and a blue dot, its keypoints."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    images, annotations = [], []
    for index in range(count):
        image = np.zeros((size, size, 3), np.uint8)
        dots = rng.integers(32, size - 32, size=(3, 2))
        for (x, y), colour in zip(dots, COLOURS.values()):
            cv2.circle(image, (int(x), int(y)), 12, colour, -1)
        cv2.imwrite(str(folder / "images" / f"{index}.png"), image)
        (x1, y1), (x2, y2) = dots.min(0) - 12, dots.max(0) + 12
        images.append({"id": index, "file_name": f"{index}.png", "width": size, "height": size})
        annotations.append({"id": index, "image_id": index, "category_id": 1, "iscrowd": 0, "num_keypoints": 3,
                            "bbox": [int(x1), int(y1), int(x2 - x1), int(y2 - y1)], "area": int((x2 - x1) * (y2 - y1)),
                            "keypoints": [int(v) for x, y in dots for v in (x, y, 2)]})
    category = {"id": 1, "name": "dots", "keypoints": list(COLOURS), "skeleton": [[1, 2], [2, 3]]}
    path = folder / "dots.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [category]}))
    return path


def test_it_trains_on_its_own_keypoints_through_the_trainer(toy_model, tmp_path):
    annotations, images = write_coloured_dots(tmp_path / "data"), tmp_path / "data" / "images"
    still = AugmentOptions(size=256, scale=(1.0, 1.0), translate=0.1, flip=0.0, hsv=(0.0, 0.0, 0.0))
    trainer = Trainer(TrainOptions(annotations, images, tmp_path / "run", model=str(toy_model), epochs=6,
                                   val_annotations=annotations, val_images=images, batch_size=4, optimizer="adamw",
                                   lr=0.05, warmup_steps=1, workers=0, augment=still))
    assert [len(head.skeleton) for head in trainer.heads] == [3], "the codec fitted its head to the data's keypoints"
    assert trainer.initialised == ["cells.bias", "cells.weight"]
    result = trainer.run(progress=False)

    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [list(entry["loss"]) for entry in log] == [["peak", "background"]] * 6
    totals = [sum(entry["loss"].values()) for entry in log]
    assert totals[-1] < 0.5 * totals[0], totals
    assert all(0 <= entry["AP"] <= 1 for entry in log)
    description = json.loads((result.last / "model.json").read_text())
    assert description["heads"] == [{"kind": ArgmaxHeatmapHead.kind, "stride": 8}]
    assert description["skeleton"]["keypoints"] == list(COLOURS)
    assert description["provenance"]["loss_weights"] == {"peak": PEAK_WEIGHT, "background": 1.0}
