"""`manypose export`: ONNX, optionally statically quantized to INT8."""
from __future__ import annotations

from .options import model_inputs, positive_int


def add(commands) -> None:
    p = commands.add_parser(
        "export", help="export a model to ONNX (optionally INT8)",
        description="Export a model to ONNX with dynamic height and width, checking that ONNX Runtime's "
                    "outputs equal torch's. With --int8, write a statically quantized model instead, "
                    "calibrated on --calibration-images (a few dozen training images), or by default "
                    "on the bundled demo image in 8 placements. Needs torch and onnx.")
    p.add_argument("model", metavar="MODEL", help="model name, model folder, or checkpoint (.pt, .pth, .pkl, .pb, TensorFlow.js .json)")
    p.add_argument("out", metavar="OUT.onnx", help="file to write; never over an input (the model's own files)")
    p.add_argument("--int8", action="store_true", help="write the INT8 model instead")
    p.add_argument("--calibration-images", metavar="DIR",
                   help="images to calibrate INT8 with (default: the bundled demo image)")
    p.add_argument("--calibration-count", type=positive_int, default=32, help="how many of them (default 32)")
    p.set_defaults(run=run)


def run(args) -> int:
    import tempfile

    from .. import export
    from ..run_plan import refuse_overwriting_inputs
    from ..zoo import find_model

    refuse_overwriting_inputs(model_inputs(args.model, args.calibration_images), files=[("the ONNX file", args.out)])
    model = find_model(args.model)
    if not args.int8:
        export.export_onnx(model, args.out)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            fp32 = export.export_onnx(model, f"{scratch}/fp32.onnx")
            export.quantize_int8(model, fp32, args.out, args.calibration_images, count=args.calibration_count)
    print(f"wrote {args.out}")
    return 0
