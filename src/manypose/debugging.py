"""MANYPOSE_DEBUG=1: the traceback of an unexpected error, and the log lines of the libraries
beneath (FFmpeg, OpenCV) that are otherwise kept out of the terminal."""
from __future__ import annotations

import os

DEBUG_ENV = "MANYPOSE_DEBUG"


def debugging() -> bool:
    return bool(os.environ.get(DEBUG_ENV))
