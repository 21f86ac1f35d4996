"""FFmpeg's and OpenCV's own log lines ('[h264 @ 0x...] Invalid NAL unit size', '[ WARN:0@0.1]
global cap_v4l.cpp ...') stay out of the terminal, where ours already say what happened in one
line: a truncated video, a frame that could not be decoded, a camera that did not open.
MANYPOSE_DEBUG=1 shows them."""
from __future__ import annotations

import os

import cv2

from ..debugging import debugging

OPENCV_FFMPEG_LEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
OPENCV_LEVEL_ENV = "OPENCV_LOG_LEVEL"
FFMPEG_QUIET = -8  # AV_LOG_QUIET


def quiet_opencv() -> None:
    """Before OpenCV opens a video: it reads FFmpeg's log level from the environment once, when
    it opens its first, for the whole process. A level the user chose is kept."""
    if debugging():
        return
    os.environ.setdefault(OPENCV_FFMPEG_LEVEL_ENV, str(FFMPEG_QUIET))
    if OPENCV_LEVEL_ENV not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def pyav_logs_when_debugging(av) -> None:
    """PyAV drops FFmpeg's lines unless asked; when debugging they go to the terminal."""
    if debugging():
        av.logging.restore_default_callback()
