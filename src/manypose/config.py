"""One estimator configuration: everything that decides what an estimator returns, built once
(by `manypose.load` or the command line) and kept by the estimator, so that the API and the CLI
give the same poses and the same track ids for the same options."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Optional

from .decoders.options import DecoderOptions
from .option_checks import check_whole_number
from .runtime import DEFAULT_BACKEND, check_backend, check_precision, check_threads
from .runtime.devices import check_device
from .track import TrackerOptions
from .tta import TestTimeAugmentation


@dataclass(frozen=True)
class EstimatorConfig:
    model: Optional[str] = None              # name, folder or checkpoint; None: the bundled default
    backend: str = DEFAULT_BACKEND
    int8: bool = False
    calibration_images: Optional[str] = None  # for INT8 models made on first use
    input_size: Optional[int] = None          # None: the model's own
    threads: Optional[int] = None             # None: one per core
    device: str = "cpu"                       # auto, cpu, cuda or cuda:N (see manypose.runtime.devices)
    precision: str = "auto"                   # auto, fp32 or bf16 (see manypose.runtime)
    batch_size: int = 1                       # images per network call (see PoseEstimator.stream)
    decoder: DecoderOptions = field(default_factory=DecoderOptions)
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    tta: TestTimeAugmentation = field(default_factory=TestTimeAugmentation)

    def __post_init__(self):
        check_backend(self.backend, self.int8)
        check_precision(self.backend, self.precision)
        check_threads(self.threads)
        check_device(self.device)
        check_whole_number("batch_size", self.batch_size, 1)
        if self.input_size is not None and (isinstance(self.input_size, bool) or not isinstance(self.input_size, int)
                                            or self.input_size < 1):
            raise ValueError(f"input_size must be a whole number of pixels, 1 or more, not {self.input_size!r}")

    @classmethod
    def from_given(cls, model=None, **values) -> "EstimatorConfig":
        """A configuration from keyword values as `manypose.load` takes them: the decoder options
        (score_threshold, ...), `flip` and `scales` for test-time augmentation, `tracker` (a
        TrackerOptions) and the fields above; None means 'not set'."""
        settable = ({f.name for f in fields(cls)} - {"model", "decoder", "tta"}) | {"flip", "scales"}
        mine = settable & values.keys()
        settings = {name: values.pop(name) for name in mine}  # the rest are the decoder's
        settings = {name: value for name, value in settings.items() if value is not None}
        augmentation = {name: settings.pop(name) for name in ("flip", "scales") if name in settings}
        return cls(model=None if model is None else str(model), decoder=DecoderOptions.from_given(**values),
                   tta=TestTimeAugmentation(**augmentation), **settings)

    def tracking_decoder(self) -> DecoderOptions:
        """The decoder options tracking runs with: a score threshold left unset falls to the
        tracker's low score, since ByteTrack's second stage matches the doubtful people."""
        if "score_threshold" in self.decoder.given:
            return self.decoder
        return replace(self.decoder, score_threshold=self.tracker.low_score)
