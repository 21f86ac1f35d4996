"""Augmented samples as the network's input tensors and the loss's targets, in batches."""
from __future__ import annotations

from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from ..data.augment import AugmentedDataset
from ..data.transforms import InputSpec


class TrainingImages(Dataset):
    """Item i: the augmented image as a (3, S, S) float tensor normalized as the model's input
    spec says, and its targets as the heads' training contract makes them, `targets(sample, S)`
    (in the data loading workers: dense targets take time to draw)."""

    def __init__(self, augmented: AugmentedDataset, input_spec: InputSpec, targets: Callable):
        self.augmented = augmented
        self.input_spec = input_spec.with_size(augmented.options.size)
        self.targets = targets

    def __len__(self) -> int:
        return len(self.augmented)

    def __getitem__(self, index: int):
        sample = self.augmented[index]
        blob, _ = self.input_spec.prepare(sample.image, minimal_padding=False)  # already square: no resize
        return torch.from_numpy(blob[0]), self.targets(sample, self.augmented.options.size)


def collate(items):
    images, targets = zip(*items)
    return torch.stack(images), list(targets)


def batches(images: TrainingImages, order: list[int], batch_size: int, workers: int) -> DataLoader:
    """Batches in the given order of items (drawn per epoch from the run's seed, so a resumed run
    sees the same batches)."""
    return DataLoader(images, batch_size=batch_size, sampler=order, num_workers=workers, collate_fn=collate,
                      persistent_workers=False, drop_last=False)
