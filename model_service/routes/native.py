"""The native routes (docs/native-api.md; SageMaker's container contract):
`/invocations`, `/ping`, `/metadata`, `/metrics`, and `/problems/{slug}`,
the page each problem `type` leads to (docs/errors.md). Their OpenAPI
documentation is in `model_service.openapi.native`."""

from __future__ import annotations

from functools import lru_cache
from http import HTTPStatus

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from model_service import inputs
from model_service.bodies import read_body
from model_service.dependencies import PredictorDep, predictor_of
from model_service.errors import PROBLEM_TYPES, NotFound
from model_service.exchange import Answer, Call
from model_service.openapi import native as docs
from shared.answers import encode_answer
from shared.media import request_format, response_format

router = APIRouter()

# Clients send the same few Content-Type and Accept values over and over:
# parse each once (a bad one raises, and is not cached).
_request_format = lru_cache(maxsize=64)(request_format)
_response_format = lru_cache(maxsize=64)(response_format)


async def answer_invocations(call: Call) -> Answer:
    """`POST /invocations`, for the route below and for model_service.fastpath."""
    predictor = predictor_of(call.app_state)
    settings = call.app_state.settings
    fmt_in = _request_format(call.headers.get("content-type"))
    fmt_out = _response_format(call.headers.get("accept"))
    body = await read_body(call.receive, call.headers, settings.max_body_bytes)
    X = inputs.decode_array(body, fmt_in, predictor.schema)
    call.request_state["rows"] = len(X)
    prediction = await predictor.predict_async(X, settings.inline_cells)
    return Answer(
        encode_answer(prediction.to_prediction(), predictor.ref, fmt_out), fmt_out.content_type
    )


# Declared for the OpenAPI document, the 405s and the metrics' route
# template; under the server, model_service.fastpath answers it first. (A
# comment, not a docstring: FastAPI would publish a docstring in OpenAPI.)
@router.post("/invocations", **docs.INVOCATIONS)
async def invocations(request: Request) -> Response:
    return (await answer_invocations(Call.from_request(request))).response()


@router.get("/ping", **docs.PING)
async def ping(predictor: PredictorDep) -> Response:
    return Response(b'{"status":"ready"}', media_type="application/json")


@router.get("/metadata", **docs.METADATA)
async def metadata(request: Request, predictor: PredictorDep) -> Response:
    return Response(request.app.state.metadata_body, media_type="application/json")


@router.get("/metrics", **docs.METRICS)
async def metrics(request: Request) -> Response:
    metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=metrics.content_type)


@router.get("/problems/{slug}", include_in_schema=False)
async def problem_type_doc(slug: str) -> Response:
    """What a problem+json `type` means, so that its URI leads somewhere."""
    error = PROBLEM_TYPES.get(slug)
    if error is None:
        raise NotFound(
            f"There is no problem type {slug!r}; the known ones are: {', '.join(PROBLEM_TYPES)}."
        )
    doc = {
        "type": error.type_uri(),
        "status": error.status,
        # The status's phrase, as this page has always said; a problem of this
        # type says `error.title`.
        "title": HTTPStatus(error.status).phrase,
        "description": error.description,
    }
    return Response(orjson.dumps(doc), media_type="application/json")
