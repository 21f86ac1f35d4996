"""The architecture's rules, checked on the source: backends and export know no model family,
and encoders do not reach into decoders."""
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "manypose"
FAMILY_WORDS = re.compile(r"yolo|REG_MAX|box_bins|openpose|\bpaf\b|pose_objects|heatmap|/cv\[", re.IGNORECASE)


@pytest.mark.parametrize("path", sorted((PACKAGE / "runtime").glob("*.py")) + [PACKAGE / "export.py"],
                         ids=lambda p: p.name)
def test_runtime_and_export_hold_no_family_knowledge(path):
    code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    code = re.sub(r'"""(.|\n)*?"""', "", code)  # docstrings may name examples
    assert not FAMILY_WORDS.findall(code)
    assert not re.search(r"from \.\.?(models|decoders|encoders|heads\.\w+)\b", code.replace("from .models import inference_network", ""))


def test_encoders_do_not_import_decoders():
    for path in (PACKAGE / "encoders").glob("*.py"):
        assert "decoders" not in path.read_text(), path.name
