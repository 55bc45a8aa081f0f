"""The answer format: what `POST /invocations` answers, as JSON or CSV
(docs/native-api.md).

`Prediction` is the answer for a batch of rows before it is formatted, in
plain Python values; `encode_answer` writes it in the negotiated format,
and `AnswerBody` is the JSON schema clients read it back with
(`decode_json_answer`) and the OpenAPI document shows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

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


class AnswerBody(BaseModel):
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


# Not frozen: one is built per request, and a frozen dataclass's __init__
# costs more than encoding a one-row answer.
@dataclass(slots=True)
class Prediction:
    """The model's answer for a batch of rows, before it is formatted."""

    #: one per row: a class label, or a value
    predictions: list[str] | list[float]
    #: classifiers only: per row, one probability per class, in `classes` order
    probabilities: list[list[float]] | None = None
    classes: list[str] | None = None
    warnings: list[RangeWarning] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.predictions)


def encode_answer(prediction: Prediction, model: ModelRef, fmt: ResponseFormat) -> bytes:
    """The answer body in the negotiated format."""
    if fmt.format is Format.CSV:
        return encode_csv_answer(prediction, header=fmt.header)
    return encode_json_answer(prediction, model)


def encode_json_answer(prediction: Prediction, model: ModelRef) -> bytes:
    body: dict[str, object] = {
        "model": {"name": model.name, "version": model.version},
        "predictions": prediction.predictions,
    }
    if prediction.probabilities is not None:
        body["probabilities"] = prediction.probabilities
        body["classes"] = prediction.classes
    if prediction.warnings:
        body["warnings"] = [w.model_dump() for w in prediction.warnings]
    return orjson.dumps(body)


def csv_answer_header(classes: list[str] | None) -> list[str]:
    """The column names of a CSV answer: `prediction`, then one
    `probability_<class>` per class."""
    return ["prediction", *(f"probability_{c}" for c in classes or [])]


def encode_csv_answer(prediction: Prediction, header: bool = False) -> bytes:
    """One line per row: the prediction, then the class probabilities in
    `classes` order; with `header`, a first line naming the columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(csv_answer_header(prediction.classes))
    if prediction.probabilities is None:
        writer.writerows([value] for value in prediction.predictions)
    else:
        for label, probabilities in zip(
            prediction.predictions, prediction.probabilities, strict=True
        ):
            writer.writerow([label, *probabilities])
    return buffer.getvalue().encode()


def decode_json_answer(body: bytes) -> AnswerBody:
    """A client's view of the JSON answer (raises pydantic's ValidationError
    or orjson's JSONDecodeError when the body is not one)."""
    return AnswerBody.model_validate(orjson.loads(body))
