"""/invocations for a pipeline with categorical features, fitted on a
DataFrame: every request shape predicts what the pipeline predicts on the
DataFrame; unseen categories are a 422 naming row, column and categories,
or a warning where the pipeline handles them."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from model_service.package import ModelPackage
from shared.codecs.csv import encode_csv_request
from tests.support.penguins import FEATURES
from tests.unit.model_service.conftest import ClientFactory

ROWS: list[list[float | str | None]] = [
    ["Biscoe", 39.1, "male", 3750.0],
    ["Dream", 46.5, None, 3500.0],
    ["Torgersen", 50.0, "female", 5000.0],
]


def expected(pkg: ModelPackage) -> list[str]:
    import pandas as pd

    frame = pd.DataFrame(ROWS, columns=FEATURES).astype(
        {"island": object, "sex": object, "bill_length_mm": float, "body_mass_g": float}
    )
    return pkg.estimator.predict(frame).tolist()


def records() -> list[dict[str, object]]:
    return [dict(zip(FEATURES, row, strict=True)) for row in ROWS]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", orjson.dumps({"instances": ROWS})),
        ("application/json", orjson.dumps({"instances": records()})),
        (
            "application/json",
            orjson.dumps({"dataframe_records": [dict(reversed(r.items())) for r in records()]}),
        ),
        (
            "application/json",
            orjson.dumps(
                {"dataframe_split": {"columns": FEATURES[::-1], "data": [r[::-1] for r in ROWS]}}
            ),
        ),
        ("text/csv", encode_csv_request(ROWS, FEATURES)),
        ("text/csv", encode_csv_request(ROWS)),
        ("text/csv; header=present", encode_csv_request([r[::-1] for r in ROWS], FEATURES[::-1])),
    ],
)
def test_every_shape_predicts_what_the_pipeline_predicts(
    make_client: ClientFactory, penguins: ModelPackage, content_type: str, body: bytes
) -> None:
    response = make_client(penguins).post(
        "/invocations", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["predictions"] == expected(penguins)
    assert "warnings" not in answer
    np.testing.assert_allclose(np.sum(answer["probabilities"], axis=1), 1.0)


def test_an_unseen_category_is_a_422_naming_row_column_and_categories(
    make_client: ClientFactory, penguins: ModelPackage
) -> None:
    body = encode_csv_request([ROWS[0], ["Atlantis", 40.0, "male", 4000.0]], FEATURES)
    response = make_client(penguins).post(
        "/invocations", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == (
        "row 1, column 'island': unknown category 'Atlantis'; "
        "expected one of: Biscoe, Dream, Torgersen"
    )
    assert problem["errors"] == [
        {"row": 1, "column": "island", "message": problem["detail"].split(": ", 1)[1]}
    ]


def test_a_number_for_a_category_is_a_422(
    make_client: ClientFactory, penguins: ModelPackage
) -> None:
    response = make_client(penguins).post(
        "/invocations", json={"instances": [[1, 39.1, "male", 3750.0]]}
    )
    assert response.status_code == 422
    assert "expected a category (a string), got a number: 1" in response.json()["detail"]


def test_an_unseen_category_predicts_with_a_warning_where_the_pipeline_takes_it(
    make_client: ClientFactory, penguins_open: ModelPackage
) -> None:
    response = make_client(penguins_open).post(
        "/invocations",
        json={
            "instances": [
                {"island": "Atlantis", "bill_length_mm": 40.0, "sex": "male", "body_mass_g": 4000.0}
            ]
        },
    )
    assert response.status_code == 200, response.text
    [warning] = response.json()["warnings"]
    assert (warning["row"], warning["feature"]) == (0, "island")
    assert "'Atlantis' is not a category seen in training" in warning["message"]


def test_metadata_lists_the_categories(make_client: ClientFactory, penguins: ModelPackage) -> None:
    features = make_client(penguins).get("/metadata").json()["features"]
    assert features[0]["categories"] == ["Biscoe", "Dream", "Torgersen"]


@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
def test_the_bundled_penguins_model_predicts_its_example_as_the_pipeline_does(
    make_client: ClientFactory, packages: dict[str, ModelPackage], content_type: str
) -> None:
    import pandas as pd

    pkg = packages["penguins"]
    row = pkg.card.example_row()
    names = pkg.card.feature_names
    body = (
        orjson.dumps({"instances": [row]})
        if content_type == "application/json"
        else encode_csv_request([row], names)
    )
    response = make_client("penguins").post(
        "/invocations", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    frame = pd.DataFrame([row], columns=names)
    assert response.json()["predictions"] == pkg.estimator.predict(frame).tolist()
    np.testing.assert_allclose(
        response.json()["probabilities"], pkg.estimator.predict_proba(frame), rtol=1e-12
    )
