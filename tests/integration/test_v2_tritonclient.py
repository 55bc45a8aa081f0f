"""NVIDIA's stock Open Inference Protocol client (`tritonclient[http]`)
against the real model service process, for every bundled model, in JSON
mode and in its default binary mode: the predictions must equal those of
`/invocations` for the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from model_service.recipes import RECIPES
from tests.integration.conftest import ServiceProcess, model_service

pytestmark = pytest.mark.integration

MODELS = ["breast_cancer", "diabetes", "iris", "wine"]
ROWS = 25


@pytest.fixture(scope="module", params=MODELS)
def served(
    request: pytest.FixtureRequest,
    model_dirs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, ServiceProcess]]:
    """One model service process per bundled model, stopped by PID after its tests."""
    name: str = request.param
    with model_service(model_dirs[name], tmp_path_factory.mktemp(f"v2-{name}")) as service:
        yield name, service


@pytest.fixture
def client(served: tuple[str, ServiceProcess]) -> Iterator[httpclient.InferenceServerClient]:
    _, service = served
    triton = httpclient.InferenceServerClient(url=service.url.removeprefix("http://"))
    yield triton
    triton.close()


@pytest.fixture(scope="module")
def rows(served: tuple[str, ServiceProcess]) -> np.ndarray:
    """Real rows of the model's data set, in feature order."""
    name, _ = served
    X, _ = RECIPES[name].load()
    return np.ascontiguousarray(X[::7][:ROWS], dtype=np.float64)


