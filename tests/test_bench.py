import json
import shutil

import pytest

from manypose.bench import BenchmarkError, benchmark
from manypose.cli import main


def test_bench_reports_medians_and_their_ratio(dev_images, tmp_path, capsys):
    folder = tmp_path / "few"
    folder.mkdir()
    for path in sorted(dev_images.glob("*.jpg"))[:4]:
        shutil.copy(path, folder)
    assert main(["bench", "--images", str(folder), "--rounds", "1", "--stats-output", str(tmp_path / "s.json")]) == 0
    assert "ratio" in capsys.readouterr().out
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["images"] == 4 and stats["backend"] == "onnxruntime" and stats["int8"] is False
    assert stats["images_in_flight"] >= 1
    for timing in ("e2e", "latency"):
        assert 0 < stats["network_ms_median"] and 0 < stats[f"{timing}_ms_median"]
        assert stats[f"{timing}_over_network"] == pytest.approx(
            stats[f"{timing}_ms_median"] / stats["network_ms_median"], rel=0.01)


def test_bench_needs_images(estimator, tmp_path):
    with pytest.raises(BenchmarkError, match="no images"):
        benchmark(estimator, tmp_path)


def test_bench_needs_readable_images(estimator, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(BenchmarkError, match="no readable images"):
        benchmark(estimator, tmp_path, rounds=1)
