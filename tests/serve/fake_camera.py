"""Chromium's fake camera reads a y4m file: frames of a shared video written as one."""
from __future__ import annotations

from pathlib import Path

import cv2


def write_y4m(video: Path, out: Path, start: int = 0, frames: int = 30, size=(640, 360)) -> Path:
    """`frames` frames of `video` from `start`, resized, as a YUV 4:2:0 y4m file."""
    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    width, height = size
    with open(out, "wb") as file:
        file.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            ok, frame = capture.read()
            if not ok:
                break
            planes = cv2.cvtColor(cv2.resize(frame, size), cv2.COLOR_BGR2YUV_I420)
            file.write(b"FRAME\n" + planes.tobytes())
    capture.release()
    return out
