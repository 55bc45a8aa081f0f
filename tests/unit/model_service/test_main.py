"""`python -m model_service --check`: the server's checks without a server,
as the model image's build runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model_service.__main__ import EXIT_BAD_PACKAGE, main


def test_check_names_the_model_it_would_serve(
    model_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--model-dir", str(model_dirs["wine"])]) == 0
    out = capsys.readouterr().out
    assert (
        out == f"model_service: {model_dirs['wine']} serves wine v1 (classification, 13 features)\n"
    )


def test_check_refuses_a_tampered_package_in_one_line(
    model_dirs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "wine"
    shutil.copytree(model_dirs["wine"], broken)
    with (broken / "model.skops").open("ab") as f:
        f.write(b"\0")
    assert main(["--check", "--model-dir", str(broken)]) == EXIT_BAD_PACKAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"model_service: cannot serve {broken}: ")
    assert "does not match its card" in err


def test_check_refuses_a_package_skops_will_not_rebuild(
    untrusted_package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The cheap checks pass: only loading the model finds the untrusted type.
    assert main(["--check", "--model-dir", str(untrusted_package)]) == EXIT_BAD_PACKAGE
    assert "not trusted" in capsys.readouterr().err


def test_check_says_when_there_is_no_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "model"
    assert main(["--check", "--model-dir", str(missing)]) == EXIT_BAD_PACKAGE
    assert capsys.readouterr().err == (
        f"model_service: cannot serve {missing}: no model package at {missing}: no such directory\n"
    )


def test_check_needs_a_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without one the service would train iris into its cache: nothing to check.
    monkeypatch.delenv("MODEL_SERVICE_MODEL_DIR", raising=False)
    monkeypatch.setenv("MODEL_SERVICE_CACHE_DIR", str(tmp_path))
    assert main(["--check"]) == EXIT_BAD_PACKAGE
    assert "--check needs a package" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
