"""Video, image sequences, cameras and streams: frames in, tracked poses out (`manypose video`)."""
from .pipeline import Outputs, TrackedFrame, VideoReport, run_video, tracked_frames
from .sources import Frame, FrameRange, FrameSource, VideoSourceError, open_source, parse_position

__all__ = ["Frame", "FrameRange", "FrameSource", "Outputs", "TrackedFrame", "VideoReport", "VideoSourceError",
           "open_source", "parse_position", "run_video", "tracked_frames"]
