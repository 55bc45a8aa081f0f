"""The Open Inference Protocol routes on an app built by create_app, with
FastAPI's TestClient: metadata, readiness, inference in JSON and binary,
and a table of malformed requests that must each get a 4xx {"error"}."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from model_service import create_app
from model_service.package import ModelPackage
from model_service.settings import Settings
from tests.support import v2_client

ClientFactory = Callable[..., TestClient]
ROW = [5.1, 3.5, 1.4, 0.2]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def infer(client: TestClient, document: Any, path: str = "/v2/models/iris/infer") -> Response:
    return client.post(path, content=orjson.dumps(document))


def one_row(**extra: Any) -> dict[str, Any]:
    return {
        "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}],
        **extra,
    }


# --- health and metadata -----------------------------------------------------------------


def test_server_live_ready_and_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    metadata = client.get("/v2").json()
    assert metadata["extensions"] == ["binary_tensor_data"]
    assert {"name", "version"} <= set(metadata)


@pytest.mark.parametrize("path", ["/v2/models/iris", "/v2/models/iris/versions/1"])
def test_model_metadata_is_derived_from_the_card(client: TestClient, path: str) -> None:
    metadata = client.get(path).json()
    assert metadata["name"] == "iris"
    assert metadata["versions"] == ["1"]
    assert metadata["platform"] == "sklearn"
    assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == [
        (name, "FP64", [-1]) for name in FEATURES
    ]
    assert metadata["inputs"][0]["parameters"]["unit"] == "cm"
    assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
        ("predict", "BYTES", [-1]),
        ("predict_proba", "FP64", [-1, 3]),
    ]
    classes = orjson.loads(metadata["outputs"][1]["parameters"]["classes"])
    assert classes == ["setosa", "versicolor", "virginica"]


def test_regressor_metadata_has_one_fp64_output(make_client: ClientFactory) -> None:
    metadata = make_client("diabetes").get("/v2/models/diabetes").json()
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    assert len(metadata["inputs"]) == 10


@pytest.mark.parametrize("path", ["/v2/models/iris/ready", "/v2/models/iris/versions/1/ready"])
def test_model_ready(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"name": "iris", "ready": True}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/wine"),
        ("GET", "/v2/models/iris/versions/2"),
        ("GET", "/v2/models/wine/ready"),
        ("GET", "/v2/models/iris/versions/2/ready"),
        ("POST", "/v2/models/wine/infer"),
        ("POST", "/v2/models/iris/versions/2/infer"),
        ("GET", "/v2/models/iris/nowhere"),
    ],
)
def test_unknown_model_or_version_is_404(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, content=orjson.dumps(one_row()))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}


def test_wrong_method_is_405_with_error(client: TestClient) -> None:
    response = client.get("/v2/models/iris/infer")
    assert response.status_code == 405
    assert "POST" in response.json()["error"]


# --- inference ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v2/models/iris/infer", "/v2/models/iris/versions/1/infer"])
def test_infer_json_equals_invocations(client: TestClient, path: str) -> None:
    rows = [ROW, [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    native = client.post("/invocations", json={"instances": rows}).json()
    document = {
        "id": "abc-1",
        "inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": rows}],
    }
    response = infer(client, document, path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["id"] == "abc-1"
    assert (body["model_name"], body["model_version"]) == ("iris", "1")
    predict, proba = body["outputs"]
    assert predict == {
        "name": "predict",
        "datatype": "BYTES",
        "shape": [3],
        "data": native["predictions"],
    }
    assert (proba["name"], proba["datatype"], proba["shape"]) == ("predict_proba", "FP64", [3, 3])
    np.testing.assert_array_equal(np.reshape(proba["data"], (3, 3)), native["probabilities"])


def test_infer_one_tensor_per_feature(client: TestClient) -> None:
    inputs = [
        {"name": name, "shape": [1, 1], "datatype": "FP32", "data": [[value]]}
        for name, value in zip(FEATURES, ROW, strict=True)
    ]
    response = infer(client, {"inputs": inputs[::-1], "outputs": [{"name": "predict"}]})
    assert response.status_code == 200
    assert response.json()["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [1], "data": ["setosa"]}
    ]


def test_infer_binary_in_and_out(client: TestClient) -> None:
    X = np.array([ROW, [6.7, 3.0, 5.2, 2.3]])
    body, length = v2_client.encode_request(
        {"input-0": X}, binary=True, outputs={"predict": True, "predict_proba": True}
    )
    response = client.post(
        "/v2/models/iris/infer",
        content=body,
        headers={"Inference-Header-Content-Length": str(length)},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    header_length = int(response.headers["inference-header-content-length"])
    _, arrays = v2_client.decode_response(response.content, header_length)
    native = client.post("/invocations", json={"instances": X.tolist()}).json()
    assert arrays["predict"].tolist() == native["predictions"]
    np.testing.assert_array_equal(arrays["predict_proba"], native["probabilities"])


def test_binary_data_output_parameter_applies_to_every_output(client: TestClient) -> None:
    response = infer(client, one_row(parameters={"binary_data_output": True}))
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    document, arrays = v2_client.decode_response(response.content, length)
    assert [o["parameters"]["binary_data_size"] for o in document["outputs"]] == [4 + 6, 3 * 8]
    assert arrays["predict"].tolist() == ["setosa"]


def test_regression_predict_is_fp64(make_client: ClientFactory) -> None:
    client = make_client("diabetes")
    row = client.get("/metadata").json()["features"]
    values = [f["example"] for f in row]
    native = client.post("/invocations", json={"instances": [values]}).json()
    response = infer(
        client,
        {"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64", "data": values}]},
        "/v2/models/diabetes/infer",
    )
    assert response.json()["outputs"] == [
        {"name": "predict", "datatype": "FP64", "shape": [1], "data": native["predictions"]}
    ]


def test_missing_values_where_the_model_allows_them(make_client: ClientFactory) -> None:
    client = make_client("breast_cancer")
    values: list[float | None] = [f["example"] for f in client.get("/metadata").json()["features"]]
    values[3] = None
    document = {"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": values}]}
    response = infer(client, document, "/v2/models/breast_cancer/infer")
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"][0] in ("malignant", "benign")


def test_range_warnings_in_parameters(client: TestClient) -> None:
    document = {
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 9.0]}]
    }
    response = infer(client, document)
    assert response.status_code == 200
    assert "row 0, petal_width: 9 is above" in response.json()["parameters"]["warnings"]


@pytest.mark.parametrize("content_type", [None, "application/json", "application/octet-stream"])
def test_content_types_taken(client: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        "/v2/models/iris/infer", content=orjson.dumps(one_row()), headers=headers
    )
    assert response.status_code == 200


def test_rows_are_counted_in_the_request_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="model_service.access"):
        infer(client, one_row())
    assert any(getattr(r, "rows", None) == 1 for r in caplog.records)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_compressed_requests(
    client: TestClient, binary: bool, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    body, length = v2_client.encode_request({"input-0": np.array([ROW])}, binary=binary)
    headers = {"Content-Encoding": encoding}
    if length is not None:
        headers["Inference-Header-Content-Length"] = str(length)
    response = client.post("/v2/models/iris/infer", content=compress(body), headers=headers)
    assert response.status_code == 200, response.text
    _, arrays = v2_client.decode_response(response.content, None)  # outputs default to JSON
    assert arrays["predict"].tolist() == ["setosa"]


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [
        (b"not gzip at all", "gzip", 400),
        (gzip.compress(orjson.dumps(one_row()))[:-12], "gzip", 400),
        (orjson.dumps(one_row()), "br", 415),
        (gzip.compress(b" " * 100_000), "gzip", 413),
    ],
    ids=["not gzip", "truncated", "unsupported encoding", "inflates past the limit"],
)
def test_bad_compressed_requests(
    make_client: ClientFactory, body: bytes, encoding: str, status: int
) -> None:
    client = make_client("iris", max_body_bytes=10_000)
    response = client.post(
        "/v2/models/iris/infer", content=body, headers={"Content-Encoding": encoding}
    )
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}


def test_not_ready_before_the_model_is_loaded(packages: dict[str, ModelPackage]) -> None:
    # without the context manager the lifespan does not run: no predictor yet
    client = TestClient(create_app(Settings(), model=packages["iris"]))
    assert client.get("/v2/health/live").status_code == 200
    for response in (
        client.get("/v2/health/ready"),
        client.get("/v2/models/iris/ready"),
        client.post("/v2/models/iris/infer", content=orjson.dumps(one_row())),
    ):
        assert response.status_code == 503
        assert set(response.json()) == {"error"}


# --- malformed requests ---------------------------------------------------------------------

_HEADER = orjson.dumps(
    {
        "inputs": [
            {
                "name": "input-0",
                "shape": [1, 4],
                "datatype": "FP64",
                "parameters": {"binary_data_size": 32},
            }
        ]
    }
)


def _tensor(**changes: Any) -> bytes:
    tensor = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW, **changes}
    return orjson.dumps({"inputs": [{k: v for k, v in tensor.items() if v is not None}]})


def _per_feature(*names: str, rows: int = 1) -> list[dict[str, Any]]:
    return [{"name": n, "shape": [rows], "datatype": "FP64", "data": [1.0] * rows} for n in names]


MALFORMED: list[tuple[str, bytes, dict[str, str], int]] = [
    ("empty body", b"", {}, 400),
    ("bad json", b'{"inputs": [', {}, 400),
    ("not utf-8", b'{"inputs": "\xff"}', {}, 400),
    ("json array", b"[1, 2, 3]", {}, 400),
    ("no inputs", b'{"id": "1"}', {}, 400),
    ("inputs not a list", b'{"inputs": {"a": 1}}', {}, 400),
    ("missing name", _tensor(name=None), {}, 400),
    ("missing shape", _tensor(shape=None), {}, 400),
    ("missing datatype", _tensor(datatype=None), {}, 400),
    ("missing data", _tensor(data=None), {}, 400),
    ("shape too narrow", _tensor(shape=[1, 3], data=ROW[:3]), {}, 422),
    ("shape too wide", _tensor(shape=[1, 5], data=[*ROW, 1.0]), {}, 422),
    ("shape three-d", _tensor(shape=[1, 1, 4]), {}, 422),
    ("shape not ints", _tensor(shape=["1", 4]), {}, 400),
    ("data longer than shape", _tensor(data=[*ROW, 1.0]), {}, 400),
    ("data shorter than shape", _tensor(shape=[2, 4]), {}, 400),
    ("datatype BYTES", _tensor(datatype="BYTES", data=["5.1", "3.5", "1.4", "0.2"]), {}, 400),
    ("datatype BOOL", _tensor(datatype="BOOL", data=[True, False, True, True]), {}, 400),
    ("datatype unknown", _tensor(datatype="DOUBLE"), {}, 400),
    ("INT with floats", _tensor(datatype="INT64"), {}, 400),
    (
        "unknown input name",
        orjson.dumps(
            {
                "inputs": [
                    {"name": "petal", "shape": [1], "datatype": "FP64", "data": [1.0]},
                    {"name": "sepal_length", "shape": [1], "datatype": "FP64", "data": [1.0]},
                ]
            }
        ),
        {},
        422,
    ),
    (
        "missing feature inputs",
        orjson.dumps(
            {"inputs": [{"name": "sepal_length", "shape": [1], "datatype": "FP64", "data": [1.0]}]}
        ),
        {},
        422,
    ),
    (
        "duplicate feature input",
        orjson.dumps({"inputs": _per_feature(*FEATURES, "sepal_length")}),
        {},
        422,
    ),
    (
        "feature inputs of different lengths",
        orjson.dumps({"inputs": _per_feature(*FEATURES[:3]) + _per_feature("petal_width", rows=2)}),
        {},
        422,
    ),
    ("FP32 out of float range", _tensor(datatype="FP32", data=[5.1, 1e300, 1.4, 0.2]), {}, 422),
    ("INT8 out of range", _tensor(datatype="INT8", data=[5, 300, 1, 0]), {}, 400),
    ("unknown output", orjson.dumps(one_row(outputs=[{"name": "labels"}])), {}, 400),
    ("outputs not a list", orjson.dumps(one_row(outputs={"name": "predict"})), {}, 400),
    ("id not a string", orjson.dumps(one_row(id=7)), {}, 400),
    ("parameters not an object", orjson.dumps(one_row(parameters="binary")), {}, 400),
    (
        "binary header not a number",
        _HEADER + bytes(32),
        {"Inference-Header-Content-Length": "x"},
        400,
    ),
    (
        "binary header too long",
        _HEADER + bytes(32),
        {"Inference-Header-Content-Length": "9999"},
        400,
    ),
    (
        "binary data too short",
        _HEADER + bytes(31),
        {"Inference-Header-Content-Length": str(len(_HEADER))},
        400,
    ),
    (
        "binary data too long",
        _HEADER + bytes(33),
        {"Inference-Header-Content-Length": str(len(_HEADER))},
        400,
    ),
    (
        "binary size wrong for shape",
        _HEADER.replace(b"32", b"16") + bytes(16),
        {"Inference-Header-Content-Length": str(len(_HEADER))},
        400,
    ),
    ("binary without header length", _HEADER + bytes(32), {}, 400),
    ("binary size without data", _HEADER, {}, 400),
    ("boolean cell", _tensor(data=[5.1, True, 1.4, 0.2]), {}, 422),
    ("string cell", _tensor(data=[5.1, "3.5", 1.4, 0.2]), {}, 422),
    ("null cell", _tensor(data=[5.1, None, 1.4, 0.2]), {}, 422),
    ("nested deeper than the shape", _tensor(data=[[[5.1, 3.5, 1.4, 0.2]]]), {}, 400),
    ("no rows", _tensor(shape=[0, 4], data=[]), {}, 422),
    (
        "NaN in binary",
        _HEADER + np.array([5.1, np.nan, 1.4, 0.2]).tobytes(),
        {"Inference-Header-Content-Length": str(len(_HEADER))},
        422,
    ),
    (
        "number out of float range",
        b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":[1e999,1,1,1]}]}',
        {},
        422,
    ),
    ("unsupported content type", orjson.dumps(one_row()), {"Content-Type": "text/csv"}, 415),
]


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_requests_get_a_4xx_error_and_the_service_still_answers(
    client: TestClient, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = client.post("/v2/models/iris/infer", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert set(error) == {"error"}
    assert error["error"]
    assert "Traceback" not in error["error"]
    after = infer(client, one_row())
    assert after.status_code == 200
    assert after.json()["outputs"][0]["data"] == ["setosa"]


def _instances(*rows: list[Any]) -> bytes:
    return orjson.dumps({"instances": list(rows)})


# The same fault sent to both protocols: docs/open-inference-protocol.md and
# docs/errors.md, "the same statuses".
SAME_FAULT: list[tuple[str, bytes, bytes]] = [
    (
        "three columns",
        _tensor(shape=[1, 3], data=ROW[:3]),
        _instances(ROW[:3]),
    ),
    (
        "five columns",
        _tensor(shape=[1, 5], data=[*ROW, 1.0]),
        _instances([*ROW, 1.0]),
    ),
    (
        "missing feature",
        orjson.dumps({"inputs": _per_feature(*FEATURES[:3])}),
        _instances(dict(zip(FEATURES[:3], ROW[:3], strict=True))),
    ),
    (
        "unknown feature",
        orjson.dumps({"inputs": _per_feature(*FEATURES, "petal")}),
        _instances({**dict(zip(FEATURES, ROW, strict=True)), "petal": 1.0}),
    ),
    (
        "duplicate feature",
        orjson.dumps({"inputs": _per_feature(*FEATURES, FEATURES[0])}),
        b'{"instances": [{"sepal_length": 5.1, "sepal_length": 5.1, "sepal_width": 3.5, '
        b'"petal_length": 1.4, "petal_width": 0.2}]}',
    ),
    (
        "different lengths",
        orjson.dumps({"inputs": _per_feature(*FEATURES[:3]) + _per_feature(FEATURES[3], rows=2)}),
        orjson.dumps({"inputs": {**{f: [1.0] for f in FEATURES[:3]}, FEATURES[3]: [1.0, 1.0]}}),
    ),
    (
        "number out of float range",
        _tensor(datatype="FP32", data=[5.1, 1e300, 1.4, 0.2]),
        b'{"instances": [[5.1, 1e400, 1.4, 0.2]]}',
    ),
    (
        "not a number",
        _tensor(data=[5.1, "abc", 1.4, 0.2]),
        _instances([5.1, "abc", 1.4, 0.2]),
    ),
    ("no rows", _tensor(shape=[0, 4], data=[]), _instances()),
    ("not json", b'{"inputs": [', b'{"instances": ['),
]


@pytest.mark.parametrize(
    ("v2_body", "native_body"),
    [case[1:] for case in SAME_FAULT],
    ids=[case[0] for case in SAME_FAULT],
)
def test_a_fault_gets_the_same_status_on_v2_as_on_invocations(
    client: TestClient, v2_body: bytes, native_body: bytes
) -> None:
    native = client.post(
        "/invocations", content=native_body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= native.status_code < 500, native.text
    answer = client.post("/v2/models/iris/infer", content=v2_body)
    assert answer.status_code == native.status_code, (answer.text, native.text)
    assert set(answer.json()) == {"error"}


def test_a_feature_fault_names_the_feature(client: TestClient) -> None:
    answer = infer(client, {"inputs": _per_feature(*FEATURES[:2], "petal")})
    assert answer.status_code == 422
    error = answer.json()["error"]
    for said in ("unknown input 'petal'", "missing input 'petal_length'", "'petal_width'"):
        assert said in error
    answer = client.post(
        "/v2/models/iris/infer", content=_tensor(datatype="FP32", data=[5.1, 1e300, 1.4, 0.2])
    )
    assert answer.status_code == 422
    assert "row 0, column 'sepal_width': number out of float range" in answer.json()["error"]


def test_too_many_rows_is_413(make_client: ClientFactory) -> None:
    client = make_client("iris", max_rows=2)
    document = {"inputs": [{"name": "x", "shape": [3, 4], "datatype": "FP64", "data": [ROW] * 3}]}
    response = infer(client, document)
    assert response.status_code == 413
    assert "limit of 2 rows" in response.json()["error"]


def test_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = make_client("iris", max_body_bytes=64)
    response = infer(client, one_row(id="x" * 100))
    assert response.status_code == 413
    assert set(response.json()) == {"error"}


# --- the OpenAPI document ---------------------------------------------------------------------


def test_openapi_shows_the_v2_routes_with_error_bodies(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path, method in [
        ("/v2/health/live", "get"),
        ("/v2/health/ready", "get"),
        ("/v2", "get"),
        ("/v2/models/{name}", "get"),
        ("/v2/models/{name}/versions/{version}", "get"),
        ("/v2/models/{name}/ready", "get"),
        ("/v2/models/{name}/versions/{version}/ready", "get"),
        ("/v2/models/{name}/infer", "post"),
        ("/v2/models/{name}/versions/{version}/infer", "post"),
    ]:
        assert method in paths[path], path
    infer_operation = paths["/v2/models/{name}/versions/{version}/infer"]["post"]
    assert {"400", "404", "413", "415", "422", "500"} <= set(infer_operation["responses"])
    error = infer_operation["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/V2Error"}
    assert document["components"]["schemas"]["V2Error"]["required"] == ["error"]
    assert [p["name"] for p in infer_operation["parameters"]] == ["name", "version"]
    body = infer_operation["requestBody"]["content"]
    assert {"application/json", "application/octet-stream"} <= set(body)
    assert "HTTPValidationError" not in orjson.dumps(document).decode()
    assert client.get("/docs").status_code == 200
