"""/invocations through the app in-process: every accepted shape, the
answer formats, the headers, and a table of bad requests."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from model_service.package import ModelPackage
from shared.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import NUMERIC_MODELS
from tests.unit.model_service.conftest import ClientFactory

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}


def rows_for(pkg: ModelPackage) -> list[list[float]]:
    """Three rows inside the training range: the example, the lows and the highs blended."""
    card = pkg.card
    lo = [f.min for f in card.features]
    hi = [f.max for f in card.features]
    return [
        card.example_row(),
        [(a * 3 + b) / 4 for a, b in zip(lo, hi, strict=True)],
        [(a + b * 3) / 4 for a, b in zip(lo, hi, strict=True)],
    ]


def bodies(names: list[str], rows: list[list[float]]) -> list[tuple[dict[str, str], bytes]]:
    """The same rows in every request shape of docs/native-api.md."""
    records = [dict(zip(names, row, strict=True)) for row in rows]
    shuffled = names[::-1]
    flipped = [row[::-1] for row in rows]
    text = "\n".join(",".join(repr(v) for v in row) for row in rows)
    flipped_text = "\n".join(",".join(repr(v) for v in row) for row in flipped)
    dump = orjson.dumps
    return [
        (JSON, dump({"instances": rows})),
        (JSON, dump({"instances": records})),
        (JSON, dump({"inputs": rows})),
        (JSON, dump({"inputs": records})),
        (JSON, dump(rows)),
        (JSON, dump({"dataframe_split": {"columns": names, "data": rows}})),
        (JSON, dump({"dataframe_split": {"columns": shuffled, "data": flipped}})),
        (JSON, dump({"dataframe_records": records})),
        (CSV, text.encode()),
        (CSV, (",".join(shuffled) + "\n" + flipped_text).encode()),
        (
            {"Content-Type": "text/csv; header=present"},
            (",".join(shuffled) + "\n" + flipped_text).encode(),
        ),
    ]


@pytest.mark.parametrize("name", NUMERIC_MODELS)  # rows as float arrays
def test_every_shape_gives_identical_predictions(
    make_client: ClientFactory, packages: dict[str, ModelPackage], name: str
) -> None:
    client = make_client(name)
    pkg = packages[name]
    rows = rows_for(pkg)
    answers = []
    for headers, body in bodies(pkg.card.feature_names, rows):
        response = client.post("/invocations", content=body, headers=headers)
        assert response.status_code == 200, (body[:80], response.text)
        answers.append(response.json())
    first = answers[0]
    assert all(answer == first for answer in answers)
    estimator = pkg.estimator
    if pkg.card.is_classifier:
        np.testing.assert_allclose(
            first["probabilities"], estimator.predict_proba(np.array(rows)), rtol=1e-12
        )
        assert first["predictions"] == estimator.predict(np.array(rows)).tolist()
        assert first["classes"] == pkg.card.target.classes
    else:
        np.testing.assert_allclose(
            first["predictions"], estimator.predict(np.array(rows)), rtol=1e-12
        )
        assert "probabilities" not in first
        assert "classes" not in first


@pytest.mark.parametrize("name", NUMERIC_MODELS)  # rows as float arrays
def test_one_csv_line_is_one_row(
    make_client: ClientFactory, packages: dict[str, ModelPackage], name: str
) -> None:
    line = ",".join(repr(v) for v in packages[name].card.example_row())
    response = make_client(name).post("/invocations", content=line, headers=CSV)
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 1


def test_the_answer_in_full(client: TestClient) -> None:
    response = client.post("/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["model"] == {"name": "iris", "version": "1"}
    assert body["predictions"] == ["setosa"]
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(body["probabilities"][0]) == 3
    assert abs(sum(body["probabilities"][0]) - 1) < 1e-9
    assert "warnings" not in body


def test_headers_on_every_answer(client: TestClient) -> None:
    for response in (
        client.post("/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}),
        client.post("/invocations", content=b"x", headers=CSV),
        client.get("/nowhere"),
        client.get("/ping"),
    ):
        assert response.headers["x-model-name"] == "iris"
        assert response.headers["x-model-version"] == "1"
        assert len(response.headers["x-request-id"]) >= 16


def test_request_id_is_echoed_when_sane(client: TestClient) -> None:
    sent = client.post(
        "/invocations", json=[[5.1, 3.5, 1.4, 0.2]], headers={"X-Request-ID": "abc-123"}
    )
    assert sent.headers["x-request-id"] == "abc-123"
    spaced = client.post(
        "/invocations", json=[[5.1, 3.5, 1.4, 0.2]], headers={"X-Request-ID": "req 1; {a}"}
    )
    assert spaced.headers["x-request-id"] == "req 1; {a}"
    too_long = "x" * 201
    odd = client.post(
        "/invocations", json=[[5.1, 3.5, 1.4, 0.2]], headers={"X-Request-ID": too_long}
    )
    assert odd.headers["x-request-id"] != too_long
    failed = client.post("/invocations", content=b"1,2", headers={**CSV, "X-Request-ID": "req-7"})
    assert failed.json()["request_id"] == "req-7"


def test_out_of_range_inputs_predict_with_warnings(client: TestClient) -> None:
    response = client.post(
        "/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2], [5.1, 3.5, 99.0, 0.2]]}
    )
    assert response.status_code == 200
    warnings = response.json()["warnings"]
    assert len(warnings) == 1
    assert warnings[0]["row"] == 1
    assert warnings[0]["feature"] == "petal_length"
    assert "above the largest value seen in training" in warnings[0]["message"]


@pytest.mark.parametrize(
    ("accept", "content_type", "first_line"),
    [
        ("text/csv", "text/csv; charset=utf-8", "setosa,"),
        (
            "text/csv; header=present",
            "text/csv; charset=utf-8; header=present",
            "prediction,probability_setosa,",
        ),
    ],
)
def test_csv_answers(client: TestClient, accept: str, content_type: str, first_line: str) -> None:
    response = client.post(
        "/invocations",
        content=b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3",
        headers={**CSV, "Accept": accept},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0][0].startswith(first_line.split(",")[0])
    assert len(lines) == (3 if "header" in accept else 2)
    assert lines[-1][0] == "virginica"


def test_allow_missing_models_take_nan(
    make_client: ClientFactory, packages: dict[str, ModelPackage]
) -> None:
    card = packages["breast_cancer"].card
    assert card.allow_missing
    row: list[Any] = card.example_row()
    row[3] = None
    response = make_client("breast_cancer").post("/invocations", json={"instances": [row]})
    assert response.status_code == 200
    text = ",".join("" if v is None else repr(v) for v in row)
    assert (
        make_client("breast_cancer").post("/invocations", content=text, headers=CSV).json()
        == response.json()
    )


IRIS_ROW = "5.1,3.5,1.4,0.2"
# (method, path, headers, body, status, part of the detail, (row, column) of the first error)
BAD_REQUESTS: list[
    tuple[str, str, dict[str, str], bytes | None, int, str, tuple[Any, Any] | None]
] = [
    ("POST", "/invocations", JSON, b"", 400, "empty", None),
    ("POST", "/invocations", CSV, b"", 400, "empty", None),
    ("POST", "/invocations", JSON, b"{", 400, "not valid JSON", None),
    ("POST", "/invocations", JSON, b"\xff\xfe", 400, "not valid", None),
    ("POST", "/invocations", CSV, b"5.1,3.5,\xff", 400, "not valid utf-8", None),
    ("POST", "/invocations", JSON, b'"hello"', 400, "got a string", None),
    ("POST", "/invocations", JSON, b"42", 400, "got a number", None),
    ("POST", "/invocations", JSON, b"null", 400, "got null", None),
    ("POST", "/invocations", JSON, b'{"data": [[1, 2, 3, 4]]}', 400, "exactly one of", None),
    ("POST", "/invocations", JSON, b'{"instances": "5.1,3.5,1.4,0.2"}', 400, "list of rows", None),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[1, 2, 3, NaN]]}',
        422,
        "NaN",
        (0, "petal_width"),
    ),
    ("POST", "/invocations", CSV, b'5.1,"3.5', 400, "not valid CSV", None),
    ("POST", "/invocations", {}, IRIS_ROW.encode(), 415, "no Content-Type", None),
    (
        "POST",
        "/invocations",
        {"Content-Type": "text/plain"},
        IRIS_ROW.encode(),
        415,
        "'text/plain' is not supported",
        None,
    ),
    (
        "POST",
        "/invocations",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"a=1",
        415,
        "curl -d",
        None,
    ),
    (
        "POST",
        "/invocations",
        {"Content-Type": "application/xml"},
        b"<rows/>",
        415,
        "application/json, text/csv",
        None,
    ),
    (
        "POST",
        "/invocations",
        {**CSV, "Accept": "text/html"},
        IRIS_ROW.encode(),
        406,
        "text/html",
        None,
    ),
    (
        "POST",
        "/invocations",
        {**CSV, "Accept": "application/xml"},
        IRIS_ROW.encode(),
        406,
        "application/xml",
        None,
    ),
    ("POST", "/invocations", JSON, b'{"instances": []}', 422, "no rows", None),
    ("POST", "/invocations", JSON, b"[]", 422, "no rows", None),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[5.1, 3.5, 1.4]]}',
        422,
        "expected 4 values, got 3",
        (0, None),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[5.1, 3.5, 1.4, 0.2, 9]]}',
        422,
        "expected 4 values, got 5",
        (0, None),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[[5.1, 3.5, 1.4, 0.2]]]}',
        422,
        "nested too deep",
        (0, None),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[5.1, 3.5, "abc", 0.2]]}',
        422,
        'not a number: "abc"',
        (0, "petal_length"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[5.1, 3.5, 1.4, true]]}',
        422,
        "booleans",
        (0, "petal_width"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[5.1, 3.5, 1.4, 0.2], [5.1, null, 1.4, 0.2]]}',
        422,
        "null",
        (1, "sepal_width"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [[5.1, 3.5, 1.4, 1e999]]}',
        422,
        "out of float range",
        (0, "petal_width"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}]}',
        422,
        "missing feature 'petal_width'",
        (0, "petal_width"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "colour": 1}]}',
        422,
        "unknown feature 'colour'",
        (0, "colour"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"instances": [{"sepal_length": 5.1, "sepal_length": 5, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}',
        422,
        "given twice",
        (0, "sepal_length"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"dataframe_split": {"columns": ["sepal_length", "sepal_length", "petal_length", "petal_width"], "data": [[1, 2, 3, 4]]}}',
        422,
        "duplicate",
        (None, "sepal_length"),
    ),
    (
        "POST",
        "/invocations",
        JSON,
        b'{"dataframe_records": [{"sepal_length": "5.1", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}',
        422,
        "not a number",
        (0, "sepal_length"),
    ),
    ("POST", "/invocations", CSV, b"5.1,3.5,1.4", 422, "expected 4 columns, got 3", (0, None)),
    (
        "POST",
        "/invocations",
        CSV,
        b"5.1,3.5,1.4,0.2\n5.1,3.5,1.4,0.2,7",
        422,
        "expected 4 columns, got 5",
        (1, None),
    ),
    (
        "POST",
        "/invocations",
        CSV,
        b"5.1,3.5,abc,0.2",
        422,
        "not a number: 'abc'",
        (0, "petal_length"),
    ),
    ("POST", "/invocations", CSV, b"5.1,3.5,,0.2", 422, "empty cell", (0, "petal_length")),
    ("POST", "/invocations", CSV, b"5.1,3.5,nan,0.2", 422, "NaN", (0, "petal_length")),
    (
        "POST",
        "/invocations",
        CSV,
        b"5.1,3.5,inf,0.2",
        422,
        "out of float range",
        (0, "petal_length"),
    ),
    (
        "POST",
        "/invocations",
        CSV,
        b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,x,0.2",
        422,
        "not a number",
        (0, "petal_length"),
    ),
    (
        "POST",
        "/invocations",
        {"Content-Type": "text/csv; header=present"},
        b"sepal_length,sepal_width,petal_length,colour\n5.1,3.5,1.4,0.2",
        422,
        "unknown feature 'colour'",
        (None, "colour"),
    ),
    (
        "POST",
        "/invocations",
        {"Content-Type": "text/csv; header=present"},
        b"sepal_length,sepal_width,petal_length\n5.1,3.5,1.4",
        422,
        "missing feature 'petal_width'",
        (None, "petal_width"),
    ),
    (
        "POST",
        "/invocations",
        {"Content-Type": "text/csv; header=present"},
        b"sepal_length,sepal_width,petal_length,petal_width",
        422,
        "no data rows",
        None,
    ),
    (
        "POST",
        "/invocations",
        CSV,
        b"5.1,3.5,1.4,0.2\n" * 11,
        413,
        "11 rows is more than the limit of 10",
        None,
    ),
    (
        "POST",
        "/invocations",
        JSON,
        orjson.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]] * 11}),
        413,
        "more than the limit of 10 rows",
        None,
    ),
    (
        "POST",
        "/invocations",
        CSV,
        b"5.1,3.5,1.4,0.2\n" * 200,
        413,
        "the limit is 2,000 bytes",
        None,
    ),
    ("GET", "/invocations", {}, None, 405, "takes POST", None),
    ("PUT", "/ping", {}, None, 405, "takes GET", None),
    ("POST", "/metadata", JSON, b"{}", 405, "takes GET", None),
    ("GET", "/predict", {}, None, 404, "no route /predict", None),
    ("POST", "/v1/models/iris:predict", JSON, b"{}", 404, "no route", None),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "says", "where"), BAD_REQUESTS
)
def test_bad_requests_get_a_4xx_problem_and_the_service_keeps_serving(
    make_client: ClientFactory,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    says: str,
    where: tuple[Any, Any] | None,
) -> None:
    client = make_client("iris", max_rows=10, max_body_bytes=2000)
    response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["type"]
    assert says.lower() in problem["detail"].lower()
    assert problem["request_id"] == response.headers["x-request-id"]
    if where is not None:
        assert (problem["errors"][0]["row"], problem["errors"][0]["column"]) == where
    assert "Traceback" not in response.text
    after = client.post("/invocations", content=IRIS_ROW, headers=CSV)
    assert after.status_code == 200


def test_the_table_is_big_enough() -> None:
    assert len(BAD_REQUESTS) >= 40


def test_an_unexpected_error_is_a_generic_500_with_the_request_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(X: Any) -> Any:
        raise RuntimeError("secret internals")

    predictor = client.app.state.predictor  # type: ignore[attr-defined]
    monkeypatch.setattr(predictor, "predict", broken)
    response = client.post(
        "/invocations", content=IRIS_ROW, headers={**CSV, "X-Request-ID": "boom-1"}
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["request_id"] == "boom-1"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-model-name"] == "iris"


def test_big_batches_predict_off_the_event_loop_with_the_same_answer(
    make_client: ClientFactory, model_dirs: dict[str, Path]
) -> None:
    body = ("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n" * 5000).encode()
    inline = make_client("iris", inline_cells=10**9).post("/invocations", content=body, headers=CSV)
    threaded = make_client("iris", inline_cells=0).post("/invocations", content=body, headers=CSV)
    assert inline.status_code == threaded.status_code == 200
    assert inline.json() == threaded.json()
    assert len(inline.json()["predictions"]) == 10_000
