"""model_service.inputs: request rows as a float array. Its numpy fast
paths must return exactly what the shared decoder returns (or raise what
it raises) for every body; the shared decoder is the definition."""

from __future__ import annotations

import random

import numpy as np
import pytest

from model_service import inputs
from shared import codecs
from shared.codecs.rows import InputSchema
from shared.media import request_format
from shared.problems import PayloadError

SCHEMA = InputSchema(("a", "b", "c"), allow_missing=False, max_rows=5)
LENIENT = InputSchema(("a", "b", "c"), allow_missing=True, max_rows=5)
ONE = InputSchema(("a",), allow_missing=True, max_rows=5)
JSON = "application/json"
CSV = "text/csv"

BODIES: list[tuple[str | bytes, str]] = [
    # JSON the fast path takes, and its near misses
    ('{"instances": [[1, 2, 3], [4.5, -5, 0.006]]}', JSON),
    ('{"inputs": [[1, 2, 3]]}', JSON),
    ("[[1, 2, 3], [4, 5, 6]]", JSON),
    ('{"instances": [1, 2, 3]}', JSON),
    ('{"instances": [[1, 2, 3]], "other": 1}', JSON),
    ('{"dataframe_split": {"columns": ["c", "a", "b"], "data": [[3, 1, 2]]}}', JSON),
    ('{"inputs": {"b": [2, -5], "a": [1, 4.5], "c": [3, 0.006]}}', JSON),
    ('{"instances": [{"a": 1, "b": 2, "c": 3}]}', JSON),
    ('{"instances": [[1, 2, true]]}', JSON),
    ('{"instances": [[true, false, true]]}', JSON),
    ('{"instances": [[1, 2, "true"]]}', JSON),
    ('{"instances": [[1, 2, null]]}', JSON),
    ('{"instances": [[1, 2, NaN]]}', JSON),
    ('{"instances": [[1, 2, Infinity]]}', JSON),
    ('{"instances": [[1, 2, 1e400]]}', JSON),
    ('{"instances": [[1, 2, 18446744073709551616]]}', JSON),
    ('{"instances": [[1, 2, 9223372036854775808]]}', JSON),
    ('{"instances": [[1, 2, 9007199254740993]]}', JSON),
    ('{"instances": [[1, 2, ' + "9" * 400 + "]]}", JSON),
    ('{"instances": [[1, 2], [3, 4]]}', JSON),
    ('{"instances": [[1, 2, 3], [4, 5]]}', JSON),
    ('{"instances": [[[1, 2, 3]]]}', JSON),
    ("[" + ",".join(["[1,2,3]"] * 6) + "]", JSON),
    ("[]", JSON),
    ("", JSON),
    ("{", JSON),
    ('{"instances": [[1, 2, true]]}'.encode("utf-16"), "application/json; charset=utf-16"),
    ('{"instances": [[1, 2, 3]]}'.encode("utf-16"), "application/json; charset=utf-16"),
    # CSV the fast path takes, and its near misses
    ("1,2,3\n4.5,-5,0.006\n", CSV),
    ("1,2,3\r\n4.5,-5,6e-3", CSV),
    (" 1 , 2 ,3\n\n4.5,-5,0.006\n\n", CSV),
    ("\n\r\n1,2,3", CSV),
    ("a,b,c\n1,2,3", CSV),
    ("c,a,b\n3,1,2\n0.006,4.5,-5\n", CSV),
    ("c,a,b\r\n3,1,2", "text/csv; header=present"),
    ("a,b,c\n1,2,3", "text/csv; header=absent"),
    ("1,2,3", "text/csv; header=present"),
    ("a,b,c", CSV),
    ("a,b,b\n1,2,3", CSV),
    ('"a","b","c"\n1,2,3', CSV),
    ("1,2,+3\n1,2,-0", CSV),
    ("1,2,1_000", CSV),
    ("1,2,٣", CSV),
    ("1,2,0x10", CSV),
    ("1,2,3,", CSV),
    ("1,,3", CSV),
    ("1,nan,3", CSV),
    ("1,2,inf", CSV),
    ("1,2,1e999", CSV),
    ("1,2,1e-400", CSV),
    ("1,2,3\n   \n4,5,6", CSV),
    ("1,2,3\x0c\n4,5,6", CSV),
    ("1,2,3\x0b4,5,6", CSV),
    ("1,2,3\r4,5,6", CSV),
    ("1,2,3 # note", CSV),
    ("1,2,3\n" * 6, CSV),
    ("   \n", CSV),
    (b"1,2,\xff", CSV),
    ("\ufeffa,b,c\n1,2,3", CSV),
    ("a,b,c\n1,2,3".encode("utf-16"), "text/csv; charset=utf-16"),
]


def outcome(decode: object, body: bytes, content_type: str, schema: InputSchema) -> object:
    """The rows as a list (NaN as a string, to compare), or the error."""
    fmt = request_format(content_type)
    try:
        X = decode(body, fmt, schema)  # type: ignore[operator]
    except PayloadError as exc:
        return type(exc), exc.detail, exc.errors
    array = np.asarray(X, dtype=np.float64)
    return array.shape, [["nan" if v != v else v for v in row] for row in array.tolist()]


