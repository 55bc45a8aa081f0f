from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from shared.codecs import decode_request
from shared.codecs.csv import encode_csv_request
from shared.codecs.json import encode_json_request
from shared.codecs.rows import InputSchema
from shared.media import request_format
from shared.problems import InvalidRows, MalformedPayload, PayloadError, PayloadTooLarge

SCHEMA = InputSchema(("a", "b", "c"), allow_missing=False, max_rows=5)
LENIENT = InputSchema(("a", "b", "c"), allow_missing=True, max_rows=5)
ROWS = [[1.0, 2.0, 3.0], [4.5, -5.0, 6e-3]]
JSON = "application/json"
CSV = "text/csv"


def run(body: bytes | str, content_type: str = JSON, schema: InputSchema = SCHEMA) -> np.ndarray:
    raw = body.encode() if isinstance(body, str) else body
    return np.array(decode_request(raw, request_format(content_type), schema))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"instances": [[1, 2, 3], [4.5, -5, 0.006]]}', JSON),
        ('{"inputs": [[1, 2, 3], [4.5, -5, 0.006]]}', JSON),
        ("[[1, 2, 3], [4.5, -5, 0.006]]", JSON),
        ('{"instances": [{"a": 1, "b": 2, "c": 3}, {"c": 0.006, "b": -5, "a": 4.5}]}', JSON),
        ('{"inputs": [{"a": 1, "b": 2, "c": 3}, {"c": 0.006, "b": -5, "a": 4.5}]}', JSON),
        ('{"inputs": {"b": [2, -5], "a": [1, 4.5], "c": [3, 0.006]}}', JSON),
        (
            '{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [4.5, -5, 0.006]]}}',
            JSON,
        ),
        (
            '{"dataframe_split": {"columns": ["c", "a", "b"], "data": [[3, 1, 2], [0.006, 4.5, -5]]}}',
            JSON,
        ),
        ('{"dataframe_split": {"index": [0, 1], "data": [[1, 2, 3], [4.5, -5, 0.006]]}}', JSON),
        (
            '{"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 4.5, "b": -5, "c": 0.006}]}',
            JSON,
        ),
        ("1,2,3\n4.5,-5,0.006\n", CSV),
        ("1,2,3\r\n4.5,-5,6e-3", CSV),
        (" 1 , 2 ,3\n4.5,-5,0.006\n\n", CSV),
        ("a,b,c\n1,2,3\n4.5,-5,0.006\n", CSV),
        ("c,a,b\n3,1,2\n0.006,4.5,-5\n", CSV),
        ("c,a,b\n3,1,2\n0.006,4.5,-5\n", "text/csv; header=present"),
        ('"a","b","c"\n"1","2","3"\n4.5,-5,0.006\n', CSV),
        ("\ufeffa,b,c\n1,2,3\n4.5,-5,0.006\n", CSV),
    ],
)
def test_every_accepted_shape_decodes_to_the_same_rows(body: str, content_type: str) -> None:
    np.testing.assert_array_equal(run(body, content_type), np.array(ROWS))


@pytest.mark.parametrize(
    "body",
    [
        '{"instances": [[1, 2, 3]]}',
        '{"instances": [1, 2, 3]}',
        '{"instances": {"a": 1, "b": 2, "c": 3}}',
        "[[1,2,3]]",
        "1,2,3",
        "1,2,3\n",
    ],
)
def test_one_row_is_one_row(body: str) -> None:
    content_type = CSV if not body.startswith(("{", "[")) else JSON
    assert run(body, content_type).shape == (1, 3)


def test_header_absent_reads_a_first_row_of_names_as_data_and_says_so() -> None:
    with pytest.raises(InvalidRows) as caught:
        run("a,b,c\n1,2,3", "text/csv; header=absent")
    assert caught.value.errors[0].row == 0
    assert "not a number: 'a'" in caught.value.errors[0].message


def test_missing_values_become_nan_only_when_the_model_takes_them() -> None:
    assert math.isnan(
        run('{"instances": [[1, NaN, 3]]}', schema=LENIENT)[0, 1]
    )  # as json.dumps writes it
    decoded = run('{"instances": [[1, null, 3]]}', schema=LENIENT)
    assert math.isnan(decoded[0, 1])
    decoded = run("1,,3\n4,nan,6", CSV, schema=LENIENT)
    assert math.isnan(decoded[0, 1])
    assert math.isnan(decoded[1, 1])


def cell(exc: PayloadError) -> tuple[int | None, str | int | None, str]:
    first = exc.errors[0]
    return first.row, first.column, first.message


