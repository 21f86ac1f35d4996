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
    assert 0 < stats["network_ms_median"] and 0 < stats["e2e_ms_median"]
    assert stats["e2e_over_network"] == pytest.approx(stats["e2e_ms_median"] / stats["network_ms_median"], rel=0.01)


def test_bench_needs_images(estimator, tmp_path):
    with pytest.raises(BenchmarkError, match="no images"):
        benchmark(estimator, tmp_path)
