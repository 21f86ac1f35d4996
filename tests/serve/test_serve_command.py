"""`manypose serve` on the command line: what --help promises, and a clear error where npm is missing."""
import pytest

from manypose.cli import main


def test_help_names_the_api_and_the_safe_default_address(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "POST /api/predict" in text and "default 127.0.0.1" in text and "--install-client" in text


def test_installing_the_in_browser_runtime_without_npm_says_what_is_needed(monkeypatch, capsys):
    pytest.importorskip("fastapi")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["serve", "--install-client"]) == 1
    assert "needs npm" in capsys.readouterr().err
