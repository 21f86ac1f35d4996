"""A small OpenPifPaf network (ShuffleNetV2K at a fraction of shufflenetv2k16's widths, COCO cif
and caf heads) trained from scratch on 8 coco-mini train2017 images learns them: the
composite-field loss, its targets, the trainer and the decoder working together, on a CPU.

    python benchmarks/train_pifpaf_tiny.py [--steps 3000] [--widths 96 192 384] [--repeats 1 2 1]
                                           [--size 257] [--lr 0.003] [--translate 0.05] [--zoom 0.9 1.1]

Prints the COCO AP on those 8 images before (random weights) and after training, and the
seconds it took; twice: decoded with complete poses (OpenPifPaf's --force-complete-pose, the
setting of its COCO evaluation) and with the default decoding. The images are evaluated through
manypose.load at the training size, on square letterboxes like the training inputs (the model's
input asks for them). A light augmentation (zoom 0.9-1.1, shifts of up to 5 %): trained on one
letterbox of each image alone, the network learns those very pixels and loses the people once
they are resampled or placed a few pixels apart (measured: 1000 steps, AP 0.50 on the training
letterboxes, 0.05 through manypose.load with the usual minimal padding).
Measured on 2 cores, 3000 steps; AP with complete poses / with the default decoding:
- widths 96/192/384 (the default): 0.820 / 0.616 (APm 0.354, APl 0.876), 3693 s (2559 s on
  quiet cores); with --steps 5000: 0.857 / 0.631, 4338 s; with --repeats 2 4 2: 0.829 / 0.616;
- widths 128/256/512: 0.861 / 0.615, 3385 s;
- widths 32/64/128, default decoding: 0.552 (0.548 at --size 385).
The 8 images hold a crowd of small, overlapping spectators (000000129648). The default decoding
loses most of them although the network has learnt them (median CAF confidence 0.9 or more on
every labelled person's association cells): rescored by the high-resolution CIF map where they
point, their associations fall below the CAF threshold (0.3; at 0.1 the AP is 0.681) and they
come out in pieces. The round
trip's reading on labelled keypoints at 257 px: 0.817 with complete poses, 0.790 without.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch
from common import TRAIN_IMAGES, benchmark_parser
from train_tiny import IMAGES, first_images, training_ap

from manypose import modelfile
from manypose.data.augment import AugmentOptions
from manypose.models import build_network
from manypose.train import Trainer, TrainOptions
from manypose.zoo import untrained_model

# shufflenetv2k16 is stem 24, stages [4, 8, 4] x [348, 696, 1392], final 1392
SMALL_STEM_CHANNELS = 16


def tiny_model(folder: Path, size: int, widths: list[int], repeats: list[int]) -> Path:
    """The small network with stages of `widths` channels (the last also the final width) and
    `repeats` blocks, initialised (seed 0), as a model folder whose input is `size` pixels,
    letterboxed square and shrunk by area like its training inputs (a network this small, fitted
    to 8 images, knows only the pixels it was trained on: AP 0.638 against 0.631 when the same
    weights see a bilinear resize)."""
    torch.manual_seed(0)
    base = untrained_model("shufflenetv2k16")
    arch = {**base.architecture, "variant": "shufflenetv2k-tiny"}
    arch["backbone"] = {**arch["backbone"], "stem_channels": SMALL_STEM_CHANNELS, "stage_repeats": list(repeats),
                        "stage_channels": list(widths), "final_channels": widths[-1]}
    network = build_network(arch, base.heads)
    weights = {k: v.numpy() for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    description = {**base.description, "name": "shufflenetv2k-tiny", "architecture": arch,
                   "input": {**base.description["input"], "size": size, "square": True,
                             "interpolation": "area"},
                   "provenance": {"initialised": "torch defaults, seed 0"}}
    return modelfile.save(folder / "tiny", description, weights, dtype="float32")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--widths", type=int, nargs=3, default=(96, 192, 384), metavar="CHANNELS",
                        help="channels of the three stages (shufflenetv2k16: 348 696 1392)")
    parser.add_argument("--repeats", type=int, nargs=3, default=(1, 2, 1), metavar="BLOCKS",
                        help="blocks of the three stages (shufflenetv2k16: 4 8 4)")
    parser.add_argument("--size", type=int, default=257, help="16 k + 1 pixels")
    parser.add_argument("--translate", type=float, default=0.05, help="random shift, a fraction of the size")
    parser.add_argument("--zoom", type=float, nargs=2, default=(0.9, 1.1), help="random zoom range (1 fits the long side)")
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--workers", type=int, default=1, help="data loading processes (targets are drawn there)")
    parser.add_argument("--lr", type=float, default=3e-3, help="from scratch (the trainer cannot tell that the "
                                                                "folder's weights are untrained)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="manypose-pifpaf-tiny-"))
    annotations = first_images(folder)
    model = tiny_model(folder, args.size, args.widths, args.repeats)
    before = {complete: training_ap(model, annotations, complete) for complete in (None, True)}
    light = AugmentOptions(size=args.size, scale=tuple(args.zoom), translate=args.translate, flip=0.0, hsv=(0.0, 0.0, 0.0))
    options = TrainOptions(annotations, TRAIN_IMAGES, folder / "run", model=str(model), epochs=1,
                           repeats=args.steps, batch_size=IMAGES, optimizer=args.optimizer, lr=args.lr,
                           workers=args.workers, augment=light, ema_decay=0.99)
    started = time.perf_counter()
    Trainer(options).run(progress=False)
    seconds = time.perf_counter() - started
    after = {complete: training_ap(folder / "run" / "last", annotations, complete) for complete in (None, True)}
    widths = "/".join(map(str, args.widths))
    repeats = "/".join(map(str, args.repeats))
    print(f"ShuffleNetV2K {widths} x {repeats} blocks cif/caf ({args.size} px) from scratch on {IMAGES} images, "
          f"{args.steps} steps of {args.optimizer} in {seconds:.0f} s on {os.cpu_count()} CPUs; training-set AP\n"
          f"  complete poses (OpenPifPaf's evaluation setting): {before[True]:.3f} -> {after[True]:.3f}\n"
          f"  default decoding:                                  {before[None]:.3f} -> {after[None]:.3f}")


if __name__ == "__main__":
    main()
