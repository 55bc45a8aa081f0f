"""Property tests of the Open Inference Protocol decoder and of both
protocols over HTTP (hypothesis): any body, with or without the binary
tensor data extension, decodes or is refused with the typed error that
becomes a 4xx; tensors encoded as a client would decode back to the same
rows; and no request, whatever its headers and bytes, gets a 5xx."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from model_service import create_app, v2
from model_service.package import ModelPackage
from model_service.settings import Settings
from shared.codecs import Categorical, InputSchema
from shared.problems import PayloadError

IRIS = InputSchema(("sepal_length", "sepal_width", "petal_length", "petal_width"), max_rows=50)
MIXED = InputSchema(
    ("island", "mass"),
    max_rows=50,
    categorical={"island": Categorical(("Biscoe", "Dream"))},
)
OUTPUTS = ["predict", "predict_proba"]
DATATYPES = [
    "FP64",
    "FP32",
    "FP16",
    "INT64",
    "INT32",
    "INT8",
    "UINT8",
    "BOOL",
    "BYTES",
    "BF16",
    "X",
]


def decode(
    body: bytes, header_length: str | None, schema: InputSchema, charset: str = "utf-8"
) -> v2.InferRequest | None:
    try:
        return v2.decode_request(body, header_length, schema, OUTPUTS, charset=charset)
    except PayloadError as error:
        problem = error.to_problem(None)
        assert 400 <= problem.status < 500
        orjson.dumps(problem.model_dump(mode="json"))
        return None


@given(
    body=st.binary(max_size=300),
    header_length=st.none() | st.integers(-5, 400).map(str) | st.text(max_size=5),
)
def test_any_bytes_decode_or_are_a_4xx(body: bytes, header_length: str | None) -> None:
    decode(body, header_length, IRIS)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["Biscoe", "Dream"])
)
DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=6), max_leaves=24)
TENSOR = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["input-0", "island", "mass", "sepal_length", "x"]),
        "datatype": st.sampled_from(DATATYPES),
        "shape": st.lists(st.integers(-1, 5), max_size=3) | st.just([1, 4]),
    },
    optional={
        "data": DATA,
        "parameters": st.fixed_dictionaries(
            {}, optional={"binary_data_size": st.integers(-1, 40) | st.text(max_size=2)}
        ),
    },
)
REQUEST = st.fixed_dictionaries(
    {"inputs": st.lists(TENSOR, max_size=3) | SCALARS},
    optional={
        "id": st.text(max_size=5) | st.integers(),
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from([*OUTPUTS, "other"])},
                optional={"parameters": st.dictionaries(st.text(max_size=8), SCALARS, max_size=2)},
            ),
            max_size=3,
        ),
        "parameters": st.dictionaries(
            st.sampled_from(["binary_data_output", "shared_memory_region", "x"]), SCALARS
        ),
    },
)


@given(request=REQUEST, binary=st.binary(max_size=64), schema=st.sampled_from([IRIS, MIXED]))
def test_any_inference_request_decodes_or_is_a_4xx(
    request: dict[str, object], binary: bytes, schema: InputSchema
) -> None:
    header = json.dumps(request).encode()  # the standard library's: NaN, big ints
    decode(header, None, schema)
    decode(header + binary, str(len(header)), schema)


ROWS = st.integers(1, 20).flatmap(
    lambda n: st.lists(
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=4, max_size=4
        ),
        min_size=n,
        max_size=n,
    )
)


@given(rows=ROWS, datatype=st.sampled_from(["FP64", "FP32"]))
def test_rows_survive_the_binary_tensor_extension(rows: list[list[float]], datatype: str) -> None:
    dtype = {"FP64": "<f8", "FP32": "<f4"}[datatype]
    data = np.asarray(rows, dtype=dtype).tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "datatype": datatype,
                    "shape": [len(rows), 4],
                    "parameters": {"binary_data_size": len(data)},
                }
            ]
        }
    )
    decoded = v2.decode_request(header + data, str(len(header)), IRIS, OUTPUTS)
    np.testing.assert_array_equal(decoded.X, np.asarray(rows, dtype=dtype).astype(float))


@given(rows=ROWS, charset=st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_rows_survive_json_tensors_in_the_declared_charset(
    rows: list[list[float]], charset: str
) -> None:
    flat = [value for row in rows for value in row]
    body = json.dumps(
        {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [len(rows), 4], "data": flat}]}
    ).encode(charset)
    decoded = v2.decode_request(body, None, IRIS, OUTPUTS, charset=charset)
    np.testing.assert_array_equal(decoded.X, np.asarray(rows, dtype=float))


def test_bytes_strings_of_the_binary_extension_are_length_prefixed() -> None:
    """BYTES in binary: each element a 4-byte little-endian length, then the bytes."""
    islands = [b"Biscoe", b"Dream"]
    strings = b"".join(struct.pack("<I", len(s)) + s for s in islands)
    masses = np.asarray([4000.0, 3500.0]).tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "island",
                    "datatype": "BYTES",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": len(strings)},
                },
                {
                    "name": "mass",
                    "datatype": "FP64",
                    "shape": [2, 1],
                    "parameters": {"binary_data_size": len(masses)},
                },
            ]
        }
    )
    decoded = v2.decode_request(header + strings + masses, str(len(header)), MIXED, OUTPUTS)
    assert decoded.X.tolist() == [["Biscoe", 4000.0], ["Dream", 3500.0]]


# --- over HTTP: no request gets a 5xx, nor an undocumented status ---


@pytest.fixture(scope="module")
def client(packages: dict[str, ModelPackage]) -> Iterator[TestClient]:
    app = create_app(Settings(max_body_bytes=10_000), model=packages["iris"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
CONTENT_TYPES = (
    st.sampled_from(
        [
            "application/json",
            "text/csv",
            "text/csv; header=present",
            "application/json; charset=utf-16",
            "text/csv; charset=latin-1",
            "application/json; charset=base64",
            "application/octet-stream",
            "text/plain",
        ]
    )
    | HEADER_TEXT
)
BODIES = (
    st.binary(max_size=200)
    | REQUEST.map(lambda r: json.dumps(r).encode())
    | st.lists(st.lists(st.floats() | st.text(max_size=4), max_size=5), max_size=4).map(
        lambda rows: json.dumps({"instances": rows}).encode()
    )
)


@given(
    path=st.sampled_from(
        ["/invocations", "/v2/models/iris/infer", "/v2/models/iris/versions/1/infer"]
    ),
    body=BODIES,
    content_type=st.none() | CONTENT_TYPES,
    encoding=st.none() | st.sampled_from(["gzip", "deflate", "br", "identity, gzip"]) | HEADER_TEXT,
    accept=st.none() | st.sampled_from(["text/csv", "application/json;q=0", "*/*"]) | HEADER_TEXT,
    header_length=st.none() | st.integers(-1, 300).map(str),
)
def test_no_request_gets_a_5xx(
    client: TestClient,
    path: str,
    body: bytes,
    content_type: str | None,
    encoding: str | None,
    accept: str | None,
    header_length: str | None,
) -> None:
    headers = {
        name: value
        for name, value in (
            ("Content-Type", content_type),
            ("Content-Encoding", encoding),
            ("Accept", accept),
            ("Inference-Header-Content-Length", header_length),
        )
        if value is not None
    }
    response = client.post(path, content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text)
    template = path.replace("/iris/", "/{name}/").replace("/versions/1/", "/versions/{version}/")
    documented = documented_statuses(client)[template]
    assert str(response.status_code) in documented, (path, response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json()  # a body the client can read: problem+json or {"error"}


def documented_statuses(client: TestClient) -> dict[str, set[str]]:
    """Path template -> the statuses its POST operation documents."""
    document = client.app.openapi()  # type: ignore[attr-defined]
    return {
        path: set(operations["post"]["responses"])
        for path, operations in document["paths"].items()
        if "post" in operations
    }
