"""Prediction bodies: what `/invocations` answers, as JSON or CSV.

`Prediction` is what the model produced for a batch; `encode` writes it in
the negotiated format, and `PredictionBody` is the JSON schema clients
read it back with (and the OpenAPI document shows).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np
import orjson
from pydantic import BaseModel, Field

from shared.media import Format, ResponseFormat


class RangeWarning(BaseModel):
    """A value outside what the model saw in training: it still predicts,
    but the answer is an extrapolation."""

    row: int
    feature: str
    message: str


class ModelRef(BaseModel):
    name: str
    version: str


class PredictionBody(BaseModel):
    """The JSON answer of `POST /invocations`."""

    model: ModelRef
    predictions: list[str] | list[float] = Field(
        description="One per input row: a class label, or a value."
    )
    probabilities: list[list[float]] | None = Field(
        default=None,
        description="Classifiers only: per row, one probability per class, in `classes` order.",
    )
    classes: list[str] | None = Field(default=None, description="Classifiers only.")
    warnings: list[RangeWarning] | None = Field(
        default=None, description="Present when inputs lie outside the training range."
    )


@dataclass(frozen=True)
class Prediction:
    """The model's answer for a batch of rows, before it is formatted."""

    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[str] | None = None
    warnings: list[RangeWarning] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.predictions)


def encode(prediction: Prediction, model: ModelRef, fmt: ResponseFormat) -> bytes:
    if fmt.format is Format.CSV:
        return encode_csv(prediction, header=fmt.header)
    return encode_json(prediction, model)


def encode_json(prediction: Prediction, model: ModelRef) -> bytes:
    body: dict[str, object] = {
        "model": {"name": model.name, "version": model.version},
        # labels are a numpy string array, which orjson does not take
        "predictions": prediction.predictions.tolist(),
    }
    if prediction.probabilities is not None:
        body["probabilities"] = prediction.probabilities
        body["classes"] = prediction.classes
    if prediction.warnings:
        body["warnings"] = [w.model_dump() for w in prediction.warnings]
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def csv_header(classes: list[str] | None) -> list[str]:
    return ["prediction", *(f"probability_{c}" for c in classes or [])]


def encode_csv(prediction: Prediction, header: bool = False) -> bytes:
    """One line per row: the prediction, then the class probabilities in
    `classes` order; with `header`, a first line naming the columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(csv_header(prediction.classes))
    labels = prediction.predictions.tolist()
    if prediction.probabilities is None:
        writer.writerows([label] for label in labels)
    else:
        for label, probabilities in zip(labels, prediction.probabilities.tolist(), strict=True):
            writer.writerow([label, *probabilities])
    return buffer.getvalue().encode()


def decode_json(body: bytes) -> PredictionBody:
    """A client's view of the JSON answer (raises pydantic's ValidationError
    or orjson's JSONDecodeError when the body is not one)."""
    return PredictionBody.model_validate(orjson.loads(body))
