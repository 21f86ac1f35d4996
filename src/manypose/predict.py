"""Batch prediction over image files: JSON results, drawn overlays, and a report of failures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
from tqdm import tqdm

from .atomic_files import atomic_write_bytes, atomic_write_text, check_writable, check_writable_folder
from .data.images import expand_image_paths
from .run_plan import refuse_overwriting_inputs


@dataclass
class BatchReport:
    entries: list[dict] = field(default_factory=list)  # one per input, in order
    failures: list[str] = field(default_factory=list)  # one-line error messages

    @property
    def ok(self) -> bool:
        return not self.failures

    @classmethod
    def starting(cls, batch: "Batch", on_error=None) -> "BatchReport":
        """A report holding the batch's inputs that give no file, before any image is run."""
        report = cls()
        for source, message in batch.input_errors:
            report.add(error_entry(source, message), on_error)
        return report

    def add(self, entry: dict, on_error=None) -> None:
        self.entries.append(entry)
        if "error" in entry:
            self.failures.append(entry["error"])
            if on_error:
                on_error(entry["error"])


@dataclass
class Batch:
    """What a prediction run reads and writes, planned before any image is run."""

    files: list[Path]                     # the images, folders expanded
    input_errors: list[tuple[str, str]]   # (input, message) for inputs that give no file
    json_output: Path | str | None
    overlays: list[Path]                  # the drawn image of each file; empty: none asked for


def plan_batch(inputs, json_output=None, image_output=None, also_read=()) -> Batch:
    """Expand the inputs and refuse, before any work, outputs that would overwrite an input (an
    image, a folder, or what `also_read` names: the model's files) or that cannot be written."""
    files, input_errors = expand_image_paths(inputs)
    overlays = overlay_paths(files, Path(image_output)) if image_output else []
    read = [("the input folder" if Path(item).is_dir() else "the input image", item) for item in inputs]
    read += [("the input image", path) for path in files]
    refuse_overwriting_inputs(read + list(also_read), files=[("the JSON output", json_output)]
                              + [("the drawn image", overlay) for overlay in overlays])
    if json_output:
        check_writable(json_output, "the JSON output")
    if image_output:
        check_writable_folder(image_output, "the drawn images")
    return Batch(files, input_errors, json_output, overlays)


def overlay_paths(files, folder: Path) -> list[Path]:
    """`stem.jpg` in `folder` for each file; a name already taken in this batch gets the
    file's suffix (a.png -> a_png.jpg), then a number."""
    taken, paths = set(), []
    for path in files:
        name = f"{path.stem}.jpg"
        if name in taken:
            name = f"{path.stem}_{path.suffix.lstrip('.')}.jpg"
        number = 2
        while name in taken:
            name, number = f"{path.stem}_{number}.jpg", number + 1
        taken.add(name)
        paths.append(folder / name)
    return paths


def predict_batch(estimator, batch: Batch, progress: bool = True, on_error=None) -> BatchReport:
    """Run the estimator on every image; a bad file is reported and skipped, never fatal."""
    report = BatchReport.starting(batch, on_error)
    results = estimator.stream(batch.files, full_images=bool(batch.overlays))
    for result in tqdm(results, total=len(batch.files), desc="predict", unit="image",
                       disable=not progress or len(batch.files) < 2):
        report.add(result_entry(result), on_error)
        if batch.overlays:
            write_drawn(batch.overlays[result.index], result)
    write_json(batch, report)
    return report


def result_entry(result) -> dict:
    """The JSON entry of one stream result, the same whichever engine ran it."""
    if result.error is not None:
        return error_entry(str(result.path), str(result.error))
    poses = result.poses
    return {"file": str(result.path), "width": poses.image_size[0], "height": poses.image_size[1],
            "poses": poses.to_dicts()}


def error_entry(source: str, message: str) -> dict:
    return {"file": source, "error": message}


def write_json(batch: Batch, report: BatchReport) -> None:
    if batch.json_output:
        atomic_write_text(batch.json_output, json.dumps(report.entries, indent=1) + "\n")


def write_drawn(path: Path, result) -> None:
    """The result's image with its skeletons drawn, at `path`; nothing for an image that failed."""
    if result.error is None:
        write_overlay(path, result.poses.draw(result.image))


def write_overlay(path: Path, image) -> None:
    ok, encoded = cv2.imencode(path.suffix or ".jpg", image)
    if not ok:
        raise OSError(f"{path}: could not encode the overlay image")
    atomic_write_bytes(path, encoded.tobytes())
