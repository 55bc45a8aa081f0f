"""README's "Serve your own model", run as written: its Python fits and
packages a pipeline, its commands package the same estimator from files
and serve the package, and its curl body gets an answer. (The section's
compose line is the end-to-end test of a mounted package.)"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT, model_service

pytestmark = pytest.mark.integration


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Serve your own model")
    return readme[start : readme.index("\n## ", start + 1)]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _commands(block: str) -> list[list[str]]:
    """The block's commands, continuation lines joined, split as a shell would."""
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_readme_packages_serves_and_answers_as_it_says(tmp_path: Path) -> None:
    section = _section()
    (python_code,) = _blocks(section, "python")
    commands, ask, _compose = _blocks(section, "bash")
    (tmp_path / "fit.py").write_text(python_code)
    fitted = subprocess.run(
        [sys.executable, "fit.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert fitted.returncode == 0, fitted.stderr
    assert "accuracy" in fitted.stdout

    package, serve = _commands(commands)
    assert package[:3] == ["python", "-m", "model_service.package"]
    packaged = subprocess.run(
        [sys.executable, *package[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert packaged.returncode == 0, packaged.stderr
    assert (tmp_path / "models" / "my-forest" / "model.json").is_file()

    # The serve command's model directory, on a port of the test's own.
    assert serve[:3] == ["python", "-m", "model_service"]
    model_dir = tmp_path / serve[serve.index("--model-dir") + 1]
    (curl,) = _commands(ask)
    body = curl[curl.index("-d") + 1]
    with model_service(model_dir, tmp_path) as service:
        answer = requests.post(
            f"{service.url}/invocations",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        card = requests.get(f"{service.url}/metadata", timeout=10).json()
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0] in card["target"]["classes"]
    assert [f["type"] for f in card["features"]][:2] == ["categorical", "categorical"]
