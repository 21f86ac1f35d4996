"""Batch prediction over image files: JSON results, drawn overlays, and a report of failures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from tqdm import tqdm

from .data.images import expand_image_paths
from .atomic_files import atomic_write_bytes, atomic_write_text


@dataclass
class BatchReport:
    entries: list[dict] = field(default_factory=list)  # one per input, in order
    failures: list[str] = field(default_factory=list)  # one-line error messages

    @property
    def ok(self) -> bool:
        return not self.failures


def predict_files(estimator, inputs, json_output=None, image_output=None, progress: bool = True,
                  on_error=None) -> BatchReport:
    """Run the estimator on every image; a bad file is reported and skipped, never fatal."""
    files, input_errors = expand_image_paths(inputs)
    report = BatchReport()
    for source, message in input_errors:
        _record_failure(report, source, message, on_error)
    overlay_dir = Path(image_output) if image_output else None
    results = estimator.stream(files)
    for result in tqdm(results, total=len(files), desc="predict", unit="image",
                       disable=not progress or len(files) < 2):
        if result.error is not None:
            _record_failure(report, str(result.path), str(result.error), on_error)
            continue
        poses = result.poses
        report.entries.append({"file": str(result.path), "width": poses.image_size[0],
                               "height": poses.image_size[1], "poses": poses.to_dicts()})
        if overlay_dir is not None:
            write_overlay(overlay_dir / (result.path.stem + ".jpg"), poses.draw(result.image))
    if json_output:
        atomic_write_text(json_output, json.dumps(report.entries, indent=1) + "\n")
    return report


def _record_failure(report: BatchReport, source: str, message: str, on_error) -> None:
    report.failures.append(message)
    report.entries.append({"file": source, "error": message})
    if on_error:
        on_error(message)


def write_overlay(path: Path, image) -> None:
    ok, encoded = cv2.imencode(path.suffix or ".jpg", image)
    if not ok:
        raise OSError(f"{path}: could not encode the overlay image")
    atomic_write_bytes(path, encoded.tobytes())
