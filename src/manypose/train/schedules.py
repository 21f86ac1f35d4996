"""Training recipes of several steps, as data: each step is a run of the trainer with settings of
its own, started from the recipe's model (the first) or from the previous step's `last`, weights
only (a fresh optimizer and learning-rate schedule). A run of a recipe keeps step N in
OUTPUT/stepN, so that a step resumes (--resume) and the next one finds its start.

lightweight-openpose, the three steps of Lightweight OpenPose's README (Osokin, 2018), with its
optimizer (Adam, 4e-5) and lengths (its iterations of batches of 80 on COCO's 118k training
images, in epochs):
1. from the backbone: one refinement stage, 420k iterations (about 280 epochs);
2. from step 1's weights, the same network again, 280k iterations (190 epochs);
3. from step 2's weights with three refinement stages (the two new ones initialised, their batch
   norms learning their statistics), 370k iterations (250 epochs). The original then deploys the
   network with its first refinement stage only.
Here the learning rate follows the trainer's warm-up and cosine decay rather than the original's
drops by a third at epochs 100, 200 and 260.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .options import TrainOptions


@dataclass(frozen=True)
class ScheduleStep:
    about: str
    epochs: int
    lr: float
    optimizer: str
    batch_norm: str
    architecture: dict = field(default_factory=dict)  # changes to the model's architecture


@dataclass(frozen=True)
class TrainingSchedule:
    model: str  # what step 1 starts from
    steps: tuple[ScheduleStep, ...]

    def step_options(self, number: int, options: TrainOptions) -> TrainOptions:
        """The run's options for step `number` (from 1): the step's settings, OUTPUT/stepN as
        its output, the schedule's model (step 1, unless the run names one: e.g. a backbone's
        weights) or the previous step's last."""
        if not 1 <= number <= len(self.steps):
            raise ValueError(f"step {number}: the schedule has steps 1 to {len(self.steps)}")
        step, output = self.steps[number - 1], Path(options.output)
        start = (options.model or self.model) if number == 1 else str(output / f"step{number - 1}" / "last")
        return replace(options, model=start, output=output / f"step{number}", epochs=step.epochs, lr=step.lr,
                       optimizer=step.optimizer, batch_norm=step.batch_norm, architecture=step.architecture)


LIGHTWEIGHT_OPENPOSE_LR = 4e-5
SCHEDULES = {
    "lightweight-openpose": TrainingSchedule("lightweight-openpose", (
        ScheduleStep("from the backbone, one refinement stage", epochs=280, lr=LIGHTWEIGHT_OPENPOSE_LR,
                     optimizer="adamw", batch_norm="updated", architecture={"refinement_stages": 1}),
        ScheduleStep("from step 1's weights, one refinement stage", epochs=190, lr=LIGHTWEIGHT_OPENPOSE_LR,
                     optimizer="adamw", batch_norm="updated", architecture={"refinement_stages": 1}),
        ScheduleStep("from step 2's weights, three refinement stages", epochs=250, lr=LIGHTWEIGHT_OPENPOSE_LR,
                     optimizer="adamw", batch_norm="updated", architecture={"refinement_stages": 3}),
    )),
}


def schedule(name: str) -> TrainingSchedule:
    if name not in SCHEDULES:
        raise ValueError(f"no training schedule {name!r}; known: {', '.join(sorted(SCHEDULES))}")
    return SCHEDULES[name]
