"""Pipelines of a user's own making, packaged by the packaging API and
served by a real `python -m model_service`: a `ColumnTransformer` with
categorical features fitted on a DataFrame, a numeric regressor fitted on a
DataFrame, and a classifier fitted on a bare array with its feature names
given. Each answers `/invocations` in JSON and CSV, and the Open Inference
Protocol through tritonclient (a BYTES tensor for a categorical feature),
exactly as the estimator in memory predicts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import requests
import tritonclient.http as httpclient

from model_service.package.build import package_model
from shared.codecs.csv import encode_csv_request
from tests.integration.conftest import ServiceProcess, model_service
from tests.support.penguins import penguin_pipeline, penguin_rows

pytestmark = pytest.mark.integration


@dataclass
class Own:
    """A fitted estimator, rows to ask it, and what it predicts for them."""

    estimator: Any
    X: Any  # what it was fitted on: a DataFrame, or an array
    y: Any
    names: list[str]
    asked: Any  # rows to send, in the same form as X
    kwargs: dict[str, Any]

    def rows(self) -> list[list[float | str | None]]:
        values = (self.asked.values if hasattr(self.asked, "values") else self.asked).tolist()
        return [[None if v != v else v for v in row] for row in values]  # NaN -> None


def _penguins() -> Own:
    frame, species = penguin_rows(n=240, seed=5)
    asked, _ = penguin_rows(n=12, seed=6)
    estimator = penguin_pipeline().fit(frame, species)
    return Own(
        estimator,
        frame,
        species,
        list(frame.columns),
        asked,
        {"target": "species", "trusted_types": ["numpy.dtype"]},
    )


def _regressor_on_a_frame() -> Own:
    import pandas as pd
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_diabetes(as_frame=True)
    frame: pd.DataFrame = data.frame[["age", "bmi", "bp", "s5"]]
    estimator = make_pipeline(StandardScaler(), Ridge()).fit(frame, data.target)
    return Own(estimator, frame, data.target, list(frame.columns), frame.iloc[:12], {})


def _classifier_on_an_array() -> Own:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    names = ["sepal_l", "sepal_w", "petal_l", "petal_w"]
    labels = np.array(["a", "b", "c"])[y]
    estimator = LogisticRegression(max_iter=1000).fit(X, labels)
    return Own(estimator, X, labels, names, X[::13], {"feature_names": names, "target": "kind"})


MAKERS: dict[str, Callable[[], Own]] = {
    "own-penguins": _penguins,
    "own-regressor": _regressor_on_a_frame,
    "own-array": _classifier_on_an_array,
}


@pytest.fixture(scope="module", params=sorted(MAKERS))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Own, ServiceProcess]]:
    name = request.param
    own = MAKERS[name]()
    directory = tmp_path_factory.mktemp(name) / "package"
    package_model(own.estimator, own.X, own.y, out=directory, name=name, **own.kwargs)
    with model_service(directory, tmp_path_factory.mktemp(f"{name}-logs")) as service:
        yield name, own, service


def _expected(own: Own) -> list[Any]:
    return own.estimator.predict(own.asked).tolist()


def _assert_same(got: list[Any], expected: list[Any]) -> None:
    """Labels equal; numbers equal to rounding (the service may fold a
    linear pipeline into one matrix product)."""
    if isinstance(expected[0], str):
        assert got == expected
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def _labels(values: list[Any]) -> list[Any]:
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def test_invocations_json_by_name(served: tuple[str, Own, ServiceProcess]) -> None:
    _, own, service = served
    records = [dict(zip(own.names, row, strict=True)) for row in own.rows()]
    answer = requests.post(
        f"{service.url}/invocations",
        data=orjson.dumps({"instances": records}),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    _assert_same(answer.json()["predictions"], _expected(own))


def test_invocations_csv_with_a_header(served: tuple[str, Own, ServiceProcess]) -> None:
    _, own, service = served
    answer = requests.post(
        f"{service.url}/invocations",
        data=encode_csv_request(own.rows(), own.names),
        headers={"Content-Type": "text/csv; header=present"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    _assert_same(answer.json()["predictions"], _expected(own))


def test_open_inference_protocol_with_tritonclient(
    served: tuple[str, Own, ServiceProcess],
) -> None:
    """One tensor per feature: BYTES for a categorical feature, FP64 else."""
    name, own, service = served
    card = requests.get(f"{service.url}/metadata", timeout=10).json()
    rows = own.rows()
    inputs = []
    for column, feature in enumerate(card["features"]):
        values = [row[column] for row in rows]
        if feature["type"] == "categorical":
            # BYTES in binary mode cannot say "missing": send the example instead
            values = [feature["example"] if v is None else v for v in values]
            for row, value in zip(rows, values, strict=True):
                row[column] = value
            tensor = httpclient.InferInput(feature["name"], [len(rows)], "BYTES")
            tensor.set_data_from_numpy(np.array([str(v).encode() for v in values], dtype=object))
        else:
            tensor = httpclient.InferInput(feature["name"], [len(rows)], "FP64")
            tensor.set_data_from_numpy(
                np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            )
        inputs.append(tensor)
    triton = httpclient.InferenceServerClient(url=service.url.removeprefix("http://"))
    try:
        result = triton.infer(name, inputs)
    finally:
        triton.close()
    if hasattr(own.asked, "iloc"):
        import pandas as pd

        asked = pd.DataFrame(rows, columns=own.names).astype(own.asked.dtypes.to_dict())
    else:
        asked = np.array(rows, dtype=np.float64)
    expected = own.estimator.predict(asked).tolist()
    _assert_same(_labels(result.as_numpy("predict").tolist()), expected)


def test_the_card_says_what_the_data_said(
    served: tuple[str, Own, ServiceProcess], tmp_path: Path
) -> None:
    name, own, service = served
    card = requests.get(f"{service.url}/metadata", timeout=10).json()
    assert card["name"] == name
    assert [f["name"] for f in card["features"]] == own.names
    kinds = {f["name"]: f["type"] for f in card["features"]}
    if name == "own-penguins":
        assert kinds["island"] == kinds["sex"] == "categorical"
        assert card["allow_missing"] is True
    else:
        assert "categorical" not in kinds.values()
