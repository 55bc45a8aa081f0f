"""The Open Inference Protocol (KServe V2) routes
(docs/open-inference-protocol.md): health,
server and model metadata, model readiness and inference, with and without
`/versions/{version}`, and the binary tensor data extension.

A thin layer like the native routes: `model_service.v2` decodes the tensors into
the rows `/invocations` would have predicted (checked by the same shared
codecs), the same predictor answers, `model_service.v2` encodes the outputs.
Errors are `{"error": "..."}` (model_service.errors does that for `/v2`).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from model_service import v2
from model_service.bodies import read_body
from model_service.dependencies import get_predictor, get_settings
from model_service.errors import NotFound
from model_service.predictor import Predictor
from shared.problems import UnsupportedMediaType

router = APIRouter(tags=["Open Inference Protocol (KServe V2)"])

_JSON = "application/json"
_HEADER = "Inference-Header-Content-Length"


# --- the shapes, for the OpenAPI document (requests are read by model_service.v2) ---------

Parameters = dict[str, str | float | bool]


class _Schema(BaseModel):
    # `model_name` and friends are the protocol's names, not pydantic's namespace
    model_config = ConfigDict(protected_namespaces=())


class V2Error(_Schema):
    error: str


class ServerLive(_Schema):
    live: bool


class ServerReady(_Schema):
    ready: bool


class ModelReady(_Schema):
    name: str
    ready: bool


class ServerMetadata(_Schema):
    name: str
    version: str
    extensions: list[str]


class MetadataTensor(_Schema):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 for the batch dimension.")
    parameters: Parameters | None = None


class ModelMetadata(_Schema):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor] = Field(
        description="One per feature, named after it; a single [N, F] tensor in this order "
        "(any name) is accepted as well."
    )
    outputs: list[MetadataTensor]
    parameters: Parameters | None = None


class RequestInput(_Schema):
    name: str = Field(description="A feature name, or any name for a single [N, F] tensor.")
    shape: list[int]
    datatype: str = Field(description="FP64, FP32, FP16, INT8..INT64 or UINT8..UINT64.")
    parameters: Parameters | None = Field(
        default=None,
        description="binary_data_size: the input's bytes follow the JSON header (binary extension).",
    )
    data: list[Any] | None = Field(default=None, description="Row-major, flat or nested.")


class RequestOutput(_Schema):
    name: str = Field(description="predict, or predict_proba (classifiers).")
    parameters: Parameters | None = Field(
        default=None, description="binary_data: true to get this output in binary."
    )


class InferenceRequest(_Schema):
    id: str | None = Field(default=None, description="Echoed in the response.")
    parameters: Parameters | None = Field(
        default=None, description="binary_data_output: the default of every output's binary_data."
    )
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = Field(
        default=None, description="Only these outputs; all when absent."
    )


class ResponseOutput(_Schema):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = Field(
        default=None, description="binary_data_size when the data follows the JSON header."
    )
    data: list[Any] | None = None


class InferenceResponse(_Schema):
    model_name: str
    model_version: str
    id: str | None = None
    parameters: Parameters | None = Field(
        default=None, description="`warnings`: inputs outside the training range, one per line."
    )
    outputs: list[ResponseOutput]


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its $defs inlined, for an
    `openapi_extra` request body that refers to nothing elsewhere."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_ERRORS = {
    400: "A malformed request: not JSON, a missing field, data that does not fill the declared "
    "shape, a datatype the model does not take, an unknown output name, binary data lengths "
    "that do not add up, corrupt gzip/deflate data.",
    404: "No such model or version.",
    413: "The body is over the size limit, or has more rows than the row limit.",
    415: "A Content-Type other than application/json or application/octet-stream, or a "
    "Content-Encoding other than gzip or deflate.",
    422: "The tensors are well formed but are not valid rows for the model, as on /invocations: "
    "no rows, the wrong number of columns, an unknown, missing or duplicate feature input, "
    "per-feature inputs of different lengths, a non-number, NaN/inf where the model needs "
    "every value, a number out of range for its datatype.",
    500: "A bug; the body is generic and the log has the details.",
    503: "The model is not loaded yet.",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"description": _ERRORS[status], "model": V2Error} for status in (*statuses, 500)
    }


def _path(*names: str) -> dict[str, Any]:
    """Path parameters, declared here because the routes read them from the
    request (declared as arguments, FastAPI would document a 422 body that
    this service never sends)."""
    return {
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names
        ]
    }


_EXAMPLE = {
    "id": "42",
    "inputs": [
        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}
    ],
    "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
}
_INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            _JSON: {"schema": _inline(InferenceRequest), "example": _EXAMPLE},
            v2.BINARY_MEDIA_TYPE: {
                "schema": {"type": "string", "format": "binary"},
                "description": f"Binary tensor data extension: the JSON request, {_HEADER} "
                "bytes long, then each binary input's bytes in input order.",
            },
        },
    }
}
_INFER_200 = {
    "description": f"The outputs. With binary outputs, application/octet-stream: the JSON "
    f"response ({_HEADER} bytes), then each binary output's bytes "
    "(BYTES elements as a 4-byte little-endian length and the bytes).",
    "content": {v2.BINARY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}


# --- routes ------------------------------------------------------------------------


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=_JSON)


def _served(request: Request) -> Predictor:
    """The predictor, or 404 unless the path names the model served (and
    its version, if any). The dependency functions are called, not declared
    with Depends: FastAPI runs a plain `def` dependency in the thread pool,
    two thread hops that cost more than a one-row prediction."""
    predictor = get_predictor(request)
    name = request.path_params["name"]
    version = request.path_params.get("version")
    ref = predictor.ref
    if name != ref.name:
        raise NotFound(f"Unknown model {name!r}; this server serves {ref.name!r}.")
    if version is not None and version != ref.version:
        raise NotFound(
            f"Unknown version {version!r} of model {name!r}; this server serves version {ref.version!r}."
        )
    return predictor


# Inference first: routes are matched in the order they are added, and
# this is the one under load.
@router.post(
    "/v2/models/{name}/infer",
    summary="Inference",
    response_model=InferenceResponse,
    responses={200: _INFER_200, **_errors(400, 404, 413, 415, 422, 503)},
    openapi_extra={**_path("name"), **_INFER_BODY},
)
@router.post(
    "/v2/models/{name}/versions/{version}/infer",
    summary="Inference, on a version",
    response_model=InferenceResponse,
    responses={200: _INFER_200, **_errors(400, 404, 413, 415, 422, 503)},
    openapi_extra={**_path("name", "version"), **_INFER_BODY},
)
async def infer(request: Request) -> Response:
    predictor = _served(request)
    settings = get_settings(request)
    _check_media_type(request.headers.get("content-type"))
    body = await read_body(request, settings.max_body_bytes)  # Content-Encoding undone
    decoded = v2.decode_request(
        body,
        request.headers.get(v2.HEADER_LENGTH),
        predictor.schema,
        v2.output_names(predictor.card),
    )
    request.state.rows = len(decoded.X)
    prediction = await predictor.predict_async(decoded.X, settings.inline_cells)
    content, header_length = v2.encode_response(prediction, predictor.ref, decoded)
    if header_length is None:
        return Response(content, media_type=_JSON)
    return Response(content, media_type=v2.BINARY_MEDIA_TYPE, headers={_HEADER: str(header_length)})


@router.get(
    "/v2/health/live",
    summary="Server live",
    response_model=ServerLive,
    responses=_errors(),
)
async def server_live() -> Response:
    return _json({"live": True})


@router.get(
    "/v2/health/ready",
    summary="Server ready: the model is loaded and warmed up",
    response_model=ServerReady,
    responses=_errors(503),
)
async def server_ready(request: Request) -> Response:
    get_predictor(request)  # 503 until the model is loaded
    return _json({"ready": True})


@router.get(
    "/v2",
    summary="Server metadata",
    response_model=ServerMetadata,
    responses=_errors(),
)
async def server_metadata(request: Request) -> Response:
    return _json(v2.server_metadata(request.app.title, request.app.version))


@router.get(
    "/v2/models/{name}",
    summary="Model metadata",
    response_model=ModelMetadata,
    responses=_errors(404, 503),
    openapi_extra=_path("name"),
)
@router.get(
    "/v2/models/{name}/versions/{version}",
    summary="Model metadata, of a version",
    response_model=ModelMetadata,
    responses=_errors(404, 503),
    openapi_extra=_path("name", "version"),
)
async def model_metadata(request: Request) -> Response:
    predictor = _served(request)
    return _json(v2.model_metadata(predictor.card))


@router.get(
    "/v2/models/{name}/ready",
    summary="Model ready",
    response_model=ModelReady,
    responses=_errors(404, 503),
    openapi_extra=_path("name"),
)
@router.get(
    "/v2/models/{name}/versions/{version}/ready",
    summary="Model ready, of a version",
    response_model=ModelReady,
    responses=_errors(404, 503),
    openapi_extra=_path("name", "version"),
)
async def model_ready(request: Request) -> Response:
    predictor = _served(request)
    return _json({"name": predictor.ref.name, "ready": True})


def _check_media_type(content_type: str | None) -> None:
    """JSON, or the binary extension's octet-stream; no Content-Type at all
    is taken as JSON, since tritonclient sends none."""
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in ("", _JSON, v2.BINARY_MEDIA_TYPE):
        raise UnsupportedMediaType(
            f"Content-Type {media_type!r} is not an inference request; send {_JSON} "
            f"(or {v2.BINARY_MEDIA_TYPE} with the {_HEADER} header)."
        )
