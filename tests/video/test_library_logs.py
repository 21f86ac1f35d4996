"""FFmpeg's own lines stay out of the terminal, ours say what happened; MANYPOSE_DEBUG=1 shows
them. Run as a separate process: FFmpeg writes to the C-level stderr, and sets its log level
once per process."""
import os
import subprocess
import sys

import pytest

from conftest import shared_path

FFMPEG_LINE = "[h264 @ 0x"


@pytest.fixture(scope="module")
def truncated_video(tmp_path_factory):
    data = shared_path("data/videos/one-by-one-person-detection.mp4").read_bytes()  # its index comes first
    path = tmp_path_factory.mktemp("video") / "cut.mp4"
    path.write_bytes(data[: len(data) // 4])  # 339 of its 1394 frames, the last one broken
    return path


def video_command_stderr(video, debug: bool) -> str:
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("MANYPOSE_DEBUG", "OPENCV_FFMPEG_LOGLEVEL", "OPENCV_LOG_LEVEL")}
    if debug:
        environment["MANYPOSE_DEBUG"] = "1"
    result = subprocess.run([sys.executable, "-m", "manypose.cli", "video", str(video), "--start", "330", "--quiet",
                             "--json-output", str(video.with_suffix(".jsonl"))],
                            capture_output=True, text=True, env=environment, check=True)
    return result.stderr


def test_a_truncated_video_gets_our_one_warning_and_no_ffmpeg_lines(truncated_video):
    stderr = video_command_stderr(truncated_video, debug=False)
    assert FFMPEG_LINE not in stderr and " @ 0x" not in stderr
    assert "cut.mp4: the video ended after 339 frames; its header declares 1394" in stderr


def test_debugging_shows_ffmpeg_lines(truncated_video):
    assert FFMPEG_LINE in video_command_stderr(truncated_video, debug=True)
