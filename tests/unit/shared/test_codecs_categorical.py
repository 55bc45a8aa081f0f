"""Categorical features in the request codecs: a category is a string (a
JSON string, a CSV cell's text), checked against the categories seen in
training unless the feature's pipeline handles unknown ones."""

from __future__ import annotations

import math

import pytest

from shared.codecs import Categorical, InputSchema, decode_request
from shared.codecs.csv import encode_csv_request
from shared.codecs.json import decode_json_rows, encode_json_request
from shared.media import request_format
from shared.problems import InvalidRows

ISLAND = Categorical(("Biscoe", "Dream", "Torgersen"))
SEX = Categorical(("female", "male"))
FEATURES = ("island", "bill_length_mm", "sex")
SCHEMA = InputSchema(FEATURES, max_rows=5, categorical={"island": ISLAND, "sex": SEX})
MISSING_OK = InputSchema(
    FEATURES, allow_missing=True, max_rows=5, categorical={"island": ISLAND, "sex": SEX}
)
OPEN = InputSchema(
    FEATURES,
    max_rows=5,
    categorical={"island": Categorical(ISLAND.categories, handles_unknown=True), "sex": SEX},
)
JSON = "application/json"
CSV = "text/csv"
ROWS = [["Biscoe", 39.1, "male"], ["Dream", 46.5, "female"]]


def run(body: str, content_type: str = JSON, schema: InputSchema = SCHEMA) -> list[list[object]]:
    return decode_request(body.encode(), request_format(content_type), schema)


def refused(body: str, content_type: str = JSON, schema: InputSchema = SCHEMA) -> InvalidRows:
    with pytest.raises(InvalidRows) as caught:
        run(body, content_type, schema)
    return caught.value


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"instances": [["Biscoe", 39.1, "male"], ["Dream", 46.5, "female"]]}', JSON),
        (
            '{"instances": [{"island": "Biscoe", "bill_length_mm": 39.1, "sex": "male"},'
            ' {"sex": "female", "island": "Dream", "bill_length_mm": 46.5}]}',
            JSON,
        ),
        (
            '{"inputs": {"sex": ["male", "female"], "island": ["Biscoe", "Dream"], '
            '"bill_length_mm": [39.1, 46.5]}}',
            JSON,
        ),
        (
            '{"dataframe_split": {"columns": ["sex", "island", "bill_length_mm"],'
            ' "data": [["male", "Biscoe", 39.1], ["female", "Dream", 46.5]]}}',
            JSON,
        ),
        (
            '{"dataframe_records": [{"island": "Biscoe", "bill_length_mm": 39.1, "sex": "male"},'
            ' {"island": "Dream", "bill_length_mm": 46.5, "sex": "female"}]}',
            JSON,
        ),
        ("Biscoe,39.1,male\nDream,46.5,female\n", CSV),
        ("island,bill_length_mm,sex\nBiscoe,39.1,male\nDream,46.5,female\n", CSV),
        ("sex,island,bill_length_mm\n male , Biscoe ,39.1\nfemale,Dream,46.5\n", CSV),
        ('"island","bill_length_mm","sex"\n"Biscoe","39.1","male"\nDream,46.5,female\n', CSV),
    ],
)
def test_categorical_cells_decode_to_strings_in_feature_order(body: str, content_type: str) -> None:
    assert run(body, content_type) == ROWS


def test_an_unseen_category_names_row_column_and_the_categories() -> None:
    error = refused('{"instances": [["Biscoe", 39.1, "male"], ["Atlantis", 40, "male"]]}')
    assert error.status == 422
    assert error.detail == (
        "row 1, column 'island': unknown category 'Atlantis'; "
        "expected one of: Biscoe, Dream, Torgersen"
    )
    assert (error.errors[0].row, error.errors[0].column) == (1, "island")


def test_an_unseen_category_in_csv_is_refused_alike() -> None:
    error = refused("island,bill_length_mm,sex\nBiscoe,39.1,Male\n", CSV)
    assert (
        error.detail
        == "row 0, column 'sex': unknown category 'Male'; expected one of: female, male"
    )


def test_a_feature_that_handles_unknown_categories_passes_them_on() -> None:
    body = '{"instances": [["Atlantis", 39.1, "male"]]}'
    assert run(body, schema=OPEN) == [["Atlantis", 39.1, "male"]]
    assert run("Atlantis,39.1,male", CSV, OPEN) == [["Atlantis", 39.1, "male"]]
    # only the feature whose pipeline handles them
    assert (
        refused('{"instances": [["Atlantis", 39.1, "other"]]}', schema=OPEN).errors[0].column
        == "sex"
    )


def test_many_categories_are_listed_up_to_a_limit() -> None:
    many = Categorical(tuple(f"c{i}" for i in range(25)))
    schema = InputSchema(("x",), categorical={"x": many})
    error = refused('{"instances": [["nope"]]}', schema=schema)
    assert error.detail.endswith("c18, c19 and 5 more")


