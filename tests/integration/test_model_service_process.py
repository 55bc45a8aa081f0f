"""The model service as a real process on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
import requests

from tests.integration.conftest import ROOT, ServiceProcess, free_port, model_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def iris(
    model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    with model_service(model_dirs["iris"], tmp_path_factory.mktemp("logs")) as service:
        yield service


def test_one_csv_row(iris: ServiceProcess) -> None:
    response = requests.post(
        iris.url + "/invocations",
        data="5.1,3.5,1.4,0.2",
        headers={"Content-Type": "text/csv"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["predictions"] == ["setosa"]
    assert response.headers["X-Model-Name"] == "iris"


def test_ten_thousand_rows_as_csv_and_json(
    iris: ServiceProcess, model_dirs: dict[str, Path]
) -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(10_000, 4))
    text = "\n".join(",".join(repr(v) for v in row) for row in X.tolist())
    as_csv = requests.post(
        iris.url + "/invocations", data=text, headers={"Content-Type": "text/csv"}, timeout=60
    )
    as_json = requests.post(
        iris.url + "/invocations",
        data=orjson.dumps({"instances": X.tolist()}),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert as_csv.status_code == as_json.status_code == 200
    assert as_csv.json() == as_json.json()
    assert len(as_csv.json()["predictions"]) == 10_000


def test_csv_answer_over_the_wire(iris: ServiceProcess) -> None:
    response = requests.post(
        iris.url + "/invocations",
        data=b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}',
        headers={"Content-Type": "application/json", "Accept": "text/csv; header=present"},
        timeout=10,
    )
    assert response.status_code == 200
    assert (
        response.text.splitlines()[0]
        == "prediction,probability_setosa,probability_versicolor,probability_virginica"
    )


def test_garbage_then_still_serving(iris: ServiceProcess) -> None:
    for body, content_type in [
        (b"\x00\xff" * 100, "text/csv"),
        (b"[[[[", "application/json"),
        (b"", "text/csv"),
    ]:
        response = requests.post(
            iris.url + "/invocations", data=body, headers={"Content-Type": content_type}, timeout=10
        )
        assert 400 <= response.status_code < 500
    assert requests.get(iris.url + "/ping", timeout=10).status_code == 200


def test_over_the_body_limit_is_413_without_reading_it_all(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    with model_service(
        model_dirs["iris"], tmp_path, MODEL_SERVICE_MAX_BODY_BYTES="1000"
    ) as service:
        response = requests.post(
            service.url + "/invocations",
            data=b"5.1,3.5,1.4,0.2\n" * 1000,
            headers={"Content-Type": "text/csv"},
            timeout=10,
        )
        assert response.status_code == 413
        assert requests.get(service.url + "/ping", timeout=10).status_code == 200


def test_one_json_log_line_per_request(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    with model_service(model_dirs["iris"], tmp_path) as service:
        requests.post(
            service.url + "/invocations",
            data="5.1,3.5,1.4,0.2\n6,3,5,2",
            headers={"Content-Type": "text/csv", "X-Request-ID": "trace-42"},
            timeout=10,
        )
        deadline = time.monotonic() + 5
        while "trace-42" not in service.output() and time.monotonic() < deadline:
            time.sleep(0.05)
    lines = [orjson.loads(line) for line in service.output().splitlines() if "trace-42" in line]
    assert len(lines) == 1
    assert lines[0]["status"] == 200
    assert lines[0]["rows"] == 2
    assert lines[0]["latency_ms"] > 0


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        (lambda d: (d / "model.json").unlink(), "model.json is missing"),
        (
            lambda d: (d / "model.skops").write_bytes(b"PK\x03\x04 not a model"),
            "does not match its card",
        ),
    ],
)
def test_a_bad_package_stops_start_up_with_one_line(
    model_dirs: dict[str, Path], tmp_path: Path, setup: object, says: str
) -> None:
    import shutil

    package_dir = Path(shutil.copytree(model_dirs["iris"], tmp_path / "pkg"))
    setup(package_dir)  # type: ignore[operator]
    result = serve_until_it_stops(package_dir)
    assert result.returncode == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_package_that_cannot_be_rebuilt_stops_the_server_with_its_reason(
    untrusted_package: Path,
) -> None:
    # Checksum and versions are right, so the port is bound; the model file
    # names os.system, which skops refuses while the server answers 503.
    result = serve_until_it_stops(untrusted_package)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"model_service: cannot serve {untrusted_package}:")
    assert "not trusted" in last


def serve_until_it_stops(model_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "model_service",
            "--model-dir",
            str(model_dir),
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
