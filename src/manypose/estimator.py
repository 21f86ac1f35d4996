"""The estimator: a model is a callable, `poses = estimator(image)`.

It is the composition of what loading prepared (see manypose.loading): the input spec, a
backend running the network, and the codec's decoder; for videos, a tracker after decoding.
"""
from __future__ import annotations

import os
import time
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from .config import EstimatorConfig
from .data.images import DecodedImage, ImageReadError, as_bgr, read_reduced_image
from .poses import Poses, clip_into_image
from .track import PoseTracker
from .tta import augmented_poses

RECONFIGURABLE = {"decoder", "tracker", "tta", "batch_size"}


class StreamResult(NamedTuple):
    index: int                  # position in the stream
    path: Optional[Path]        # the file, for items given as paths
    image: Optional[np.ndarray]
    poses: Optional[Poses]
    error: Optional[ImageReadError]


class PoseEstimator:
    """Image (BGR array or path) -> Poses: input spec (resize and normalize), network, decoder,
    and coordinates mapped back onto the image; with test-time augmentation, the views merged.
    `config` (an EstimatorConfig) is what it was built from and what tracking runs with."""

    def __init__(self, name: str, input_spec, backend, codec, decoder, config: Optional[EstimatorConfig] = None):
        self.model_name = name
        self.input_spec = input_spec
        self.backend = backend
        self.codec = codec
        self.decoder = decoder
        self.config = config or EstimatorConfig(model=name, backend=backend.name)
        self.skeleton = codec.skeleton
        self.keypoint_threshold = codec.keypoint_threshold

    @property
    def name(self) -> str:
        tta = self.config.tta
        return f"{self.model_name} ({tta.describe()})" if tta.active else self.model_name

    @property
    def int8(self) -> bool:
        return self.config.int8

    def __repr__(self) -> str:
        return (f"PoseEstimator({self.name!r}, backend={self.backend.name!r}, int8={self.int8}, "
                f"input={self.input_spec.size})")

    def __call__(self, image):
        """The Poses of one image (a BGR array or a path); a list of images gives a list of
        Poses, `config.batch_size` images per network call. An unreadable image raises
        ImageReadError."""
        if isinstance(image, (list, tuple)):
            return [_poses_or_raise(result) for result in self.stream(image)]
        return self.timed(image)[0]

    def timed(self, image) -> tuple[Poses, dict]:
        """The Poses of one image, and the milliseconds each step took: `prepare` (read, resize,
        normalize), `net` (the backend) and `decode` (decoding, test-time views, mapping back)."""
        started = time.perf_counter()
        decoded = self._decoded(image, 0, self.decode_reduction)
        blob, geometry = self.preprocess(decoded.pixels)
        prepared = time.perf_counter()
        outputs = self.backend(blob)
        ran = time.perf_counter()
        poses = self._poses(decoded, outputs, geometry, self.backend)
        done = time.perf_counter()
        return poses, {"prepare": (prepared - started) * 1e3, "net": (ran - prepared) * 1e3,
                       "decode": (done - ran) * 1e3}

    @property
    def batch_size(self) -> int:
        """Images per network call: the configuration's, or one for a network exported with a
        fixed batch axis."""
        return 1 if self.backend.fixed_batch else self.config.batch_size

    def reconfigured(self, **changes) -> "PoseEstimator":
        """The same model and backend with other `decoder`, `tracker`, `tta` or `batch_size` settings."""
        unknown = sorted(changes.keys() - RECONFIGURABLE)
        if unknown:
            raise ValueError(f"{', '.join(unknown)} cannot change on a loaded estimator; load it again")
        config = replace(self.config, **changes)
        decoder = self.decoder if config.decoder == self.config.decoder else self.codec.decoder(config.decoder)
        return PoseEstimator(self.model_name, self.input_spec, self.backend, self.codec, decoder, config)

    def for_tracking(self) -> "PoseEstimator":
        """This estimator as tracking runs it (see EstimatorConfig.tracking_decoder)."""
        return self.reconfigured(decoder=self.config.tracking_decoder())

    def new_tracker(self):
        """A tracker for one video, with this configuration's tracker options."""
        return PoseTracker(self.skeleton, self.config.tracker, self.keypoint_threshold)

    def track(self, frames, fps: float = 30.0, options=None, offline=None):
        """Yield the tracked `Poses` of each frame, in order, with `track_ids` filled: ids that
        persist across frames (see manypose.track), the same as `manypose video --track` gives
        for the same options. `frames` are BGR arrays or image paths at `fps` frames per second,
        or `manypose.video.Frame`s with their own timestamps (as
        `manypose.video.open_source(...).frames()` gives). `options` (a `TrackerOptions`)
        replaces the configuration's. `offline` (True, or an `OfflineOptions`) tracks every frame
        first and then refines the whole recording as `manypose video --offline` does (gaps
        closed, short absences filled in, paths smoothed both ways; see manypose.track_offline):
        the poses then come at the end. A frame that cannot be read gives no people and a warning."""
        from .track_offline import OfflineOptions
        from .video.pipeline import as_frames, offline_tracked, tracked_frames

        tracking = (self.reconfigured(tracker=options) if options else self).for_tracking()
        if offline:
            chosen = offline if isinstance(offline, OfflineOptions) else OfflineOptions()
            results = offline_tracked(tracking, as_frames(frames, fps), chosen)
        else:
            results = tracked_frames(tracking, as_frames(frames, fps), tracking.new_tracker())
        for tracked in results:
            if tracked.error:
                warnings.warn(f"{tracked.error}; no people for frame {tracked.index}")
            yield tracked.poses

    def stream(self, images, full_images: bool = False):
        """Yield a `StreamResult` per item of `images` (paths or BGR arrays, any iterable, e.g.
        a generator of video frames), in order. A reader thread reads and prepares the next
        items while the network runs; backends that gain from it run several images at once,
        each on a thread of its own. A JPEG much larger than the network's input is decoded at
        a reduced scale (its result's `image` is then None, its poses on the full picture)
        unless `full_images` asks for every image at full size, to draw on. With a batch size
        above 1, consecutive images whose inputs have the same shape run in one network call."""
        run, parallel_images = self.backend.parallel_runner()
        finish = partial(self._finish, run=run)
        load = partial(self._load, reduction_for=_full_size if full_images else self.decode_reduction)
        with ThreadPoolExecutor(max_workers=1) as reader:
            loads = _submitted_ahead(reader, load, enumerate(images), ahead=self.batch_size)
            if self.batch_size > 1:
                for chunk in _chunks(loads, self.batch_size):
                    yield from self._finish_batch([loading.result() for loading in chunk])
                return
            if parallel_images == 1:
                # on the caller's thread: torch's convolutions run at half speed on other threads
                yield from map(finish, loads)
                return
            with ThreadPoolExecutor(max_workers=parallel_images) as network:
                for finishing in _submitted_ahead(network, finish, loads, ahead=parallel_images + 1):
                    yield finishing.result()

    def decode_reduction(self, width: int, height: int) -> int:
        """How much smaller (1, 2, 4 or 8) a JPEG of this displayed size may be decoded and
        still give the network, test-time scales included, every pixel it takes."""
        return self.input_spec.decode_reduction(width, height, max(self.config.tta.scales))

    def _load(self, numbered, reduction_for):
        index, item = numbered
        path = Path(item) if isinstance(item, (str, os.PathLike)) else None
        try:
            decoded = self._decoded(item, index, reduction_for)
        except ImageReadError as error:
            return StreamResult(index, path, None, None, error), None
        image = decoded.pixels if decoded.reduction == 1 else None
        return StreamResult(index, path, image, None, None), (decoded, *self.preprocess(decoded.pixels))

    def _finish(self, loading: Future, run) -> StreamResult:
        loaded, prepared = loading.result()
        if loaded.error is not None:
            return loaded
        decoded, blob, geometry = prepared
        return loaded._replace(poses=self._poses(decoded, run(blob), geometry, run))

    def _finish_batch(self, loaded: list) -> list[StreamResult]:
        """Results of consecutive loaded items, those whose blobs have the same shape run in one
        network call (letterboxes of different shapes are not padded to one: that would change
        the results of a batch from those of one image)."""
        results = [result for result, _ in loaded]
        same_shape = {}
        for position, (result, prepared) in enumerate(loaded):
            if result.error is None:
                same_shape.setdefault(prepared[1].shape, []).append(position)
        for positions in same_shape.values():
            outputs = self.backend(np.concatenate([loaded[p][1][1] for p in positions]))
            for row, position in enumerate(positions):
                decoded, _, geometry = loaded[position][1]
                own = {name: value[row:row + 1] for name, value in outputs.items()}
                results[position] = results[position]._replace(poses=self._poses(decoded, own, geometry, self.backend))
        return results

    def _poses(self, decoded: DecodedImage, outputs: dict, geometry, run) -> Poses:
        image = decoded.pixels
        poses = self.postprocess(outputs, geometry, image.shape)
        if self.config.tta.active:
            poses = augmented_poses(self, image, poses, run)
        return poses if decoded.reduction == 1 else poses.enlarged(decoded.reduction, decoded.size)

    @staticmethod
    def _decoded(item, index: int, reduction_for) -> DecodedImage:
        if isinstance(item, (str, os.PathLike)):
            return read_reduced_image(item, reduction_for)
        image = as_bgr(item, source=f"frame {index}")
        return DecodedImage(image, 1, (image.shape[1], image.shape[0]))

    def preprocess(self, image: np.ndarray):
        """The network input blob, and the geometry mapping between its pixels and the image's."""
        return self.input_spec.prepare(image)

    def postprocess(self, outputs: dict, geometry, image_shape) -> Poses:
        """Named network outputs (batch of one) -> poses on the image."""
        height, width = image_shape[:2]
        boxes, scores, keypoints, parts = self.decoder.with_keypoint_objects(
            {name: value[0] for name, value in outputs.items()})
        boxes = geometry.to_original(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
        geometry.to_original(keypoints)
        clip_into_image(keypoints, boxes, width, height)
        return Poses(keypoints.astype(np.float32), scores.astype(np.float32), boxes.astype(np.float32),
                     self.skeleton, (width, height), self.keypoint_threshold,
                     keypoint_objects=None if parts is None else parts.mapped(geometry.to_original))


def _full_size(width: int, height: int) -> int:
    return 1


def _poses_or_raise(result: StreamResult) -> Poses:
    if result.error is not None:
        raise result.error
    return result.poses


def _chunks(items, size: int):
    """Lists of `size` consecutive items (the last one shorter)."""
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _submitted_ahead(pool: ThreadPoolExecutor, function, items, ahead: int):
    """Futures of `function(item)`, in the items' order, with `ahead` more already submitted."""
    pending = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) > ahead:
            yield pending.popleft()
    yield from pending
