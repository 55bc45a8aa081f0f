"""The Open Inference Protocol (KServe V2; docs/open-inference-protocol.md):
inference requests decoded into the same float array `/invocations`
predicts, predictions encoded as the protocol's response, in JSON and with
the binary tensor data extension.

A request carries either one tensor of shape `[N, F]`, features in the
model's order (any name, e.g. `input-0`; only for a model whose features
are all numbers), or one tensor per feature named after it (shape `[N]`
or `[N, 1]`): a number in a numeric datatype, a categorical feature's
categories as BYTES (UTF-8 strings). Tensor data is JSON (`data`, row-major,
flat or nested) or binary: with the `Inference-Header-Content-Length`
header, the body is the JSON header followed by each input's raw
little-endian bytes, `parameters.binary_data_size` long, in input order.

- `metadata`: the protocol's names, the server and model metadata;
- `request`: `decode_request`, the request document and binary framing;
- `tensors`: the inputs as checked rows in feature order;
- `response`: `encode_response`.

Errors get the statuses the native routes give the same faults
(docs/errors.md):

- `MalformedPayload` (400), a request that is not a well-formed inference
  request: not JSON, a missing `inputs`, `name`, `datatype` or `shape`,
  `data` that does not fill the declared shape, a datatype this model does
  not take (BOOL; BYTES but for a categorical feature, whose input must be
  BYTES) or that is not a V2 datatype, BYTES binary data whose
  length-prefixed elements do not fill it or are not UTF-8, integer data that
  its INT/UINT datatype cannot hold, bad binary framing, bad `outputs` or
  `parameters`.
- `InvalidRows` (422), well-formed tensors that are not valid rows for the
  model, as `/invocations` says of its rows: no rows; a single tensor
  whose shape is not `[N, F]` with F the model's number of features
  ("wrong number of columns"), or any single tensor for a model with a
  categorical feature; per-feature tensors with a feature missing,
  unknown or given twice, of different lengths, or not of shape `[N]` /
  `[N, 1]`; an FP16/FP32 value beyond its datatype's range ("number out of
  float range"); and every cell checked by `shared.codecs` exactly as for
  the native routes (non-numbers, NaN where the model needs every value,
  infinity, categories not seen in training). Errors about a feature or a cell carry a `CellError` naming
  its row and/or column (the feature), and the detail names the input.
- `PayloadTooLarge` (413), too many rows.

The package knows nothing of HTTP beyond the header's value. The names
below are what the routes use, as `v2.<name>`.
"""

from model_service.v2.metadata import (
    BINARY_MEDIA_TYPE,
    HEADER_LENGTH,
    JSON_MEDIA_TYPE,
    NUMERIC_DATATYPES,
    PREDICT,
    PREDICT_PROBA,
    model_metadata,
    output_names,
    server_metadata,
)
from model_service.v2.request import InferRequest, RequestedOutput, decode_request
from model_service.v2.response import encode_response

__all__ = [
    "BINARY_MEDIA_TYPE",
    "HEADER_LENGTH",
    "JSON_MEDIA_TYPE",
    "NUMERIC_DATATYPES",
    "PREDICT",
    "PREDICT_PROBA",
    "InferRequest",
    "RequestedOutput",
    "decode_request",
    "encode_response",
    "model_metadata",
    "output_names",
    "server_metadata",
]
