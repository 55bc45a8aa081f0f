"""The Open Inference Protocol (KServe V2) routes
(docs/open-inference-protocol.md): health, server and model metadata, model
readiness and inference, with and without `/versions/{version}`, and the
binary tensor data extension.

A thin layer like the native routes: `model_service.v2` decodes the tensors into
the rows `/invocations` would have predicted (checked by the same shared
codecs), the same predictor answers, `model_service.v2` encodes the outputs.
Errors are `{"error": "..."}` (model_service.errors does that for `/v2`).
Their OpenAPI documentation is in `model_service.openapi.v2`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import State

from model_service import v2
from model_service.bodies import read_body
from model_service.dependencies import get_predictor, predictor_of
from model_service.errors import NotFound
from model_service.exchange import Answer, Call
from model_service.openapi import v2 as docs
from model_service.predictor import Predictor
from shared.media import MediaType, check_charset
from shared.problems import UnsupportedMediaType

router = APIRouter(tags=["Open Inference Protocol (KServe V2)"])

_JSON = "application/json"
_HEADER = "Inference-Header-Content-Length"


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=_JSON)


def _served(request: Request) -> Predictor:
    """The predictor, or 404 unless the path names the model served (and
    its version, if any). The dependency functions are called, not declared
    with Depends: FastAPI runs a plain `def` dependency in the thread pool,
    two thread hops that cost more than a one-row prediction."""
    return _served_by(request.app.state, request.path_params)


def _served_by(app_state: State, path_params: Mapping[str, str]) -> Predictor:
    predictor = predictor_of(app_state)
    name = path_params["name"]
    version = path_params.get("version")
    ref = predictor.ref
    if name != ref.name:
        raise NotFound(f"Unknown model {name!r}; this server serves {ref.name!r}.")
    if version is not None and version != ref.version:
        raise NotFound(
            f"Unknown version {version!r} of model {name!r}; this server serves version {ref.version!r}."
        )
    return predictor


async def answer_infer(call: Call) -> Answer:
    """`POST .../infer`, for the routes below and for model_service.fastpath."""
    predictor = _served_by(call.app_state, call.path_params)
    settings = call.app_state.settings
    headers = call.headers
    charset = _check_media_type(headers.get("content-type"))
    body = await read_body(
        call.receive, headers, settings.max_body_bytes
    )  # Content-Encoding undone
    decoded = v2.decode_request(
        body,
        headers.get(v2.HEADER_LENGTH),
        predictor.schema,
        v2.output_names(predictor.card),
        charset=charset,
    )
    call.request_state["rows"] = len(decoded.X)
    prediction = await predictor.predict_async(decoded.X, settings.inline_cells)
    content, header_length = v2.encode_response(prediction, predictor.ref, decoded)
    if header_length is None:
        return Answer(content, _JSON)
    return Answer(content, v2.BINARY_MEDIA_TYPE, ((_HEADER, str(header_length)),))


# Inference first: routes are matched in the order they are added, and
# this is the one under load. Under the server, model_service.fastpath
# answers these first; they are declared for the OpenAPI document, the 405s
# and the metrics' route templates.
@router.post("/v2/models/{name}/infer", **docs.INFER)
@router.post("/v2/models/{name}/versions/{version}/infer", **docs.INFER_VERSION)
async def infer(request: Request) -> Response:
    return (await answer_infer(Call.from_request(request))).response()


@router.get("/v2/health/live", **docs.SERVER_LIVE)
async def server_live() -> Response:
    return _json({"live": True})


@router.get("/v2/health/ready", **docs.SERVER_READY)
async def server_ready(request: Request) -> Response:
    get_predictor(request)  # 503 until the model is loaded
    return _json({"ready": True})


@router.get("/v2", **docs.SERVER_METADATA)
async def server_metadata(request: Request) -> Response:
    return _json(v2.server_metadata(request.app.title, request.app.version))


@router.get("/v2/models/{name}", **docs.MODEL_METADATA)
@router.get("/v2/models/{name}/versions/{version}", **docs.MODEL_METADATA_VERSION)
async def model_metadata(request: Request) -> Response:
    predictor = _served(request)
    return _json(v2.model_metadata(predictor.card))


@router.get("/v2/models/{name}/ready", **docs.MODEL_READY)
@router.get("/v2/models/{name}/versions/{version}/ready", **docs.MODEL_READY_VERSION)
async def model_ready(request: Request) -> Response:
    predictor = _served(request)
    return _json({"name": predictor.ref.name, "ready": True})


def _check_media_type(content_type: str | None) -> str:
    """JSON, or the binary extension's octet-stream; no Content-Type at all
    is taken as JSON, since tritonclient sends none. The charset the JSON
    is in: UTF-8 unless the Content-Type says otherwise (415 for one that is
    not a text encoding)."""
    if content_type is None:
        return "utf-8"
    media = MediaType.parse(content_type)
    if media.type not in ("", _JSON, v2.BINARY_MEDIA_TYPE):
        raise UnsupportedMediaType(
            f"Content-Type {media.type!r} is not an inference request; send {_JSON} "
            f"(or {v2.BINARY_MEDIA_TYPE} with the {_HEADER} header)."
        )
    charset = media.params.get("charset", "utf-8").lower()
    check_charset(charset)
    return charset
