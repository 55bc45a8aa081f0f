"""The native routes (docs/native-api.md; SageMaker's container contract):
`/invocations`, `/ping`, `/metadata`, `/metrics`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from model_service import inputs
from model_service.bodies import read_body
from model_service.dependencies import PredictorDep, get_predictor, get_settings
from model_service.errors import NotFound
from model_service.openapi import ERROR_DESCRIPTIONS, problem_responses
from shared.answers import AnswerBody, encode_answer
from shared.card import ModelCard
from shared.media import request_format, response_format

router = APIRouter()

_IRIS_ROW = [5.1, 3.5, 1.4, 0.2]
_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "One or many rows, features in the model's order (see /metadata), or by name.",
    "content": {
        "application/json": {
            "schema": {"oneOf": [{"type": "object"}, {"type": "array"}]},
            "examples": {
                "instances": {
                    "summary": "rows in feature order",
                    "value": {"instances": [_IRIS_ROW]},
                },
                "instances by name": {
                    "summary": "rows by feature name",
                    "value": {
                        "instances": [
                            {
                                "sepal_length": 5.1,
                                "sepal_width": 3.5,
                                "petal_length": 1.4,
                                "petal_width": 0.2,
                            }
                        ]
                    },
                },
                "inputs": {"summary": "the same under inputs", "value": {"inputs": [_IRIS_ROW]}},
                "bare array": {
                    "summary": "SageMaker's scikit-learn container",
                    "value": [_IRIS_ROW],
                },
                "dataframe_split": {
                    "summary": "MLflow",
                    "value": {
                        "dataframe_split": {
                            "columns": [
                                "sepal_length",
                                "sepal_width",
                                "petal_length",
                                "petal_width",
                            ],
                            "data": [_IRIS_ROW],
                        }
                    },
                },
                "dataframe_records": {
                    "summary": "MLflow",
                    "value": {
                        "dataframe_records": [
                            {
                                "sepal_length": 5.1,
                                "sepal_width": 3.5,
                                "petal_length": 1.4,
                                "petal_width": 0.2,
                            }
                        ]
                    },
                },
            },
        },
        "text/csv": {
            "schema": {"type": "string"},
            "examples": {
                "no header": {"value": "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"},
                "header (any column order; send text/csv; header=present)": {
                    "value": "petal_length,petal_width,sepal_length,sepal_width\n1.4,0.2,5.1,3.5\n"
                },
            },
        },
    },
}


@router.post(
    "/invocations",
    summary="Predict one or many rows",
    response_model=AnswerBody,
    responses={
        200: {
            "description": "Predictions, as JSON (default) or CSV per the Accept header.",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": "setosa,0.97,0.03,0.0\r\n"}
            },
        },
        **problem_responses(400, 406, 413, 415, 422, 503),
    },
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def invocations(request: Request) -> Response:
    # The hot path asks for the predictor directly: FastAPI's dependency
    # solving costs about as much as decoding, predicting and encoding a row.
    predictor = get_predictor(request)
    settings = get_settings(request)
    fmt_in = request_format(request.headers.get("content-type"))
    fmt_out = response_format(request.headers.get("accept"))
    body = await read_body(request, settings.max_body_bytes)
    X = inputs.decode_array(body, fmt_in, predictor.schema)
    request.state.rows = len(X)
    prediction = await predictor.predict_async(X, settings.inline_cells)
    return Response(
        encode_answer(prediction.to_prediction(), predictor.ref, fmt_out),
        media_type=fmt_out.content_type,
    )


@router.get(
    "/ping",
    summary="Ready: the model is loaded and has answered a warm-up prediction",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready"}}}},
        **problem_responses(503),
    },
)
async def ping(predictor: PredictorDep) -> Response:
    return Response(b'{"status":"ready"}', media_type="application/json")


@router.get(
    "/metadata",
    summary="The model card (model.json)",
    response_model=ModelCard,
    responses=problem_responses(503),
)
async def metadata(request: Request, predictor: PredictorDep) -> Response:
    return Response(request.app.state.metadata_body, media_type="application/json")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


#: The `type` of every problem the native routes answer, and its status.
PROBLEM_TYPES = {
    "malformed-payload": 400,
    "bad-request": 400,
    "not-found": 404,
    "method-not-allowed": 405,
    "not-acceptable": 406,
    "payload-too-large": 413,
    "unsupported-media-type": 415,
    "invalid-rows": 422,
    "not-ready": 503,
}


@router.get("/problems/{slug}", include_in_schema=False)
async def problem_type_doc(slug: str) -> Response:
    """What a problem+json `type` means, so that its URI leads somewhere."""
    status = PROBLEM_TYPES.get(slug)
    if status is None:
        raise NotFound(
            f"There is no problem type {slug!r}; the known ones are: {', '.join(PROBLEM_TYPES)}."
        )
    doc = {
        "type": f"/problems/{slug}",
        "status": status,
        "title": HTTPStatus(status).phrase,
        "description": ERROR_DESCRIPTIONS[status],
    }
    return Response(orjson.dumps(doc), media_type="application/json")
