"""Run OpenPifPaf's own CIF/CAF decoder (its compiled C++ extension, default settings, COCO
person heads at stride 8) on saved fields, for benchmarks/cifcaf_decoder.py. Runs in a venv with
openpifpaf 0.13 (see ../shared/peers/setup_peers.sh), never in manypose's.

Usage: python openpifpaf_cifcaf.py --fields FIELDS.npz --out OUT.npz [--repeats 5] [--force-complete-pose]

FIELDS.npz holds, per image key K (listed in `keys`), K/cif (17, 5, H, W) and K/caf (19, 8, H, W)
in OpenPifPaf's evaluation layout (float16 or float32). OUT.npz gets per key K/keypoints
(N, 17, 3) x, y, confidence in input pixels, K/scores (N,) (OpenPifPaf's annotation score), and
the times of `repeats` calls in milliseconds: K/ms the whole decoder, K/core_ms its C++ part.
--force-complete-pose configures the decoder through OpenPifPaf's own command-line options, as
its evaluation runs it.
"""
import argparse
import time

import numpy as np
import openpifpaf.datasets
import openpifpaf.decoder
import torch
from openpifpaf.decoder import CifCaf

STRIDE = 8


def coco_decoder() -> CifCaf:
    datamodule = openpifpaf.datasets.DATAMODULES["cocokp"]()
    cif_meta, caf_meta = datamodule.head_metas[:2]
    for index, meta in enumerate((cif_meta, caf_meta)):
        meta.base_stride, meta.upsample_stride, meta.head_index = 2 * STRIDE, 2, index
    return CifCaf([cif_meta], [caf_meta])


def configure_complete_poses() -> None:
    parser = argparse.ArgumentParser()
    openpifpaf.decoder.cli(parser)
    openpifpaf.decoder.configure(parser.parse_args(["--force-complete-pose"]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fields", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--force-complete-pose", action="store_true")
    args = parser.parse_args()
    if args.force_complete_pose:
        configure_complete_poses()
    torch.set_num_threads(1)  # the decoder is sequential; as manypose's
    decoder = coco_decoder()
    fields = np.load(args.fields)
    out = {}
    for key in fields["keys"]:
        cif = torch.from_numpy(fields[f"{key}/cif"].astype(np.float32))
        caf = torch.from_numpy(fields[f"{key}/caf"].astype(np.float32))
        ms, core_ms = [], []
        for _ in range(args.repeats + 1):  # the first call warms up, untimed
            start = time.perf_counter()
            annotations = decoder([cif, caf])
            middle = time.perf_counter()
            decoder.cpp_decoder.call(cif, STRIDE, caf, STRIDE)
            end = time.perf_counter()
            ms.append((middle - start) * 1e3)
            core_ms.append((end - middle) * 1e3)
        out[f"{key}/keypoints"] = np.array([a.data for a in annotations], np.float32).reshape(-1, 17, 3)
        out[f"{key}/scores"] = np.array([a.score for a in annotations], np.float32)
        out[f"{key}/ms"], out[f"{key}/core_ms"] = np.array(ms[1:]), np.array(core_ms[1:])
    np.savez(args.out, **out)


if __name__ == "__main__":
    main()