# (body, content type, error type, row, column, part of the message)
BAD = [
    ("", JSON, MalformedPayload, None, None, "empty"),
    ("   \n", CSV, MalformedPayload, None, None, "empty"),
    ("{", JSON, MalformedPayload, None, None, "not valid JSON"),
    ("[1, 2,", JSON, MalformedPayload, None, None, "not valid JSON"),
    ('{"instances": [[1, 2, NaN]]}', JSON, InvalidRows, 0, "c", "NaN"),
    ('{"instances": [[1, Infinity, 3]]}', JSON, InvalidRows, 0, "b", "out of float range"),
    (
        '{"instances": [[1, 2, ' + "9" * 5000 + "]]}",
        JSON,
        InvalidRows,
        0,
        "c",
        "out of float range",
    ),
    ("[" * 100_000 + "]" * 100_000, JSON, InvalidRows, None, None, "too deep"),
    ('"text"', JSON, MalformedPayload, None, None, "got a string"),
    ("{}", JSON, MalformedPayload, None, None, "an empty object"),
    ('{"rows": [[1, 2, 3]]}', JSON, MalformedPayload, None, None, "exactly one of"),
    (
        '{"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]}',
        JSON,
        MalformedPayload,
        None,
        None,
        "more than one",
    ),
    ('{"instances": 3}', JSON, MalformedPayload, None, None, "list of rows"),
    ('{"dataframe_split": [[1, 2, 3]]}', JSON, MalformedPayload, None, None, "dataframe_split"),
    (
        '{"dataframe_split": {"columns": [1, 2], "data": []}}',
        JSON,
        MalformedPayload,
        None,
        None,
        "columns",
    ),
    ('{"dataframe_records": {"a": 1}}', JSON, MalformedPayload, None, None, "dataframe_records"),
    ('1,2,"3\n', CSV, MalformedPayload, None, None, "not valid CSV"),
    ('{"instances": []}', JSON, InvalidRows, None, None, "no rows"),
    ("[]", JSON, InvalidRows, None, None, "no rows"),
    ('{"instances": [[1, 2]]}', JSON, InvalidRows, 0, None, "expected 3 values, got 2"),
    (
        '{"instances": [[1, 2, 3], [1, 2, 3, 4]]}',
        JSON,
        InvalidRows,
        1,
        None,
        "expected 3 values, got 4",
    ),
    ('{"instances": [[[1, 2, 3]]]}', JSON, InvalidRows, 0, None, "nested too deep"),
    ('{"instances": [[1, [2], 3]]}', JSON, InvalidRows, 0, None, "nested too deep"),
    ('{"instances": [[1, "2", 3]]}', JSON, InvalidRows, 0, "b", 'not a number: "2"'),
    ('{"instances": [[1, 2, true]]}', JSON, InvalidRows, 0, "c", "booleans are not numbers"),
    ('{"instances": [[1, 2, 3], [null, 2, 3]]}', JSON, InvalidRows, 1, "a", "null"),
    ('{"instances": [[1, 2, 1e400]]}', JSON, InvalidRows, 0, "c", "out of float range"),
    ('{"instances": [[1, 2, -1e999]]}', JSON, InvalidRows, 0, "c", "out of float range"),
    ('{"instances": [[1, 2, ' + "9" * 400 + "]]}", JSON, InvalidRows, 0, "c", "out of float range"),
    ('{"instances": [{"a": 1, "b": 2}]}', JSON, InvalidRows, 0, "c", "missing feature 'c'"),
    (
        '{"instances": [{"a": 1, "b": 2, "c": 3, "d": 4}]}',
        JSON,
        InvalidRows,
        0,
        "d",
        "unknown feature 'd'",
    ),
    (
        '{"instances": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "a": 2, "b": 2, "c": 3}]}',
        JSON,
        InvalidRows,
        1,
        "a",
        "given twice",
    ),
    (
        '{"instances": [{"a": 1, "b": 2, "c": 3}, [1, 2, 3]]}',
        JSON,
        InvalidRows,
        1,
        None,
        "expected an object",
    ),
    (
        '{"instances": [[1, 2, 3], {"a": 1, "b": 2, "c": 3}]}',
        JSON,
        InvalidRows,
        1,
        None,
        "expected a list",
    ),
    (
        '{"dataframe_split": {"columns": ["a", "b", "b"], "data": [[1, 2, 3]]}}',
        JSON,
        InvalidRows,
        None,
        "b",
        "duplicate",
    ),
    (
        '{"dataframe_split": {"columns": ["a", "b", "x"], "data": [[1, 2, 3]]}}',
        JSON,
        InvalidRows,
        None,
        "x",
        "unknown feature",
    ),
    (
        '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}',
        JSON,
        InvalidRows,
        None,
        "c",
        "missing feature",
    ),
    (
        '{"inputs": {"a": [1, 2], "b": [1], "c": [1, 2]}}',
        JSON,
        InvalidRows,
        None,
        None,
        "different lengths",
    ),
    ("1,2,3\n4,5", CSV, InvalidRows, 1, None, "expected 3 columns, got 2"),
    ("1,2,3\n4,5,6,7", CSV, InvalidRows, 1, None, "expected 3 columns, got 4"),
    ("1,2,x", CSV, InvalidRows, 0, "c", "not a number: 'x'"),
    ("1,2,1_000", CSV, InvalidRows, 0, "c", "not a number"),
    ("1,,3", CSV, InvalidRows, 0, "b", "empty cell"),
    ("1,nan,3", CSV, InvalidRows, 0, "b", "NaN"),
    ("1,2,inf", CSV, InvalidRows, 0, "c", "out of float range"),
    ("1,2,1e999", CSV, InvalidRows, 0, "c", "out of float range"),
    ("a,b,c\n1,2,true", CSV, InvalidRows, 0, "c", "not a number: 'true'"),
    ("a,b,c", CSV, InvalidRows, None, None, "no data rows"),
    ("a,b,d\n1,2,3", "text/csv; header=present", InvalidRows, None, "d", "unknown feature"),
    ("a,b,b\n1,2,3", "text/csv; header=present", InvalidRows, None, "b", "duplicate"),
]


