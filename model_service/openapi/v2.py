"""The OpenAPI document of the Open Inference Protocol routes
(docs/open-inference-protocol.md). The pydantic models here only describe
the bodies: requests are read by the hand-written V2 decoder (see the
package docstring for why) and responses are encoded beside it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from model_service import v2
from model_service.errors import InternalError, NotFound, RequestTimeout, ServiceUnavailable
from shared.problems import (
    InvalidRows,
    MalformedPayload,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
)

_HEADER = "Inference-Header-Content-Length"

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
    datatype: str = Field(
        description="FP64, FP32, FP16, INT8..INT64 or UINT8..UINT64; BYTES (strings) for a "
        "categorical feature."
    )
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


# --- errors -------------------------------------------------------------------------

#: What a problem means on /v2, where it says more (or less) than the
#: class's description; the status is always the class's.
_ON_V2: dict[type[ProblemError], str] = {
    MalformedPayload: "A malformed request: not JSON, a missing field, data that does not fill "
    "the declared shape, a datatype the model does not take, an unknown output name, binary "
    "data lengths that do not add up, corrupt gzip/deflate data.",
    NotFound: "No such model or version.",
    UnsupportedMediaType: "A Content-Type other than application/json or "
    "application/octet-stream, or a Content-Encoding other than gzip or deflate.",
    InvalidRows: "The tensors are well formed but are not valid rows for the model, as on "
    "/invocations: no rows, the wrong number of columns, an unknown, missing or duplicate "
    "feature input, per-feature inputs of different lengths, a non-number, NaN/inf where the "
    "model needs every value, a number out of range for its datatype, a category not seen "
    "in training, a single [N, F] input for a model with categorical features.",
    InternalError: "A bug; the body is generic and the log has the details.",
}


def error_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the errors a route answers (and the 500 of a
    bug), in the protocol's `{"error": ...}` body."""
    responses: dict[int | str, dict[str, Any]] = {}
    documented: tuple[type[ProblemError], ...] = (*errors, InternalError)
    for error in documented:
        assert error.status not in responses, f"two errors documented as {error.status}"
        responses[error.status] = {
            "description": _ON_V2.get(error, error.description),
            "model": V2Error,
        }
    return responses


# --- operations ---------------------------------------------------------------------


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


def _operation(
    summary: str,
    response_model: type[BaseModel],
    responses: dict[int | str, dict[str, Any]],
    path: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The keyword arguments of one route decorator. Path parameters are
    declared here because the routes read them from the request (declared
    as arguments, FastAPI would document a 422 body this service never
    sends)."""
    if path:
        extra["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in path
        ]
    operation: dict[str, Any] = {
        "summary": summary,
        "response_model": response_model,
        "responses": responses,
    }
    if extra:
        operation["openapi_extra"] = extra
    return operation


_EXAMPLE = {
    "id": "42",
    "inputs": [
        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}
    ],
    "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
}
_INFER_BODY = {
    "required": True,
    "content": {
        v2.JSON_MEDIA_TYPE: {"schema": _inline(InferenceRequest), "example": _EXAMPLE},
        v2.BINARY_MEDIA_TYPE: {
            "schema": {"type": "string", "format": "binary"},
            "description": f"Binary tensor data extension: the JSON request, {_HEADER} "
            "bytes long, then each binary input's bytes in input order.",
        },
    },
}
_INFER_RESPONSES = {
    200: {
        "description": f"The outputs. With binary outputs, application/octet-stream: the JSON "
        f"response ({_HEADER} bytes), then each binary output's bytes "
        "(BYTES elements as a 4-byte little-endian length and the bytes).",
        "content": {v2.BINARY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    },
    **error_responses(
        MalformedPayload,
        NotFound,
        PayloadTooLarge,
        RequestTimeout,
        UnsupportedMediaType,
        InvalidRows,
        ServiceUnavailable,
    ),
}
_MODEL_ERRORS = error_responses(NotFound, ServiceUnavailable)

INFER = _operation(
    "Inference",
    InferenceResponse,
    _INFER_RESPONSES,
    ("name",),
    requestBody=_INFER_BODY,
)
INFER_VERSION = _operation(
    "Inference, on a version",
    InferenceResponse,
    _INFER_RESPONSES,
    ("name", "version"),
    requestBody=_INFER_BODY,
)
SERVER_LIVE = _operation("Server live", ServerLive, error_responses())
SERVER_READY = _operation(
    "Server ready: the model is loaded and warmed up",
    ServerReady,
    error_responses(ServiceUnavailable),
)
SERVER_METADATA = _operation("Server metadata", ServerMetadata, error_responses())
MODEL_METADATA = _operation("Model metadata", ModelMetadata, _MODEL_ERRORS, ("name",))
MODEL_METADATA_VERSION = _operation(
    "Model metadata, of a version", ModelMetadata, _MODEL_ERRORS, ("name", "version")
)
MODEL_READY = _operation("Model ready", ModelReady, _MODEL_ERRORS, ("name",))
MODEL_READY_VERSION = _operation(
    "Model ready, of a version", ModelReady, _MODEL_ERRORS, ("name", "version")
)
