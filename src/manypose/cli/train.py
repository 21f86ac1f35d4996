"""`manypose train`: fine-tune or train a model on COCO-format keypoint data."""
from __future__ import annotations

import sys
from pathlib import Path

from .options import model_inputs, positive_int


def add(commands) -> None:
    p = commands.add_parser(
        "train", help="fine-tune or train a model on COCO-format keypoint data",
        description="Train on a COCO-format keypoint data set (any keypoint set: a model is fine-tuned onto "
                    "another one with its keypoint layers rebuilt). After every epoch the moving average of the "
                    "weights is evaluated on the validation set and written as OUTPUT/last and OUTPUT/best, model "
                    "folders that --model accepts, with OUTPUT/log.jsonl and OUTPUT/curves.png. Defaults are safe "
                    "for fine-tuning small data sets. Several processes: torchrun --nproc_per_node N -m manypose.cli "
                    "train ... (gloo on CPUs, NCCL on GPUs). Needs torch.")
    p.add_argument("--model", default=None, metavar="NAME|PATH", help="model to start from (default: yolo11n-pose)")
    p.add_argument("--train-annotations", required=True, type=Path, metavar="COCO.json")
    p.add_argument("--train-images", required=True, type=Path, metavar="DIR")
    p.add_argument("--val-annotations", type=Path, metavar="COCO.json", help="validation annotations (AP per epoch)")
    p.add_argument("--val-images", type=Path, metavar="DIR")
    p.add_argument("--output", required=True, type=Path, metavar="DIR",
                   help="where last/, best/ and the log go; never a folder that is or holds an input")
    p.add_argument("--epochs", type=positive_int, default=10, help="default 10")
    p.add_argument("--batch-size", type=positive_int, default=8, help="per process (default 8)")
    p.add_argument("--repeats", type=positive_int, default=1,
                   help="passes over the images per epoch (small data sets: fewer evaluations and checkpoints)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd",
                   help="sgd (Nesterov momentum; default: its steps follow the gradients, gentle on trained weights) "
                        "or adamw")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: SGD 1e-4 from trained weights, 1e-2 from scratch; AdamW 1e-4 and "
                        "1e-3), after a linear warm-up from 0 over a tenth of the run, then a cosine decay to a tenth")
    p.add_argument("--size", type=positive_int, default=640, help="training input size, square (default 640)")
    p.add_argument("--mosaic", type=float, default=0.0, help="share of samples made as 4-image mosaics (default 0)")
    p.add_argument("--batch-norm", choices=("auto", "frozen", "updated"), default="auto",
                   help="batch-norm running statistics: frozen keeps the trained ones, updated learns them; auto "
                        "(default): frozen from trained weights (small batches pull them off), updated from scratch")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (CPUs and GPUs that have it)")
    p.add_argument("--resume", action="store_true", help="continue the run in --output where it stopped")
    p.add_argument("--force", action="store_true",
                   help="start a new run in an --output that holds one, replacing its last/ and best/ (without "
                        "--resume or --force, such a folder is refused)")
    p.add_argument("--refinement-stages", type=positive_int, metavar="N",
                   help="Lightweight OpenPose: train N refinement stages (the model's own by default); the weights "
                        "of the stages it has load, new ones start initialised, those beyond N are left out")
    p.add_argument("--train-only", metavar="REGEX",
                   help="train only the parameters whose names this regular expression matches (Python re.search "
                        "on the network's state-dict names, e.g. 'model\\.23\\.cv[23]\\.' for a YOLO-pose head's box "
                        "and class branches); the others keep their weights (batch-norm statistics follow "
                        "--batch-norm). A pattern that matches no parameter is an error")
    p.add_argument("--schedule", metavar="NAME",
                   help="run step --step of a training recipe, in OUTPUT/stepN, from the previous step's last (or "
                        "--model, step 1); the recipe sets each step's epochs, learning rate, optimizer, batch norm "
                        "and architecture. lightweight-openpose: the original's 3 steps: 1. from the backbone "
                        "with 1 refinement stage, 2. again from step 1's weights, 3. from step 2's with 3 refinement "
                        "stages (the original deploys its first); the original's batch size is 80")
    p.add_argument("--step", type=positive_int, help="the --schedule step to run (default 1)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--workers", type=int, default=2, help="data loading processes (default 2)")
    p.add_argument("--seed", type=int, default=0,
                   help="the initialised weights (those no trained weights fill), the data order and the "
                        "augmentation: a run on the CPU repeats with the same seed (default 0)")
    p.add_argument("--save-samples", type=Path, metavar="DIR",
                   help="write augmented samples with their targets drawn; never a folder that is or holds an input")
    p.add_argument("--dry-run", action="store_true", help="prepare (and --save-samples) without training")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..optional import require

    _refuse_overwriting_inputs(args)
    require("torch", "training")
    from ..data.augment import AugmentOptions
    from ..train import Trainer, TrainOptions
    from ..train.schedules import schedule

    options = TrainOptions(args.train_annotations, args.train_images, args.output, model=args.model,
                           val_annotations=args.val_annotations, val_images=args.val_images, epochs=args.epochs,
                           batch_size=args.batch_size, repeats=args.repeats, optimizer=args.optimizer, lr=args.lr,
                           amp=args.amp, resume=args.resume, force=args.force, seed=args.seed, workers=args.workers,
                           device=args.device, batch_norm=args.batch_norm,
                           augment=AugmentOptions(size=args.size, mosaic=args.mosaic), train_only=args.train_only,
                           architecture={"refinement_stages": args.refinement_stages} if args.refinement_stages else {})
    if args.schedule:
        if args.refinement_stages:
            raise ValueError("--schedule sets the refinement stages of each step: not with --refinement-stages")
        options = schedule(args.schedule).step_options(args.step or 1, options)
    elif args.step:
        raise ValueError("--step is a step of a --schedule")
    trainer = Trainer(options)
    print(f"{len(trainer.data)} images, {trainer.data.num_people} people ({trainer.heads[0].skeleton.name}, "
          f"{len(trainer.heads[0].skeleton)} keypoints); from {trainer.base.name}"
          + (f", {len(trainer.initialised)} weights initialised for the new keypoint set" if trainer.initialised else "")
          + (f"; training {len(trainer.trained_parameters)} parameter tensors" if args.train_only else "")
          + f"; lr {trainer.schedule.lr:g}, {trainer.steps_per_epoch} steps per epoch", file=sys.stderr)
    if args.save_samples:
        print(f"wrote {len(trainer.save_samples(args.save_samples))} augmented samples to {args.save_samples}",
              file=sys.stderr)
    if args.dry_run:
        return 0
    result = trainer.run(progress=not args.quiet)
    last = result.log[-1] if result.log else {}
    ap = f", validation AP {last['AP']:.3f}" if "AP" in last else ""
    print(f"trained {last.get('epoch', 0)} epochs{ap}; wrote {result.last}" + (f" and {result.best}" if result.best else ""),
          file=sys.stderr)
    return 0


def _refuse_overwriting_inputs(args) -> None:
    from ..run_plan import refuse_overwriting_inputs

    read = [("the training annotations", args.train_annotations), ("the training images", args.train_images),
            ("the validation annotations", args.val_annotations), ("the validation images", args.val_images)]
    refuse_overwriting_inputs(read + model_inputs(args.model), folders=[("the training output", args.output),
                                                                         ("the samples folder", args.save_samples)])