@pytest.mark.parametrize(("body", "content_type", "error", "row", "column", "says"), BAD)
def test_bad_payloads_name_what_is_wrong(
    body: str,
    content_type: str,
    error: type[PayloadError],
    row: int | None,
    column: str | int | None,
    says: str,
) -> None:
    with pytest.raises(error) as caught:
        run(body, content_type)
    where = cell(caught.value) if caught.value.errors else (None, None, caught.value.detail)
    assert where[:2] == (row, column)
    assert says in where[2] or says in caught.value.detail


def test_infinity_is_refused_even_when_missing_values_are_allowed() -> None:
    with pytest.raises(InvalidRows, match="out of float range"):
        run("1,2,inf", CSV, schema=LENIENT)


def test_body_not_in_its_charset_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="not valid utf-8"):
        decode_request(b"1,2,\xff", request_format(CSV), SCHEMA)


def test_other_charsets_are_decoded() -> None:
    body = "a,b,c\n1,2,3".encode("utf-16")
    assert run(body, "text/csv; charset=utf-16").tolist() == [[1.0, 2.0, 3.0]]


@pytest.mark.parametrize(
    ("body", "content_type"), [("[" + ",".join(["[1,2,3]"] * 6) + "]", JSON), ("1,2,3\n" * 6, CSV)]
)
def test_too_many_rows_is_413(body: str, content_type: str) -> None:
    with pytest.raises(PayloadTooLarge, match="6 rows is more than the limit of 5"):
        run(body, content_type)


def test_many_errors_are_counted_and_the_first_listed() -> None:
    schema = InputSchema(("a",), max_rows=1000)
    with pytest.raises(InvalidRows) as caught:
        run("x\n" * 60, CSV, schema=schema)
    assert len(caught.value.errors) == 50
    assert caught.value.detail.startswith("60 errors; first: row 0, column 'a': not a number")


@pytest.mark.parametrize(
    "rows", [ROWS, [[0.1, 1e-300, 1.7976931348623157e308]], [[-0.0, 12345678.9, 1 / 3]]]
)
def test_json_rows_round_trip(rows: list[list[float]]) -> None:
    body = encode_json_request(rows)
    assert orjson.loads(body) == {"instances": rows}
    np.testing.assert_array_equal(run(body), np.array(rows))


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize(
    "rows", [ROWS, [[0.1, 1e-300, 1.7976931348623157e308]], [[-0.0, 12345678.9, 1 / 3]]]
)
def test_csv_rows_round_trip(rows: list[list[float]], header: bool) -> None:
    body = encode_csv_request(rows, SCHEMA.features if header else None)
    content_type = "text/csv; header=present" if header else CSV
    np.testing.assert_array_equal(run(body, content_type), np.array(rows))


def test_missing_values_round_trip_as_null_and_empty_cells() -> None:
    rows = [[1.0, math.nan, 3.0]]
    assert orjson.loads(encode_json_request(rows)) == {"instances": [[1.0, None, 3.0]]}
    assert encode_csv_request(rows) == b"1.0,,3.0\r\n"
    assert math.isnan(run(encode_csv_request(rows), CSV, schema=LENIENT)[0, 1])


@pytest.mark.parametrize(
    ("body", "content_type"), [("x\n" * 5000, CSV), ('[["x"]' + ', ["x"]' * 4999 + "]", JSON)]
)
def test_a_body_of_garbage_is_refused_after_the_first_thousand_errors(
    body: str, content_type: str
) -> None:
    schema = InputSchema(("a",), max_rows=10_000)
    with pytest.raises(InvalidRows) as caught:
        run(body, content_type, schema=schema)
    assert caught.value.detail.startswith(
        "1000 errors or more (checking stopped there); first: row 0"
    )
    assert len(caught.value.errors) == 50
