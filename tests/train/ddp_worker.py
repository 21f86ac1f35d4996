"""Run by tests/train/test_train_loop.py under torchrun: a few training steps, then each rank
writes a digest of its weights."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch

from manypose.data.augment import AugmentOptions
from manypose.train import Trainer, TrainOptions

from conftest import SHARED


def main(folder: Path) -> None:
    coco = SHARED / "data/coco-mini"
    trainer = Trainer(TrainOptions(coco / "annotations/person_keypoints_train2017.json", coco / "train2017",
                                   folder / "run", epochs=1, batch_size=2, max_steps=3, workers=0,
                                   augment=AugmentOptions(size=160)))
    before = {k: v.clone() for k, v in trainer.network.state_dict().items()}
    result = trainer.run(progress=False)
    digest = hashlib.sha256()
    for name, value in sorted(result.network.state_dict().items()):
        digest.update(name.encode() + value.detach().cpu().numpy().tobytes())
    rank = os.environ["RANK"]
    (folder / f"rank{rank}.txt").write_text(digest.hexdigest())
    if rank == "0":
        changed = sum(not torch.equal(before[k], v) for k, v in result.network.state_dict().items())
        (folder / "moved.json").write_text(json.dumps({"changed": changed}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