def native(service: ServiceProcess, X: np.ndarray) -> dict[str, Any]:
    """What /invocations answers for the same rows (NaN sent as null)."""
    instances = [[None if np.isnan(v) else v for v in row] for row in X.tolist()]
    response = requests.post(
        service.url + "/invocations", json={"instances": instances}, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def card(service: ServiceProcess) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(service.url + "/metadata", timeout=10).json()
    return body


def assert_same_predictions(
    result: httpclient.InferResult, expected: dict[str, Any], outputs: list[str]
) -> None:
    names = [o["name"] for o in result.get_response()["outputs"]]
    assert names == outputs
    if "predict" in outputs:
        predict = result.as_numpy("predict")
        if expected.get("classes"):
            # binary BYTES come back as bytes, JSON ones as str
            labels = [p.decode() if isinstance(p, bytes) else p for p in predict.tolist()]
            assert labels == expected["predictions"]
        else:
            np.testing.assert_array_equal(predict, expected["predictions"])
    if "predict_proba" in outputs:
        np.testing.assert_array_equal(result.as_numpy("predict_proba"), expected["probabilities"])


def all_outputs(expected: dict[str, Any]) -> list[str]:
    return ["predict", "predict_proba"] if expected.get("classes") else ["predict"]


# --- health and metadata -------------------------------------------------------------------


def test_server_live_ready_and_metadata(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    metadata = client.get_server_metadata()
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_and_ready(
    client: httpclient.InferenceServerClient, served: tuple[str, ServiceProcess]
) -> None:
    name, service = served
    model_card = card(service)
    for metadata in (
        client.get_model_metadata(name),
        client.get_model_metadata(name, model_version=model_card["version"]),
    ):
        assert metadata["name"] == name
        assert metadata["versions"] == [model_card["version"]]
        assert metadata["platform"] == "sklearn"
        assert [i["name"] for i in metadata["inputs"]] == [
            f["name"] for f in model_card["features"]
        ]
        outputs = [o["name"] for o in metadata["outputs"]]
        classifier = model_card["task"] == "classification"
        assert outputs == (["predict", "predict_proba"] if classifier else ["predict"])
    assert client.is_model_ready(name)
    assert client.is_model_ready(name, model_version=model_card["version"])
    assert not client.is_model_ready("no-such-model")
    assert not client.is_model_ready(name, model_version="999")
    with pytest.raises(InferenceServerException) as caught:
        client.get_model_metadata("no-such-model")
    assert caught.value.status() == "404"
    assert "no-such-model" in caught.value.message()


# --- inference -------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("requested", ["all", "predict", "predict_proba"])
def test_infer_one_tensor_equals_invocations(
    client: httpclient.InferenceServerClient,
    served: tuple[str, ServiceProcess],
    rows: np.ndarray,
    binary: bool,
    requested: str,
) -> None:
    name, service = served
    expected = native(service, rows)
    tensor = httpclient.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    if requested == "predict_proba" and not expected.get("classes"):
        proba = httpclient.InferRequestedOutput(requested, binary_data=binary)
        with pytest.raises(InferenceServerException) as caught:
            client.infer(name, [tensor], outputs=[proba])
        assert caught.value.status() == "400"  # a regressor has no probabilities
        assert "outputs are predict" in caught.value.message()
        return
    if requested == "all" and binary:
        outputs = None  # the client's default: every output, in binary
        wanted = all_outputs(expected)
    elif requested == "all":
        wanted = all_outputs(expected)
        outputs = [httpclient.InferRequestedOutput(o, binary_data=False) for o in wanted]
    else:
        wanted = [requested]
        outputs = [httpclient.InferRequestedOutput(requested, binary_data=binary)]
    result = client.infer(name, [tensor], outputs=outputs, request_id="req-1")
    assert result.get_response()["id"] == "req-1"
    assert result.get_response()["model_name"] == name
    assert_same_predictions(result, expected, wanted)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_one_tensor_per_feature_on_a_version(
    client: httpclient.InferenceServerClient,
    served: tuple[str, ServiceProcess],
    rows: np.ndarray,
    binary: bool,
) -> None:
    name, service = served
    model_card = card(service)
    inputs = []
    for i, feature in enumerate(model_card["features"]):
        tensor = httpclient.InferInput(feature["name"], [len(rows)], "FP64")
        tensor.set_data_from_numpy(np.ascontiguousarray(rows[:, i]), binary_data=binary)
        inputs.append(tensor)
    result = client.infer(name, inputs, model_version=model_card["version"])
    expected = native(service, rows)
    assert_same_predictions(result, expected, all_outputs(expected))


def test_infer_fp32_in_json_and_binary_agree(
    client: httpclient.InferenceServerClient, served: tuple[str, ServiceProcess], rows: np.ndarray
) -> None:
    name, service = served
    X = rows.astype(np.float32)
    results = []
    for binary in (False, True):
        tensor = httpclient.InferInput("input-0", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=binary)
        results.append(client.infer(name, [tensor]))
    expected = native(service, X.astype(np.float64))
    for result in results:
        assert_same_predictions(result, expected, all_outputs(expected))


def test_missing_values_in_binary_where_the_model_allows_them(
    client: httpclient.InferenceServerClient, served: tuple[str, ServiceProcess], rows: np.ndarray
) -> None:
    name, service = served
    X = rows.copy()
    X[0, 0] = np.nan
    tensor = httpclient.InferInput("input-0", list(X.shape), "FP64")
    tensor.set_data_from_numpy(X)
    if not card(service)["allow_missing"]:
        with pytest.raises(InferenceServerException) as caught:
            client.infer(name, [tensor])
        assert caught.value.status() == "422"
        assert "NaN" in caught.value.message()
        return
    expected = native(service, X)
    assert_same_predictions(client.infer(name, [tensor]), expected, all_outputs(expected))


def test_errors_reach_the_client_as_messages(
    client: httpclient.InferenceServerClient, served: tuple[str, ServiceProcess], rows: np.ndarray
) -> None:
    name, _ = served
    narrow = np.ascontiguousarray(rows[:, :-1])
    tensor = httpclient.InferInput("input-0", list(narrow.shape), "FP64")
    tensor.set_data_from_numpy(narrow)
    with pytest.raises(InferenceServerException) as caught:
        client.infer(name, [tensor])
    assert caught.value.status() == "422"  # wrong number of columns, as on /invocations
    assert f"[N, {rows.shape[1]}]" in caught.value.message()
    tensor = httpclient.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)
    with pytest.raises(InferenceServerException) as caught:
        client.infer(name, [tensor], outputs=[httpclient.InferRequestedOutput("labels")])
    assert caught.value.status() == "400"
    with pytest.raises(InferenceServerException) as caught:
        client.infer(name, [tensor], model_version="999")
    assert caught.value.status() == "404"
    assert client.is_server_ready()  # and it keeps answering


@pytest.mark.parametrize("compression", ["gzip", "deflate"])
def test_compressed_requests(
    client: httpclient.InferenceServerClient,
    served: tuple[str, ServiceProcess],
    rows: np.ndarray,
    compression: str,
) -> None:
    name, service = served
    tensor = httpclient.InferInput("input-0", list(rows.shape), "FP64")
    tensor.set_data_from_numpy(rows)
    result = client.infer(name, [tensor], request_compression_algorithm=compression)
    expected = native(service, rows)
    assert_same_predictions(result, expected, all_outputs(expected))


def test_a_large_binary_batch(
    client: httpclient.InferenceServerClient, served: tuple[str, ServiceProcess]
) -> None:
    name, service = served
    X, _ = RECIPES[name].load()
    X = np.ascontiguousarray(np.resize(X, (10_000, X.shape[1])), dtype=np.float64)
    tensor = httpclient.InferInput("input-0", list(X.shape), "FP64")
    tensor.set_data_from_numpy(X)
    result = client.infer(name, [tensor])
    expected = native(service, X)
    assert_same_predictions(result, expected, all_outputs(expected))


# --- a model with categorical features -------------------------------------------------------


@pytest.fixture(scope="module")
def penguins_served(
    penguins_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    with model_service(penguins_dir, tmp_path_factory.mktemp("v2-penguins")) as service:
        yield service


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_infer_bytes_inputs_for_categorical_features(
    penguins_served: ServiceProcess, penguins_dir: Path, binary: bool
) -> None:
    """Categories as BYTES tensors (numpy object arrays of bytes), numbers
    as FP64: the predictions are the pipeline's on the same DataFrame."""
    from model_service import package
    from tests.support.penguins import penguin_rows

    frame, _ = penguin_rows(n=ROWS, seed=3)
    estimator = package.load(penguins_dir).estimator
    inputs = []
    for name in frame.columns:
        column = frame[name].to_numpy()
        if column.dtype == object:
            # a missing category is NaN in the frame; over V2 it is a category here
            column = frame[name].fillna("female").to_numpy()
            frame[name] = column
            tensor = httpclient.InferInput(name, [len(frame)], "BYTES")
            tensor.set_data_from_numpy(
                np.array([v.encode() for v in column], dtype=np.object_), binary_data=binary
            )
        else:
            tensor = httpclient.InferInput(name, [len(frame)], "FP64")
            tensor.set_data_from_numpy(column.astype(np.float64), binary_data=binary)
        inputs.append(tensor)
    triton = httpclient.InferenceServerClient(url=penguins_served.url.removeprefix("http://"))
    try:
        result = triton.infer("penguins", inputs)
        metadata = triton.get_model_metadata("penguins")
    finally:
        triton.close()
    labels = [
        p.decode() if isinstance(p, bytes) else p for p in result.as_numpy("predict").tolist()
    ]
    assert labels == estimator.predict(frame).tolist()
    np.testing.assert_allclose(result.as_numpy("predict_proba"), estimator.predict_proba(frame))
    assert [i["datatype"] for i in metadata["inputs"]] == ["BYTES", "FP64", "BYTES", "FP64"]
