"""What training the heads of a kind takes, as their codec states it (`Codec.training()`): one
augmented sample's targets, the loss over the network's raw outputs, and the loss's terms by
name. The trainer reads nothing else, so a new head kind trains without a change to train/.

The network's side of the contract: `network.raw_outputs(images)` gives the undecoded maps the
loss reads, in `raw_outputs` order (`forward` stays the inference outputs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class LossTerm:
    """One item of the loss, logged under `name`. `weight`: its gain in the total, which the loss
    applies (the items it returns are weighted); `ranks`: whether it counts in the score that
    ranks checkpoints when there is no validation AP (the lowest sum is best)."""

    name: str
    weight: float = 1.0
    ranks: bool = True


@dataclass(frozen=True)
class TrainingContract:
    """targets: `targets(sample, size)` -> one augmented sample's targets for a square input of
    `size` pixels; the data loading workers call it, so it must pickle (no lambda).
    loss: a torch module, `loss(raw_outputs, targets) -> (total, items)`, targets a list of
    one image's each, total a scalar for backward, items (one per term, detached) in `terms` order.
    raw_outputs: names of the network's raw outputs the loss reads, in order."""

    targets: Callable[[Any, int], Any]
    loss: Any  # torch.nn.Module (heads import no torch: inference runs without it)
    terms: tuple[LossTerm, ...]
    raw_outputs: tuple[str, ...]

    def __post_init__(self):
        names = self.term_names
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a loss needs terms of distinct names, not {names}")
        if not self.ranking_terms:
            raise ValueError(f"none of the loss terms {', '.join(names)} ranks checkpoints")

    @property
    def term_names(self) -> tuple[str, ...]:
        return tuple(term.name for term in self.terms)

    @property
    def term_weights(self) -> dict[str, float]:
        return {term.name: term.weight for term in self.terms}

    @property
    def ranking_terms(self) -> tuple[str, ...]:
        return tuple(term.name for term in self.terms if term.ranks)

    def __call__(self, raw_outputs, targets):
        """The loss of a batch, checked against the contract: (total, items)."""
        if len(raw_outputs) != len(self.raw_outputs):
            raise ValueError(f"the network gives {len(raw_outputs)} raw outputs; the loss reads "
                             f"{len(self.raw_outputs)} ({', '.join(self.raw_outputs)})")
        total, items = self.loss(raw_outputs, targets)
        if len(items) != len(self.terms):
            raise ValueError(f"the loss gives {len(items)} items for the terms {', '.join(self.term_names)}")
        return total, items
