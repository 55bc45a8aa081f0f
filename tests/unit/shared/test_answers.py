from __future__ import annotations

import csv
import io

import orjson

from shared.answers import ModelRef, Prediction, RangeWarning, decode_json_answer, encode_answer
from shared.media import CSV_RESPONSE, JSON_RESPONSE, Format, ResponseFormat

REF = ModelRef(name="iris", version="3")
CLASSIFIED = Prediction(
    predictions=["setosa", "virginica"],
    probabilities=[[0.9, 0.1, 0.0], [0.05, 0.15, 0.8]],
    classes=["setosa", "versicolor", "virginica"],
)
REGRESSED = Prediction(predictions=[151.5, 75.25])


def test_classifier_json_round_trips_through_the_client_schema() -> None:
    body = decode_json_answer(encode_answer(CLASSIFIED, REF, JSON_RESPONSE))
    assert body.model == REF
    assert body.predictions == ["setosa", "virginica"]
    assert body.probabilities == [[0.9, 0.1, 0.0], [0.05, 0.15, 0.8]]
    assert body.classes == ["setosa", "versicolor", "virginica"]
    assert body.warnings is None


def test_regressor_json_has_no_probabilities_or_classes() -> None:
    raw = orjson.loads(encode_answer(REGRESSED, REF, JSON_RESPONSE))
    assert raw == {"model": {"name": "iris", "version": "3"}, "predictions": [151.5, 75.25]}


def test_warnings_are_added_only_when_there_are_some() -> None:
    warned = Prediction(
        REGRESSED.predictions, warnings=[RangeWarning(row=1, feature="bmi", message="too big")]
    )
    raw = orjson.loads(encode_answer(warned, REF, JSON_RESPONSE))
    assert raw["warnings"] == [{"row": 1, "feature": "bmi", "message": "too big"}]


def test_csv_has_one_line_per_row_prediction_then_probabilities() -> None:
    lines = list(csv.reader(io.StringIO(encode_answer(CLASSIFIED, REF, CSV_RESPONSE).decode())))
    assert lines == [["setosa", "0.9", "0.1", "0.0"], ["virginica", "0.05", "0.15", "0.8"]]


def test_csv_header_names_the_columns() -> None:
    body = encode_answer(CLASSIFIED, REF, ResponseFormat(Format.CSV, header=True)).decode()
    assert (
        body.splitlines()[0]
        == "prediction,probability_setosa,probability_versicolor,probability_virginica"
    )
    regression = encode_answer(REGRESSED, REF, ResponseFormat(Format.CSV, header=True)).decode()
    assert regression.splitlines() == ["prediction", "151.5", "75.25"]