def shared_array(body: bytes, fmt: object, schema: InputSchema) -> np.ndarray:
    rows = codecs.decode_request(body, fmt, schema)  # type: ignore[arg-type]
    return np.array(rows, dtype=np.float64).reshape(len(rows), schema.width)


@pytest.fixture(params=["numpy", "pandas"])
def csv_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each CSV check runs on both of `_read_floats`' readers: numpy's for
    short bodies, pandas' for long ones (inputs.PANDAS_FROM_LINES)."""
    monkeypatch.setattr(inputs, "PANDAS_FROM_LINES", 10**9 if request.param == "numpy" else 0)
    return str(request.param)


def assert_same(body: str | bytes, content_type: str, schema: InputSchema) -> None:
    raw = body.encode() if isinstance(body, str) else body
    expected = outcome(shared_array, raw, content_type, schema)
    assert outcome(inputs.decode_array, raw, content_type, schema) == expected, raw[:80]


@pytest.mark.parametrize("schema", [SCHEMA, LENIENT], ids=["strict", "missing-ok"])
@pytest.mark.parametrize(("body", "content_type"), BODIES)
def test_fast_paths_agree_with_the_shared_decoder(
    body: str | bytes, content_type: str, schema: InputSchema, csv_reader: str
) -> None:
    assert_same(body, content_type, schema)


@pytest.mark.parametrize("body", ["1\n \n2", "1\n\n2", "1,\n2", "[1, 2]", "[[1], [2]]"])
def test_one_feature_bodies_agree(body: str, csv_reader: str) -> None:
    assert_same(body, JSON if body.startswith("[") else CSV, ONE)


def test_random_csv_bodies_agree(csv_reader: str) -> None:
    """Bodies drawn from the characters that matter to either parser."""
    rng = random.Random(20240601)
    alphabet = "0123456789" * 3 + ",,,,\n\n\r .-+eE_abcn\t\"\x0c\x0bdDiNA/#';٣"
    for _ in range(3000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        if body.strip():
            for schema in (SCHEMA, LENIENT):
                assert_same(body, CSV, schema)


def test_csv_numbers_are_read_as_float_reads_them(
    monkeypatch: pytest.MonkeyPatch, csv_reader: str
) -> None:
    """The fast CSV path rounds every number as Python does: shortest
    reprs, all 17 digits, long digit strings, subnormals, near-overflow."""
    monkeypatch.setattr(inputs, "decode_csv_request", None)  # the fast path or nothing
    rng = random.Random(20240603)
    numbers = []
    for _ in range(3000):
        value = rng.choice(
            (
                repr(rng.uniform(-1e3, 1e3)),
                f"{rng.uniform(-1, 1):.17e}",
                f"{rng.random():.40f}",
                "".join(rng.choice("0123456789") for _ in range(rng.randint(18, 60))),
                f"{rng.random():.17g}e-{rng.randint(300, 323)}",
                f"{rng.random():.17g}e{rng.randint(300, 308)}",
            )
        )
        numbers.append(value)
    rows = [",".join(numbers[i : i + 3]) for i in range(0, len(numbers), 3)]
    schema = InputSchema(("a", "b", "c"), allow_missing=False, max_rows=len(rows))
    X = inputs.decode_array("\n".join(rows).encode(), request_format(CSV), schema)
    expected = [[float(cell) for cell in row.split(",")] for row in rows]
    assert X.tolist() == expected


def test_random_json_bodies_agree() -> None:
    rng = random.Random(20240602)
    cells = ["1", "2.5", "-0", "1e3", "1e400", "null", "true", '"x"', "NaN", "[1]", "{}"]
    for _ in range(2000):
        rows = [
            "[" + ",".join(rng.choice(cells) for _ in range(rng.choice((2, 3, 3, 3, 4)))) + "]"
            for _ in range(rng.randint(1, 3))
        ]
        body = rng.choice(('{"instances": [%s]}', "[%s]", '{"inputs": [%s]}')) % ",".join(rows)
        for schema in (SCHEMA, LENIENT):
            assert_same(body, JSON, schema)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("1,2,3\n4,5,6", CSV),
        ("1,2,3\r\n4,5,6\r\n", CSV),
        ("c,a,b\n3,1,2\n", CSV),
        ('{"instances": [[1, 2, 3]]}', JSON),
        ('{"instances": [1, 2, 3]}', JSON),
        ('{"dataframe_split": {"columns": ["c", "a", "b"], "data": [[3, 1, 2]]}}', JSON),
    ],
)
def test_plain_bodies_take_the_fast_path(
    body: str, content_type: str, monkeypatch: pytest.MonkeyPatch, csv_reader: str
) -> None:
    def unexpected(*args: object, **kwargs: object) -> None:
        raise AssertionError("the shared cell-by-cell path was taken")

    monkeypatch.setattr(inputs, "decode_csv_request", unexpected)
    monkeypatch.setattr("shared.codecs.json.JsonTable.checked_rows", unexpected)
    X = inputs.decode_array(body.encode(), request_format(content_type), SCHEMA)
    np.testing.assert_array_equal(X[0], [1.0, 2.0, 3.0])
    assert X.dtype == np.float64
    assert X.flags.c_contiguous
