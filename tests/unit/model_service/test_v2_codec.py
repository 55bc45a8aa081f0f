"""model_service.v2: Open Inference Protocol tensors <-> rows and predictions,
in JSON and in the binary tensor data extension, without a server."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import orjson
import pytest

from model_service import v2
from model_service.inputs import check_array
from model_service.predictor import PredictionArrays
from shared.answers import ModelRef, RangeWarning
from shared.codecs import decode_request
from shared.codecs.json import decode_json_rows
from shared.codecs.rows import InputSchema
from shared.media import request_format
from shared.problems import InvalidRows, MalformedPayload, PayloadError, PayloadTooLarge
from tests.support import v2_client

FEATURES = ("a", "b", "c", "d")
SCHEMA = InputSchema(FEATURES, allow_missing=False, max_rows=100)
MISSING_OK = InputSchema(FEATURES, allow_missing=True, max_rows=100)
CLASSIFIER_OUTPUTS = (v2.PREDICT, v2.PREDICT_PROBA)
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
REF = ModelRef(name="iris", version="1")


def decode(
    document: Any,
    schema: InputSchema = SCHEMA,
    outputs: tuple[str, ...] = CLASSIFIER_OUTPUTS,
) -> v2.InferRequest:
    return v2.decode_request(orjson.dumps(document), None, schema, outputs)


def tensor(name: str, shape: list[int], data: Any, datatype: str = "FP64") -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


# --- requests: JSON ----------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [ROWS.ravel().tolist(), ROWS.tolist()],
    ids=["flat", "nested"],
)
def test_one_tensor_of_rows_flat_or_nested(data: list[Any]) -> None:
    request = decode({"inputs": [tensor("input-0", [2, 4], data)]})
    np.testing.assert_array_equal(request.X, ROWS)
    assert request.X.dtype == np.float64


@pytest.mark.parametrize("shape", [[2], [2, 1]])
def test_one_tensor_per_feature_in_any_order(shape: list[int]) -> None:
    columns = {name: ROWS[:, i] for i, name in enumerate(FEATURES)}
    inputs = [
        tensor(name, shape, columns[name].reshape(shape).tolist()) for name in reversed(FEATURES)
    ]
    np.testing.assert_array_equal(decode({"inputs": inputs}).X, ROWS)


@pytest.mark.parametrize("datatype", ["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT64"])
def test_integer_datatypes(datatype: str) -> None:
    request = decode({"inputs": [tensor("x", [1, 4], [1, 2, 3, 4], datatype)]})
    np.testing.assert_array_equal(request.X, [[1.0, 2.0, 3.0, 4.0]])


def test_fp32_json_values_are_rounded_like_binary_ones() -> None:
    values = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    from_json = decode({"inputs": [tensor("x", [1, 4], values.ravel().tolist(), "FP32")]})
    body, length = v2_client.encode_request({"x": values}, binary=True)
    from_binary = v2.decode_request(body, str(length), SCHEMA, CLASSIFIER_OUTPUTS)
    np.testing.assert_array_equal(from_json.X, from_binary.X)
    np.testing.assert_array_equal(from_json.X, values.astype(np.float64))


def test_id_parameters_and_outputs_are_read() -> None:
    request = decode(
        {
            "id": "req-7",
            "parameters": {"binary_data_output": True, "custom": "kept"},
            "inputs": [tensor("x", [1, 4], [1, 2, 3, 4])],
            "outputs": [{"name": "predict_proba", "parameters": {"binary_data": False}}],
        }
    )
    assert request.id == "req-7"
    assert request.parameters["custom"] == "kept"
    assert request.outputs == (v2.RequestedOutput("predict_proba", binary=False),)


def test_without_outputs_every_output_comes_back_in_the_default_form() -> None:
    request = decode(
        {"parameters": {"binary_data_output": True}, "inputs": [tensor("x", [1, 4], [1, 2, 3, 4])]}
    )
    assert request.outputs == (
        v2.RequestedOutput("predict", True),
        v2.RequestedOutput("predict_proba", True),
    )
    assert decode({"inputs": [tensor("x", [1, 4], [1, 2, 3, 4])]}).outputs[0].binary is False


def test_null_is_a_missing_value_when_the_model_allows_it() -> None:
    request = decode({"inputs": [tensor("x", [1, 4], [1, None, 3, 4])]}, MISSING_OK)
    assert math.isnan(request.X[0, 1])
    with pytest.raises(InvalidRows, match="row 0, column 'b': null"):
        decode({"inputs": [tensor("x", [1, 4], [1, None, 3, 4])]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, True, 3, 4], "column 'b': not a number: true"),
        ([1, 2, "3", 4], "column 'c': not a number"),
        ([1, 2, 3, {"v": 4}], "row 0: row nested too deep"),
        ([1, 2, 3, 1e400], "column 'd': number out of float range"),
        ([10**400, 2, 3, 4], "column 'a': number out of float range"),
    ],
)
def test_cells_are_checked_as_the_native_decoder_checks_them(data: list[Any], message: str) -> None:
    with pytest.raises(InvalidRows, match=message):
        v2.decode_request(
            b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":'
            + (b"[%s]" % b",".join(_json_number(v) for v in data))
            + b"}]}",
            None,
            SCHEMA,
            CLASSIFIER_OUTPUTS,
        )


def _json_number(value: Any) -> bytes:
    # 1e400 and 10**400 are valid JSON that orjson cannot write
    if isinstance(value, float) and math.isinf(value):
        return b"1e400"
    if isinstance(value, int) and not isinstance(value, bool) and value > 2**64:
        return str(value).encode()
    return orjson.dumps(value)


def test_binary_nan_is_reported_on_its_cell() -> None:
    X = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, np.nan, np.inf]])
    body, length = v2_client.encode_request({"x": X}, binary=True)
    with pytest.raises(InvalidRows) as caught:
        v2.decode_request(body, str(length), SCHEMA, CLASSIFIER_OUTPUTS)
    assert [(e.row, e.column) for e in caught.value.errors] == [(1, "c"), (1, "d")]
    assert "NaN" in caught.value.errors[0].message
    assert "infinite" in caught.value.errors[1].message
    with pytest.raises(InvalidRows, match="infinite"):  # inf is never valid, even where NaN is
        v2.decode_request(body, str(length), MISSING_OK, CLASSIFIER_OUTPUTS)


def test_too_many_rows_is_413_before_any_cell_is_read() -> None:
    with pytest.raises(PayloadTooLarge):
        decode({"inputs": [tensor("x", [101, 4], [0.0] * 404)]})


# --- requests: binary ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int32, np.uint16])
def test_binary_round_trip(dtype: type[np.generic]) -> None:
    X = np.array([[5, 3, 1, 0], [6, 3, 5, 2]], dtype=dtype)
    body, length = v2_client.encode_request({"input-0": X}, binary=True)
    assert length is not None
    document = orjson.loads(body[:length])
    assert document["inputs"][0]["parameters"]["binary_data_size"] == X.nbytes
    request = v2.decode_request(body, str(length), SCHEMA, CLASSIFIER_OUTPUTS)
    np.testing.assert_array_equal(request.X, X.astype(np.float64))


def test_binary_and_json_inputs_mixed_per_feature() -> None:
    document = {
        "inputs": [
            {"name": "a", "shape": [2], "datatype": "FP64", "parameters": {"binary_data_size": 16}},
            tensor("b", [2], ROWS[:, 1].tolist()),
            {
                "name": "c",
                "shape": [2, 1],
                "datatype": "FP32",
                "parameters": {"binary_data_size": 8},
            },
            tensor("d", [2, 1], ROWS[:, 3:].tolist()),
        ]
    }
    header = orjson.dumps(document)
    body = header + ROWS[:, 0].tobytes() + ROWS[:, 2].astype(np.float32).tobytes()
    request = v2.decode_request(body, str(len(header)), SCHEMA, CLASSIFIER_OUTPUTS)
    expected = ROWS.copy()
    expected[:, 2] = ROWS[:, 2].astype(np.float32)
    np.testing.assert_array_equal(request.X, expected)


# --- requests: malformed ----------------------------------------------------------------

_ONE = [tensor("x", [1, 4], [1, 2, 3, 4])]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "JSON object with `inputs`"),
        ({}, "no `inputs`"),
        ({"inputs": []}, "non-empty list"),
        ({"inputs": [5]}, r"inputs\[0\] must be an object"),
        ({"inputs": [{"shape": [1, 4], "datatype": "FP64", "data": []}]}, "no `name`"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "data": [1, 2, 3, 4]}]}, "no `datatype`"),
        ({"inputs": [{"name": "x", "datatype": "FP64", "data": [1, 2, 3, 4]}]}, "no `shape`"),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64"}]}, "no `data`"),
        ({"inputs": [tensor("x", [1, 4], [1, 2, 3, 4], "BYTES")]}, "does not take"),
        ({"inputs": [tensor("x", [1, 4], [1, 2, 3, 4], "FLOAT")]}, "not a V2 datatype"),
        ({"inputs": [tensor("x", [1, -4], [1, 2, 3, 4])]}, "non-negative integers"),
        ({"inputs": [tensor("x", [1, 4], [1, 2, 3])]}, r"\(4 values\), but its data has 3"),
        ({"inputs": [tensor("x", [1, 4], {"a": 1})]}, "must be a list"),
        ({"inputs": [tensor("x", [1, 4], [1.5, 2, 3, 4], "INT32")]}, "non-integers"),
        ({"inputs": [tensor("x", [1, 4], [300, 2, 3, 4], "INT8")]}, "range of INT8"),
        ({"inputs": [tensor("x", [1, 4], [-1, 2, 3, 4], "UINT8")]}, "range of UINT8"),
        ({"id": 5, "inputs": _ONE}, "`id` must be a string"),
        ({"parameters": [1], "inputs": _ONE}, "must be an object"),
        ({"parameters": {"binary_data_output": "yes"}, "inputs": _ONE}, "true or false"),
        ({"inputs": _ONE, "outputs": "predict"}, "must be a list"),
        ({"inputs": _ONE, "outputs": []}, "`outputs` is empty"),
        ({"inputs": _ONE, "outputs": [{"name": "proba"}]}, "Unknown output 'proba'"),
        ({"inputs": _ONE, "outputs": [{"name": "predict"}, {"name": "predict"}]}, "twice"),
        ({"inputs": _ONE, "outputs": [{}]}, "`name` string"),
        (
            {"inputs": _ONE, "outputs": [{"name": "predict", "parameters": {"classification": 2}}]},
            "classification extension",
        ),
        (
            {"inputs": [{**_ONE[0], "parameters": {"shared_memory_region": "r"}}]},
            "shared-memory",
        ),
        (
            {"inputs": [{**_ONE[0], "parameters": {"binary_data_size": 32}}]},
            "both `data` and binary_data_size",
        ),
        (
            {
                "inputs": [
                    {
                        "name": "x",
                        "shape": [1, 4],
                        "datatype": "FP64",
                        "parameters": {"binary_data_size": -1},
                    }
                ]
            },
            "number of bytes",
        ),
    ],
)
def test_malformed_requests_are_400(document: Any, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        decode(document)


def _per_feature(shapes: dict[str, list[int]] | None = None, *names: str) -> list[dict[str, Any]]:
    """One tensor per name (default: every feature) of shape [1] unless `shapes` says."""
    shapes = shapes or {}
    return [
        tensor(n, shapes.get(n, [1]), [1.0] * math.prod(shapes.get(n, [1])))
        for n in (names or FEATURES)
    ]


@pytest.mark.parametrize(
    ("inputs", "message", "cells"),
    [
        ([tensor("x", [1, 3], [1, 2, 3])], r"'x' has shape \[1, 3\] \(3 columns\).*\[N, 4\]", []),
        ([tensor("x", [1, 5], [1, 2, 3, 4, 5])], r"\(5 columns\).*\[N, 4\]", []),
        ([tensor("x", [4], [1, 2, 3, 4])], r"'x' has shape \[4\];.*\[N, 4\]", []),
        ([tensor("x", [1, 1, 4], [1, 2, 3, 4])], r"'x' has shape \[1, 1, 4\];.*\[N, 4\]", []),
        (
            _per_feature(None, "a", "b"),
            "missing input 'c'; missing input 'd'",
            [(None, "c"), (None, "d")],
        ),
        (
            _per_feature(None, "a", "b", "c", "d", "zz"),
            "unknown input 'zz': not a feature",
            [(None, "zz")],
        ),
        (_per_feature(None, "a", "b", "c", "d", "a"), "input 'a' is given twice", [(None, "a")]),
        (
            _per_feature({"d": [2]}),
            "input 'd' has 2 rows, but input 'a' has 1",
            [(None, "d")],
        ),
        (
            _per_feature({"c": [1, 2]}),
            r"input 'c' has shape \[1, 2\], not \[N\] or \[N, 1\]",
            [(None, "c")],
        ),
        (
            [tensor("x", [2, 4], [1, 2, 3, 4, 1, 2, 1e39, -1e300], "FP32")],
            "row 1, column 'c': number out of float range for FP32",
            [(1, "c"), (1, "d")],
        ),
        (
            [tensor("x", [1, 4], [1, 7e4, 3, 4], "FP16")],
            "row 0, column 'b': number out of float range for FP16",
            [(0, "b")],
        ),
        (
            [
                *_per_feature({"a": [2], "b": [2], "d": [2]}, "a", "b", "d"),
                tensor("c", [2, 1], [[1], [1e300]], "FP32"),
            ],
            r"row 1, column 'c': number out of float range for FP32 \(input 'c'\)",
            [(1, "c")],
        ),
    ],
    ids=[
        "too few columns",
        "too many columns",
        "one dimension",
        "three dimensions",
        "missing features",
        "unknown feature",
        "duplicate feature",
        "different lengths",
        "feature of two columns",
        "FP32 out of range",
        "FP16 out of range",
        "FP32 out of range per feature",
    ],
)
def test_row_faults_are_422_as_on_the_native_routes(
    inputs: list[dict[str, Any]], message: str, cells: list[tuple[int | None, str]]
) -> None:
    # the native routes call these "wrong number of columns", "unknown,
    # missing or duplicate feature names", "columnar inputs of different
    # lengths" and "numbers out of float range": 422, with the cells named
    with pytest.raises(InvalidRows, match=message) as caught:
        decode({"inputs": inputs})
    assert [(e.row, e.column) for e in caught.value.errors] == cells


def test_no_rows_is_422() -> None:
    with pytest.raises(InvalidRows, match="no rows"):
        decode({"inputs": [tensor("x", [0, 4], [])]})


def test_regressor_has_no_predict_proba() -> None:
    with pytest.raises(MalformedPayload, match="outputs are predict"):
        decode({"inputs": _ONE, "outputs": [{"name": "predict_proba"}]}, outputs=(v2.PREDICT,))


_BINARY_HEADER = orjson.dumps(
    {
        "inputs": [
            {
                "name": "x",
                "shape": [1, 4],
                "datatype": "FP64",
                "parameters": {"binary_data_size": 32},
            }
        ]
    }
)


@pytest.mark.parametrize(
    ("body", "length", "message"),
    [
        (b"", None, "empty"),
        (b"{not json", None, "not valid JSON"),
        (_BINARY_HEADER + bytes(32), "abc", "must be a number of bytes"),
        (_BINARY_HEADER + bytes(32), "0", "but the body is"),
        (_BINARY_HEADER + bytes(32), str(len(_BINARY_HEADER) + 33), "but the body is"),
        (_BINARY_HEADER + bytes(16), str(len(_BINARY_HEADER)), "only 16"),
        (_BINARY_HEADER + bytes(40), str(len(_BINARY_HEADER)), "add up to 32"),
        (
            _BINARY_HEADER.replace(b"32", b"24") + bytes(24),
            str(len(_BINARY_HEADER)),
            "needs 32 bytes",
        ),
        (_BINARY_HEADER + bytes(32), None, "not valid JSON"),
        (_BINARY_HEADER, None, "only 0"),
    ],
    ids=[
        "empty",
        "bad json",
        "length not a number",
        "length zero",
        "length past the end",
        "binary too short",
        "binary too long",
        "size wrong for shape",
        "no header length",
        "no binary at all",
    ],
)
def test_bad_binary_framing_is_400(body: bytes, length: str | None, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        v2.decode_request(body, length, SCHEMA, CLASSIFIER_OUTPUTS)


def test_every_decode_error_is_a_payload_error() -> None:
    # the property the HTTP layer relies on: nothing else escapes
    for body in (b"[]", b"null", b'{"inputs": null}', b'{"inputs": [{"name": 1}]}'):
        with pytest.raises(PayloadError):
            v2.decode_request(body, None, SCHEMA, CLASSIFIER_OUTPUTS)


# --- responses -------------------------------------------------------------------------

CLASSIFIED = PredictionArrays(
    predictions=np.array(["setosa", "virginica"]),
    probabilities=np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]]),
    classes=["setosa", "versicolor", "virginica"],
)
REGRESSED = PredictionArrays(predictions=np.array([151.5, 75.25]))


def _request(*outputs: tuple[str, bool], request_id: str | None = None) -> v2.InferRequest:
    return v2.InferRequest(ROWS, tuple(v2.RequestedOutput(n, b) for n, b in outputs), request_id)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_classifier_response_round_trip(binary: bool) -> None:
    body, length = v2.encode_response(
        CLASSIFIED, REF, _request(("predict", binary), ("predict_proba", binary), request_id="r1")
    )
    assert (length is not None) is binary
    document, arrays = v2_client.decode_response(body, length)
    assert document["model_name"] == "iris"
    assert document["model_version"] == "1"
    assert document["id"] == "r1"
    assert [(o["name"], o["datatype"], o["shape"]) for o in document["outputs"]] == [
        ("predict", "BYTES", [2]),
        ("predict_proba", "FP64", [2, 3]),
    ]
    assert arrays["predict"].tolist() == ["setosa", "virginica"]
    np.testing.assert_array_equal(arrays["predict_proba"], CLASSIFIED.probabilities)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_regressor_response_round_trip(binary: bool) -> None:
    body, length = v2.encode_response(REGRESSED, REF, _request(("predict", binary)))
    document, arrays = v2_client.decode_response(body, length)
    assert document["outputs"][0]["datatype"] == "FP64"
    assert "id" not in document
    np.testing.assert_array_equal(arrays["predict"], [151.5, 75.25])


def test_only_requested_outputs_mixed_json_and_binary() -> None:
    body, length = v2.encode_response(
        CLASSIFIED, REF, _request(("predict_proba", True), ("predict", False))
    )
    document, arrays = v2_client.decode_response(body, length)
    assert [o["name"] for o in document["outputs"]] == ["predict_proba", "predict"]
    np.testing.assert_array_equal(arrays["predict_proba"], CLASSIFIED.probabilities)
    assert document["outputs"][1]["data"] == ["setosa", "virginica"]
    assert length is not None
    assert len(body) - length == 6 * 8


def test_bytes_elements_are_length_prefixed_little_endian() -> None:
    body, length = v2.encode_response(CLASSIFIED, REF, _request(("predict", True)))
    assert length is not None
    assert body[length:] == struct.pack("<I", 6) + b"setosa" + struct.pack("<I", 9) + b"virginica"
    assert v2_client.from_bytes(body[length:]) == [b"setosa", b"virginica"]
    with pytest.raises(MalformedPayload):
        v2_client.from_bytes(body[length:-1])


def test_range_warnings_go_in_the_response_parameters() -> None:
    warned = PredictionArrays(
        predictions=REGRESSED.predictions,
        warnings=[RangeWarning(row=1, feature="bmi", message="99 is above the largest value")],
    )
    body, _ = v2.encode_response(warned, REF, _request(("predict", False)))
    parameters = orjson.loads(body)["parameters"]
    assert parameters == {"warnings": "row 1, bmi: 99 is above the largest value"}


# --- the shared checks the V2 codec relies on ----------------------------------------------


def test_check_array_words_errors_like_the_json_decoder() -> None:
    body = b'{"instances": [[1, 2, NaN, 4]]}'.replace(b"NaN", b"1e400")
    with pytest.raises(InvalidRows) as from_json:
        decode_request(body, request_format("application/json"), SCHEMA)
    with pytest.raises(InvalidRows) as from_array:
        check_array(np.array([[1.0, 2.0, np.inf, 4.0]]), SCHEMA)
    assert from_array.value.detail == from_json.value.detail


def test_check_array_lists_a_bounded_number_of_cells_and_counts_all() -> None:
    X = np.full((100, 4), np.nan)
    with pytest.raises(InvalidRows) as caught:
        check_array(X, SCHEMA)
    assert len(caught.value.errors) == 50
    assert caught.value.detail.startswith("400 errors")
    assert check_array(X, MISSING_OK) is X


def test_decode_json_rows_is_the_json_decoders_cell_check() -> None:
    np.testing.assert_array_equal(decode_json_rows([[1, 2.5, 3, 4]], SCHEMA), [[1, 2.5, 3, 4]])
    with pytest.raises(InvalidRows, match="expected 4 values, got 3"):
        decode_json_rows([[1, 2, 3]], SCHEMA)
    with pytest.raises(PayloadTooLarge):
        decode_json_rows([[1, 2, 3, 4]] * 101, SCHEMA)
