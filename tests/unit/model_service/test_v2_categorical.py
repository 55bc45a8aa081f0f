"""The Open Inference Protocol for a model with categorical features: one
BYTES tensor of strings per categorical feature (JSON data or the binary
extension's length-prefixed elements), numbers as before; no single [N, F]
tensor; the metadata gives each input its datatype."""

from __future__ import annotations

import struct
from typing import Any

import orjson
import pytest

from model_service.package import ModelPackage
from tests.support.penguins import FEATURES
from tests.unit.model_service.conftest import ClientFactory

ISLAND = ["Biscoe", "Dream", "Torgersen"]
BILL = [39.1, 46.5, 50.0]
SEX: list[str | None] = ["male", None, "female"]
MASS = [3750.0, 3500.0, 5000.0]


def expected(pkg: ModelPackage) -> list[str]:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "island": pd.Series(ISLAND, dtype=object),
            "bill_length_mm": BILL,
            "sex": pd.Series([float("nan") if v is None else v for v in SEX], dtype=object),
            "body_mass_g": MASS,
        }
    )
    return pkg.estimator.predict(frame).tolist()


def json_inputs() -> list[dict[str, Any]]:
    return [
        {"name": "sex", "datatype": "BYTES", "shape": [3], "data": SEX},
        {"name": "island", "datatype": "BYTES", "shape": [3, 1], "data": [[v] for v in ISLAND]},
        {"name": "bill_length_mm", "datatype": "FP64", "shape": [3], "data": BILL},
        {"name": "body_mass_g", "datatype": "FP32", "shape": [3], "data": MASS},
    ]


def to_bytes(values: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def infer(
    make_client: ClientFactory, pkg: ModelPackage, body: bytes, header: int | None = None
) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers = {
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(header),
        }
    return make_client(pkg).post(f"/v2/models/{pkg.card.name}/infer", content=body, headers=headers)


def test_json_bytes_inputs_predict_what_the_pipeline_predicts(
    make_client: ClientFactory, penguins: ModelPackage
) -> None:
    response = infer(make_client, penguins, orjson.dumps({"inputs": json_inputs()}))
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["predict"]["data"] == expected(penguins)


def test_binary_bytes_inputs(make_client: ClientFactory, penguins: ModelPackage) -> None:
    island, sex = to_bytes(ISLAND), to_bytes(["male", "female", "female"])
    import numpy as np

    bill = np.array(BILL, dtype="<f8").tobytes()
    mass = np.array(MASS, dtype="<f8").tobytes()
    inputs = [
        {"name": n, "datatype": d, "shape": [3], "parameters": {"binary_data_size": len(b)}}
        for n, d, b in (
            ("island", "BYTES", island),
            ("bill_length_mm", "FP64", bill),
            ("sex", "BYTES", sex),
            ("body_mass_g", "FP64", mass),
        )
    ]
    header = orjson.dumps({"inputs": inputs, "outputs": [{"name": "predict"}]})
    response = infer(make_client, penguins, header + island + bill + sex + mass, len(header))
    assert response.status_code == 200, response.text
    json_body = orjson.dumps(
        {
            "inputs": [
                {"name": "island", "datatype": "BYTES", "shape": [3], "data": ISLAND},
                {"name": "bill_length_mm", "datatype": "FP64", "shape": [3], "data": BILL},
                {
                    "name": "sex",
                    "datatype": "BYTES",
                    "shape": [3],
                    "data": ["male", "female", "female"],
                },
                {"name": "body_mass_g", "datatype": "FP64", "shape": [3], "data": MASS},
            ]
        }
    )
    from_json = infer(make_client, penguins, json_body).json()["outputs"][0]["data"]
    assert response.json()["outputs"][0]["data"] == from_json


def test_an_unseen_category_is_a_422_naming_it(
    make_client: ClientFactory, penguins: ModelPackage
) -> None:
    inputs = json_inputs()
    inputs[1]["data"] = [["Biscoe"], ["Atlantis"], ["Dream"]]
    response = infer(make_client, penguins, orjson.dumps({"inputs": inputs}))
    assert response.status_code == 422
    assert response.json()["error"] == (
        "row 1, column 'island': unknown category 'Atlantis'; "
        "expected one of: Biscoe, Dream, Torgersen"
    )


def test_unseen_categories_warn_where_the_pipeline_takes_them(
    make_client: ClientFactory, penguins_open: ModelPackage
) -> None:
    inputs = json_inputs()
    inputs[1]["data"] = [["Biscoe"], ["Atlantis"], ["Dream"]]
    response = infer(make_client, penguins_open, orjson.dumps({"inputs": inputs}))
    assert response.status_code == 200, response.text
    assert (
        "row 1, island: 'Atlantis' is not a category" in response.json()["parameters"]["warnings"]
    )


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (
            {"datatype": "FP64", "data": [1.0, 2.0, 3.0]},
            400,
            "feature 'sex' is categorical; send its categories as BYTES",
        ),
        (
            {"data": [1, 2, 3]},
            422,
            "row 0, column 'sex': expected a category (a string), got a number",
        ),
        ({"datatype": "BOOL"}, 400, "feature 'sex' is categorical"),
    ],
)
def test_wrong_categorical_inputs(
    make_client: ClientFactory,
    penguins: ModelPackage,
    change: dict[str, Any],
    status: int,
    message: str,
) -> None:
    inputs = json_inputs()
    inputs[0].update(change)
    response = infer(make_client, penguins, orjson.dumps({"inputs": inputs}))
    assert response.status_code == status
    assert message in response.json()["error"]


