"""`manypose video --offline` and `estimator.track(offline=True)`: the same refined tracks, and
refusals where a second reading or a live window cannot be had."""
import json

import numpy as np
import pytest

from manypose.cli import main
from manypose.video import FrameRange, open_source

from conftest import shared_path

VIDEO = "data/videos/one-by-one-person-detection.mp4"


def test_the_command_and_the_api_give_the_same_offline_tracks(estimator, tmp_path):
    video = shared_path(VIDEO)
    lines = tmp_path / "poses.jsonl"
    drawn = tmp_path / "drawn.mp4"
    assert main(["video", str(video), "--start", "240", "--max-frames", "30", "--offline", "--quiet",
                 "--json-output", str(lines), "--video-output", str(drawn)]) == 0
    from_cli = [json.loads(line)["poses"] for line in lines.read_text().splitlines()]
    source = open_source(video)
    from_api = list(estimator.track(source.frames(FrameRange(240, max_frames=30)), offline=True))
    assert len(from_cli) == len(from_api) == 30 and drawn.stat().st_size > 0
    assert sum(map(len, from_cli)) >= 25
    for people, poses in zip(from_cli, from_api):
        assert [p["track_id"] for p in people] == poses.track_ids.tolist()
        if people:
            assert np.allclose([p["keypoints"] for p in people], poses.keypoints, atol=0.01)


@pytest.mark.parametrize("extra", [["--show"], ["--no-track"]])
def test_offline_is_refused_with_a_live_window_or_without_tracking(tmp_path, extra, capsys):
    assert main(["video", str(shared_path(VIDEO)), "--offline", *extra, "--json-output", str(tmp_path / "a.jsonl")]) == 2
    assert "--offline" in capsys.readouterr().err
