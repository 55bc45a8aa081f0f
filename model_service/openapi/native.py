"""The OpenAPI document of the native routes (docs/native-api.md): the
request bodies FastAPI does not parse itself, and which problems each route
answers, described by the problem classes themselves."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from model_service.errors import InternalError, RequestTimeout, ServiceUnavailable
from model_service.openapi import PROBLEM_SCHEMA_REF
from shared.answers import AnswerBody
from shared.card import ModelCard
from shared.problems import (
    PROBLEM_MEDIA_TYPE,
    InvalidRows,
    MalformedPayload,
    NotAcceptable,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
)


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the problems a route answers (and the 500 of
    a bug, which any route may), as problem+json."""
    responses: dict[int | str, dict[str, Any]] = {}
    documented: tuple[type[ProblemError], ...] = (*errors, InternalError)
    for error in documented:
        assert error.status not in responses, f"two problems documented as {error.status}"
        responses[error.status] = {
            "description": error.description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
        }
    return responses


# One iris row, the example of every request shape.
_IRIS = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
_ROW = list(_IRIS.values())
_JSON_EXAMPLES = {
    "instances": ("rows in feature order", {"instances": [_ROW]}),
    "instances by name": ("rows by feature name", {"instances": [_IRIS]}),
    "inputs": ("the same under inputs", {"inputs": [_ROW]}),
    "bare array": ("SageMaker's scikit-learn container", [_ROW]),
    "dataframe_split": ("MLflow", {"dataframe_split": {"columns": list(_IRIS), "data": [_ROW]}}),
    "dataframe_records": ("MLflow", {"dataframe_records": [_IRIS]}),
}
_CSV_EXAMPLES = {
    "no header": "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
    "header (any column order; send text/csv; header=present)": (
        "petal_length,petal_width,sepal_length,sepal_width\n1.4,0.2,5.1,3.5\n"
    ),
}

INVOCATIONS: dict[str, Any] = {
    "summary": "Predict one or many rows",
    "response_model": AnswerBody,
    "responses": {
        200: {
            "description": "Predictions, as JSON (default) or CSV per the Accept header.",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": "setosa,0.97,0.03,0.0\r\n"}
            },
        },
        **problem_responses(
            MalformedPayload,
            NotAcceptable,
            PayloadTooLarge,
            RequestTimeout,
            UnsupportedMediaType,
            InvalidRows,
            ServiceUnavailable,
        ),
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "description": "One or many rows, features in the model's order (see /metadata), "
            "or by name.",
            "content": {
                "application/json": {
                    "schema": {"oneOf": [{"type": "object"}, {"type": "array"}]},
                    "examples": {
                        name: {"summary": summary, "value": value}
                        for name, (summary, value) in _JSON_EXAMPLES.items()
                    },
                },
                "text/csv": {
                    "schema": {"type": "string"},
                    "examples": {name: {"value": csv} for name, csv in _CSV_EXAMPLES.items()},
                },
            },
        }
    },
}

PING: dict[str, Any] = {
    "summary": "Ready: the model is loaded and has answered a warm-up prediction",
    "responses": {
        200: {"content": {"application/json": {"example": {"status": "ready"}}}},
        **problem_responses(ServiceUnavailable),
    },
}

METADATA: dict[str, Any] = {
    "summary": "The model card (model.json)",
    "response_model": ModelCard,
    "responses": problem_responses(ServiceUnavailable),
}

METRICS: dict[str, Any] = {
    "summary": "Prometheus metrics",
    "responses": {200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
}