def test_bytes_for_a_number_is_refused(make_client: ClientFactory, penguins: ModelPackage) -> None:
    inputs = json_inputs()
    inputs[2].update(datatype="BYTES", data=["39.1", "46.5", "50"])
    response = infer(make_client, penguins, orjson.dumps({"inputs": inputs}))
    assert response.status_code == 400
    assert "BYTES only for the categorical features (island, sex)" in response.json()["error"]


def test_a_single_tensor_of_every_feature_names_the_categorical_ones(
    make_client: ClientFactory, penguins: ModelPackage
) -> None:
    body = {
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 4], "data": [1, 2, 3, 4]}]
    }
    response = infer(make_client, penguins, orjson.dumps(body))
    assert response.status_code == 422
    assert "categorical features (island, sex) are BYTES" in response.json()["error"]


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x06\x00\x00\x00Biscoe\x05\x00\x00", "ends inside the length"),
        (b"\x06\x00\x00\x00Biscoe\x09\x00\x00\x00Dream", "is 9 bytes long"),
        (b"\x06\x00\x00\x00Biscoe\x02\x00\x00\x00\xff\xfe", "not UTF-8"),
        (b"\x06\x00\x00\x00Biscoe", "holds 1"),
    ],
)
def test_bad_binary_bytes(
    make_client: ClientFactory, penguins: ModelPackage, blob: bytes, message: str
) -> None:
    inputs: list[dict[str, Any]] = [
        {
            "name": "island",
            "datatype": "BYTES",
            "shape": [2],
            "parameters": {"binary_data_size": len(blob)},
        },
        {"name": "bill_length_mm", "datatype": "FP64", "shape": [2], "data": [40.0, 41.0]},
        {"name": "sex", "datatype": "BYTES", "shape": [2], "data": ["male", "male"]},
        {"name": "body_mass_g", "datatype": "FP64", "shape": [2], "data": [4000.0, 4100.0]},
    ]
    header = orjson.dumps({"inputs": inputs})
    response = infer(make_client, penguins, header + blob, len(header))
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_metadata_gives_each_input_its_datatype(
    make_client: ClientFactory, penguins: ModelPackage
) -> None:
    metadata = make_client(penguins).get("/v2/models/penguins").json()
    assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == [
        ("island", "BYTES", [-1]),
        ("bill_length_mm", "FP64", [-1]),
        ("sex", "BYTES", [-1]),
        ("body_mass_g", "FP64", [-1]),
    ]
    assert orjson.loads(metadata["inputs"][0]["parameters"]["categories"]) == ISLAND
    assert metadata["inputs"][0]["parameters"]["handles_unknown"] is False
    assert "BYTES" in metadata["parameters"]["inputs"]
    assert [i["name"] for i in metadata["inputs"]] == FEATURES


def test_numeric_models_metadata_is_unchanged(make_client: ClientFactory) -> None:
    metadata = make_client("iris").get("/v2/models/iris").json()
    assert {i["datatype"] for i in metadata["inputs"]} == {"FP64"}
    assert "min" in metadata["inputs"][0]["parameters"]
    assert metadata["parameters"]["inputs"].startswith("one FP64/FP32/INT tensor of shape [N, 4]")
