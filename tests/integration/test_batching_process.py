"""A 100-tree forest served by a real `python -m model_service` process:
batching turns itself on at warm-up, and many concurrent clients over real
sockets each get the prediction of their own rows, in both protocols."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import pytest
import requests

from model_service import package
from tests.integration.conftest import ServiceProcess, model_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def forest(
    model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    with model_service(model_dirs["iris:forest"], tmp_path_factory.mktemp("logs")) as service:
        yield service


def test_batching_turns_itself_on_for_a_forest(forest: ServiceProcess) -> None:
    lines = [orjson.loads(line) for line in forest.output().splitlines() if "batching" in line]
    assert [line["message"] for line in lines] == ["batching on"]
    assert lines[0]["policy"] == "auto"
    assert lines[0]["one_row_us"] > 250


def test_concurrent_clients_get_their_own_rows(
    forest: ServiceProcess, model_dirs: dict[str, Path]
) -> None:
    estimator = package.load(model_dirs["iris:forest"]).estimator
    rng = np.random.default_rng(7)
    rows = np.round(rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(240, 4)), 2)
    chunks = np.split(rows, 120)  # 120 requests of 2 rows

    def ask(i: int) -> np.ndarray:
        X = chunks[i]
        with requests.Session() as session:
            if i % 3 == 0:
                response = session.post(
                    forest.url + "/invocations", json={"instances": X.tolist()}, timeout=30
                )
                assert response.status_code == 200, response.text
                return np.asarray(response.json()["probabilities"])
            if i % 3 == 1:
                response = session.post(
                    forest.url + "/invocations",
                    data="\n".join(",".join(repr(v) for v in row) for row in X.tolist()),
                    headers={"Content-Type": "text/csv"},
                    timeout=30,
                )
                assert response.status_code == 200, response.text
                return np.asarray(response.json()["probabilities"])
            document = {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [2, 4],
                        "datatype": "FP64",
                        "data": X.ravel().tolist(),
                    }
                ]
            }
            response = session.post(forest.url + "/v2/models/iris/infer", json=document, timeout=30)
            assert response.status_code == 200, response.text
            output = next(o for o in response.json()["outputs"] if o["name"] == "predict_proba")
            return np.asarray(output["data"]).reshape(output["shape"])

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(ask, range(len(chunks))))

    for X, probabilities in zip(chunks, answers, strict=True):
        np.testing.assert_allclose(probabilities, estimator.predict_proba(X), rtol=1e-9)
