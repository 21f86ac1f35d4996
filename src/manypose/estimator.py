"""The estimator: a model is a callable, `poses = estimator(image)`."""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from .data.images import ImageReadError, as_bgr, read_image
from .data.transforms import network_input
from .decoders import decoder_for
from .heads import head_from_dict
from .poses import Poses
from .runtime import DEFAULT_BACKEND, create_backend


class StreamResult(NamedTuple):
    path: Path
    image: Optional[np.ndarray]
    poses: Optional[Poses]
    error: Optional[ImageReadError]


class PoseEstimator:
    """Image (BGR array or path) -> Poses: resize (letterbox or stretch), network, decoder,
    and coordinates mapped back onto the image."""

    def __init__(self, model_file, backend: str = DEFAULT_BACKEND, score_threshold: float = 0.25,
                 iou_threshold: float = 0.7, max_detections: int = 300,
                 input_size: int | None = None, threads: int | None = None, int8: bool = False,
                 calibration_images=None):
        self.model_file = model_file
        self.name = model_file.name
        self.input = dict(model_file.description["input"])
        if input_size:
            if self.input.get("resize") == "stretch":
                raise ValueError(f"{self.name} has a fixed input size {self.input['size']}")
            self.input["size"] = int(input_size)
        head = head_from_dict(model_file.description["heads"][0], model_file.skeleton)
        self.decoder = decoder_for(head, score_threshold=score_threshold, iou_threshold=iou_threshold,
                                   max_detections=max_detections)
        self.skeleton = self.decoder.skeleton
        self.int8 = int8
        self.backend = create_backend(model_file, head, backend, threads=threads, int8=int8,
                                      calibration_images=calibration_images)

    def __repr__(self) -> str:
        return (f"PoseEstimator({self.name!r}, backend={self.backend.name!r}, int8={self.int8}, "
                f"input={self.input['size']})")

    def __call__(self, image) -> Poses:
        if isinstance(image, str) or hasattr(image, "__fspath__"):
            image = read_image(image)
        else:
            image = as_bgr(image)
        blob, geometry = self.preprocess(image)
        return self.postprocess(self.backend(blob)[0], geometry, image.shape)

    def stream(self, paths):
        """Yield a `StreamResult` per file, in order. A reader thread reads and resizes the next
        files while the network runs; backends that gain from it run several images at once,
        each on a thread of its own."""
        run, parallel_images = self.backend.parallel_runner()
        finish = partial(self._finish, run=run)
        with ThreadPoolExecutor(max_workers=1) as reader:
            loads = _submitted_ahead(reader, self._load, (Path(path) for path in paths), ahead=1)
            if parallel_images == 1:
                # on the caller's thread: torch's convolutions run at half speed on other threads
                yield from map(finish, loads)
                return
            with ThreadPoolExecutor(max_workers=parallel_images) as network:
                for finishing in _submitted_ahead(network, finish, loads, ahead=parallel_images + 1):
                    yield finishing.result()

    def _load(self, path: Path):
        try:
            image = read_image(path)
        except ImageReadError as error:
            return path, None, None, None, error
        return (path, image, *self.preprocess(image), None)

    def _finish(self, loading: Future, run) -> StreamResult:
        path, image, blob, geometry, error = loading.result()
        if error is not None:
            return StreamResult(path, None, None, error)
        return StreamResult(path, image, self.postprocess(run(blob)[0], geometry, image.shape), None)

    def preprocess(self, image: np.ndarray):
        """The network input blob, and the geometry mapping its pixels back onto the image."""
        return network_input(image, self.input)

    def postprocess(self, output: np.ndarray, geometry, image_shape) -> Poses:
        height, width = image_shape[:2]
        boxes, scores, keypoints = self.decoder(output)
        boxes = geometry.to_original(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
        geometry.to_original(keypoints)
        np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
        np.clip(keypoints[..., 0], 0, width, out=keypoints[..., 0])
        np.clip(keypoints[..., 1], 0, height, out=keypoints[..., 1])
        return Poses(keypoints.astype(np.float32), scores.astype(np.float32), boxes.astype(np.float32),
                     self.skeleton, (width, height))


def _submitted_ahead(pool: ThreadPoolExecutor, function, items, ahead: int):
    """Futures of `function(item)`, in the items' order, with `ahead` more already submitted."""
    pending = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) > ahead:
            yield pending.popleft()
    yield from pending
