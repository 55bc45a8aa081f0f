"""A forest in an image: `--build-arg ESTIMATOR=forest` trains iris as a
100-tree random forest, the container turns micro-batching on by itself at
warm-up, and concurrent clients each get their own rows' prediction (the
same as a forest trained here: the training is seeded and the libraries are
the locked ones)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from model_service import package
from tests.support.compose import (
    IMAGE_NAMESPACE,
    REPO,
    base_images,
    docker_ready,
    free_port,
    http_get,
    http_post,
    run,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

IMAGE = f"{IMAGE_NAMESPACE}model-service:iris-forest"


@pytest.fixture(scope="module")
def forest_url() -> Iterator[tuple[str, str]]:
    """The forest image built and run, published on a loopback port; its
    URL and container name. Removed afterwards."""
    docker_ready()
    base = base_images()["MODEL_BASE_IMAGE"]
    run(
        [
            "docker",
            "build",
            "-f",
            str(REPO / "model_service" / "Dockerfile"),
            "--build-arg",
            f"BASE_IMAGE={base}",
            "--build-arg",
            "ESTIMATOR=forest",
            "-t",
            IMAGE,
            str(REPO),
        ],
        timeout=900,
    )
    port = free_port()
    name = f"e2e-forest-{port}"
    run(["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", IMAGE])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the forest container's /ping", lambda: http_get(url + "/ping")[0] == 200, 120)
        yield url, name
    finally:
        run(["docker", "rm", "-f", name], check=False)


def test_the_image_holds_a_forest_and_batches(
    forest_url: tuple[str, str], model_dirs: dict[str, Path]
) -> None:
    url, name = forest_url
    status, body = http_get(url + "/metadata")
    assert status == 200
    assert "RandomForestClassifier" in json.loads(body)["training"]["estimator"]
    done = run(["docker", "logs", name])
    logs = done.stdout + done.stderr  # the service logs JSON lines to stderr
    said = [json.loads(line) for line in logs.splitlines() if '"batching' in line]
    assert [line["message"] for line in said] == ["batching on"]
    labels = json.loads(run(["docker", "image", "inspect", IMAGE]).stdout)[0]["Config"]["Labels"]
    assert labels["org.sklearn-endpoint.estimator"] == "forest"


def test_concurrent_clients_get_their_own_rows(
    forest_url: tuple[str, str], model_dirs: dict[str, Path]
) -> None:
    url, _ = forest_url
    here = package.load(model_dirs["iris:forest"]).estimator
    rows = np.round(
        np.random.default_rng(11).uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], (96, 4)), 2
    )

    def ask(i: int) -> list[list[float]]:
        body = ",".join(repr(v) for v in rows[i].tolist()).encode()
        status, text = http_post(url + "/invocations", body, "text/csv", timeout=30)
        assert status == 200, text
        probabilities: list[list[float]] = json.loads(text)["probabilities"]
        return probabilities

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(ask, range(len(rows))))

    for i, probabilities in enumerate(answers):
        np.testing.assert_allclose(probabilities, here.predict_proba(rows[i : i + 1]), rtol=1e-9)