@pytest.mark.parametrize(
    ("body", "content_type", "column", "message"),
    [
        (
            '{"instances": [[1, 39.1, "male"]]}',
            JSON,
            "island",
            "expected a category (a string), got a number: 1; expected one of: Biscoe",
        ),
        ('{"instances": [[true, 39.1, "male"]]}', JSON, "island", "got a boolean: true"),
        ('{"instances": [[["Biscoe"], 39.1, "male"]]}', JSON, None, "nested too deep"),
        ('{"instances": [[{"a": 1}, 39.1, "male"]]}', JSON, None, "nested too deep"),
        (
            '{"instances": [["Biscoe", "39.1", "male"]]}',
            JSON,
            "bill_length_mm",
            'not a number: "39.1"',
        ),
        (
            '{"instances": [["Biscoe", 39.1, null]]}',
            JSON,
            "sex",
            "null; this model needs every value",
        ),
        ('{"instances": [["", 39.1, "male"]]}', JSON, "island", "unknown category ''"),
        ("Biscoe,39.1,", CSV, "sex", "empty cell"),
        ("Biscoe,male,39.1", CSV, "bill_length_mm", "not a number: 'male'"),
        ("1,39.1,male", CSV, "island", "unknown category '1'"),
    ],
)
def test_wrong_cells(body: str, content_type: str, column: str | None, message: str) -> None:
    error = refused(body, content_type)
    assert message in error.detail
    assert error.errors[0].column == column


def test_a_number_that_is_a_category_says_to_send_it_as_a_string() -> None:
    schema = InputSchema(("grade",), categorical={"grade": Categorical(("1", "2", "3"))})
    error = refused('{"instances": [[2]]}', schema=schema)
    assert 'send it as a string: "2"' in error.detail
    assert run('{"instances": [["2"]]}', schema=schema) == [["2"]]
    assert run("2", CSV, schema) == [["2"]]  # in CSV every cell is text


def test_missing_categories_are_nan_where_the_model_allows_it() -> None:
    rows = run('{"instances": [[null, 39.1, "male"]]}', schema=MISSING_OK)
    assert math.isnan(rows[0][0])
    rows = run("island,bill_length_mm,sex\nDream,,\n", CSV, MISSING_OK)
    assert rows[0][0] == "Dream"
    assert math.isnan(rows[0][1])
    assert math.isnan(rows[0][2])


def test_decode_json_rows_checks_categories_too() -> None:
    assert decode_json_rows([["Dream", 1.0, "female"]], SCHEMA) == [["Dream", 1.0, "female"]]
    with pytest.raises(InvalidRows, match="unknown category 'x'"):
        decode_json_rows([["x", 1.0, "female"]], SCHEMA)


@pytest.mark.parametrize("header", [True, False])
def test_encoded_rows_decode_to_the_same_rows(header: bool) -> None:
    rows: list[list[float | str | None]] = [
        ["Biscoe", 39.1, "male"],
        ["Dream", None, None],
        ["Torgersen", 1e-3, "female"],
    ]
    csv_body = encode_csv_request(rows, FEATURES if header else None)
    content_type = "text/csv; header=present" if header else "text/csv; header=absent"
    for decoded in (
        decode_request(csv_body, request_format(content_type), MISSING_OK),
        decode_request(encode_json_request(rows), request_format(JSON), MISSING_OK),
    ):
        assert decoded[0] == rows[0]
        assert decoded[2] == rows[2]
        assert decoded[1][0] == "Dream"
        assert all(math.isnan(v) for v in decoded[1][1:])


def test_categories_with_commas_and_quotes_travel_quoted() -> None:
    schema = InputSchema(("name",), categorical={"name": Categorical(('a, "b"', "c"))})
    body = encode_csv_request([['a, "b"'], ["c"]])
    assert body == b'"a, ""b"""\r\nc\r\n'
    assert decode_request(body, request_format(CSV), schema) == [['a, "b"'], ["c"]]


def test_from_card_knows_each_feature_kind() -> None:
    from shared.card import ModelCard

    card = ModelCard.model_validate(
        {
            "name": "penguins",
            "version": "1",
            "task": "classification",
            "features": [
                {
                    "name": "island",
                    "type": "categorical",
                    "categories": ["Biscoe", "Dream"],
                    "handles_unknown": True,
                    "example": "Dream",
                },
                {"name": "bill_length_mm", "min": 30, "max": 60, "example": 40.0},
            ],
            "allow_missing": True,
            "target": {"name": "species", "classes": ["Adelie", "Gentoo"]},
            "metrics": {},
            "training": {
                "dataset": "d",
                "rows": 1,
                "test_rows": 1,
                "estimator": "e",
                "libraries": {},
                "created_at": "2024-01-01T00:00:00Z",
            },
            "sha256": "0" * 64,
        }
    )
    schema = InputSchema.from_card(card, max_rows=7)
    assert schema.features == ("island", "bill_length_mm")
    assert (schema.allow_missing, schema.max_rows, schema.is_numeric) == (True, 7, False)
    assert schema.categorical["island"] == Categorical(("Biscoe", "Dream"), handles_unknown=True)
    assert "bill_length_mm" not in schema.categorical
    assert InputSchema(("a",)).is_numeric
