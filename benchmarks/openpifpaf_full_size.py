"""The full-size check of OpenPifPaf checkpoint import: shufflenetv2k16 at its published widths
(random weights, written as OpenPifPaf's trainer writes it) converted by `manypose convert` gives
OpenPifPaf's own fields on a whole dev image. The tests do the same with tiny widths.

    # in a scratch venv with openpifpaf (never a manypose dependency):
    python tests/fixtures/openpifpaf/make_reference.py --full-size /tmp/pifpaf-full
    # here:
    python benchmarks/openpifpaf_full_size.py /tmp/pifpaf-full

Prints the largest absolute difference of each field as JSON; the issue asks for < 1e-4.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from common import SHARED, benchmark_parser

from manypose.cli import main as manypose_main
from manypose.modelfile import read_model_folder
from manypose.models import inference_network

IMAGE = "data/coco-mini/val2017/000000397133.jpg"  # make_reference.py's FULL_SIZE_IMAGE


def our_fields(model_folder: Path, image: np.ndarray) -> list[np.ndarray]:
    """The converted network's fields on the image at its own size, as OpenPifPaf's predictor feeds it."""
    model = read_model_folder(model_folder)
    blob, _ = dataclasses.replace(model.input_spec, size=max(image.shape[:2])).prepare(image)
    with torch.no_grad():
        return [output[0].numpy() for output in inference_network(model)(torch.from_numpy(blob))]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("reference", type=Path, help="the folder make_reference.py --full-size wrote")
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args()
    expected = np.load(args.reference / "shufflenetv2k16-random-fields.npz")
    with tempfile.TemporaryDirectory() as folder:
        converted = Path(folder) / "shufflenetv2k16"
        if manypose_main(["convert", str(args.reference / "shufflenetv2k16-random.pkl"), str(converted),
                          "--dtype", "float32"]):
            raise SystemExit("conversion failed")
        cif, caf = our_fields(converted, cv2.imread(str(args.shared / IMAGE)))
    report = {}
    for name, field in (("cif", cif), ("caf", caf)):
        if field.shape != expected[name].shape:
            raise SystemExit(f"{name}: shape {field.shape}, OpenPifPaf's {expected[name].shape}")
        report[f"{name}_max_abs_difference"] = float(np.abs(field - expected[name]).max())
        report[f"{name}_shape"] = list(field.shape)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
