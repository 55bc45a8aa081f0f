"""The Open Inference Protocol (KServe V2) tensors: inference requests decoded
into the same float array `/invocations` predicts, predictions encoded as the
protocol's response, in JSON and with the binary tensor data extension.

A request carries either one tensor of shape `[N, F]`, features in the
model's order (any name, e.g. `input-0`), or one tensor per feature named
after it (shape `[N]` or `[N, 1]`). Tensor data is JSON (`data`, row-major,
flat or nested) or binary: with the `Inference-Header-Content-Length`
header, the body is the JSON header followed by each input's raw
little-endian bytes, `parameters.binary_data_size` long, in input order.

Errors get the statuses the native routes give the same faults (DESIGN
4.2/4.3):

- `MalformedPayload` (400), a request that is not a well-formed inference
  request: not JSON, a missing `inputs`, `name`, `datatype` or `shape`,
  `data` that does not fill the declared shape, a datatype this model does
  not take (BYTES, BOOL) or that is not a V2 datatype, integer data that
  its INT/UINT datatype cannot hold, bad binary framing, bad `outputs` or
  `parameters`.
- `InvalidRows` (422), well-formed tensors that are not valid rows for the
  model, as `/invocations` says of its rows: no rows; a single tensor
  whose shape is not `[N, F]` with F the model's number of features
  ("wrong number of columns"); per-feature tensors with a feature missing,
  unknown or given twice, of different lengths, or not of shape `[N]` /
  `[N, 1]`; an FP16/FP32 value beyond its datatype's range ("number out of
  float range"); and every cell checked by `shared.codecs` exactly as for
  the native routes (non-numbers, NaN where the model needs every value,
  infinity). Errors about a feature or a cell carry a `CellError` naming
  its row and/or column (the feature), and the detail names the input.
- `PayloadTooLarge` (413), too many rows.

The module knows nothing of HTTP beyond the header's value, so clients
(and tests) use it too.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from shared import codecs
from shared.card import ModelCard
from shared.codecs import InputSchema, kind_of
from shared.predictions import ModelRef, Prediction
from shared.problems import MAX_LISTED_ERRORS, CellError, InvalidRows, MalformedPayload

HEADER_LENGTH = "inference-header-content-length"
BINARY_MEDIA_TYPE = "application/octet-stream"
JSON_MEDIA_TYPE = "application/json"
PLATFORM = "sklearn"
EXTENSIONS = ("binary_tensor_data",)
PREDICT = "predict"
PREDICT_PROBA = "predict_proba"

#: The numeric datatypes a model input takes, as little-endian numpy types
#: (the protocol's byte order for binary data).
NUMERIC_DATATYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in (
        ("INT8", "<i1"),
        ("INT16", "<i2"),
        ("INT32", "<i4"),
        ("INT64", "<i8"),
        ("UINT8", "<u1"),
        ("UINT16", "<u2"),
        ("UINT32", "<u4"),
        ("UINT64", "<u8"),
        ("FP16", "<f2"),
        ("FP32", "<f4"),
        ("FP64", "<f8"),
    )
}
_KNOWN_DATATYPES = (*NUMERIC_DATATYPES, "BOOL", "BYTES", "BF16")
_UNSUPPORTED_PARAMETERS = (
    "shared_memory_region",
    "shared_memory_byte_size",
    "shared_memory_offset",
)


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool


@dataclass(frozen=True)
class InferRequest:
    """A decoded inference request: the rows, and how to answer."""

    X: np.ndarray
    outputs: tuple[RequestedOutput, ...]
    id: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)


# --- metadata ------------------------------------------------------------------


def output_names(card: ModelCard) -> tuple[str, ...]:
    """MLServer's scikit-learn runtime names: `predict`, and for
    classifiers `predict_proba`."""
    return (PREDICT, PREDICT_PROBA) if card.is_classifier else (PREDICT,)


def server_metadata(name: str, version: str) -> dict[str, Any]:
    return {"name": name, "version": version, "extensions": list(EXTENSIONS)}


def model_metadata(card: ModelCard) -> dict[str, Any]:
    """The model metadata response, derived from the card: one FP64 input per
    feature, named after it (a single `[N, F]` tensor in this order is
    accepted as well), and the outputs `output_names` gives."""
    inputs = []
    for feature in card.features:
        parameters: dict[str, Any] = {"min": feature.min, "max": feature.max}
        if feature.description:
            parameters["description"] = feature.description
        if feature.unit:
            parameters["unit"] = feature.unit
        inputs.append(
            {"name": feature.name, "datatype": "FP64", "shape": [-1], "parameters": parameters}
        )
    outputs: list[dict[str, Any]] = []
    if card.is_classifier:
        classes = card.target.classes or []
        outputs.append({"name": PREDICT, "datatype": "BYTES", "shape": [-1]})
        outputs.append(
            {
                "name": PREDICT_PROBA,
                "datatype": "FP64",
                "shape": [-1, len(classes)],
                # parameter values are scalars in the protocol, so the list is a JSON string
                "parameters": {"classes": orjson.dumps(classes).decode()},
            }
        )
    else:
        outputs.append({"name": PREDICT, "datatype": "FP64", "shape": [-1]})
    return {
        "name": card.name,
        "versions": [card.version],
        "platform": PLATFORM,
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "task": card.task,
            "target": card.target.name,
            "inputs": f"one FP64/FP32/INT tensor of shape [N, {len(card.features)}] "
            "in the order of `inputs`, or one tensor per feature named after it",
        },
    }


# --- requests --------------------------------------------------------------------


def decode_request(
    body: bytes,
    header_length: str | None,
    schema: InputSchema,
    outputs: Sequence[str],
) -> InferRequest:
    """An inference request body -> rows in feature order and the outputs to
    send back. `header_length` is the `Inference-Header-Content-Length`
    header (None when the body is JSON only); `outputs` the model's output
    names."""
    if not body or body.isspace():  # (strip() would copy a large body)
        raise MalformedPayload("The request body is empty; send an inference request.")
    header, binary = _split(body, header_length)
    document = codecs.parse_json(header)
    if not isinstance(document, dict):
        raise MalformedPayload(
            f"An inference request is a JSON object with `inputs`, got {kind_of(document)}."
        )
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise MalformedPayload(f"`id` must be a string, got {kind_of(request_id)}.")
    parameters = _parameters(document.get("parameters"), "the request")
    binary_default = parameters.get("binary_data_output", False)
    if not isinstance(binary_default, bool):
        raise MalformedPayload("parameters.binary_data_output must be true or false.")
    requested = _requested_outputs(document.get("outputs"), outputs, binary_default)
    tensors = _read_inputs(document.get("inputs"), binary)
    X = _rows(tensors, schema)
    return InferRequest(X, requested, request_id, parameters)


def _split(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """The JSON header and the binary data after it."""
    if header_length is None:
        return body, memoryview(b"")
    text = header_length.strip()
    if not text.isdigit():
        raise MalformedPayload(
            f"Inference-Header-Content-Length must be a number of bytes, got {header_length!r}."
        )
    length = int(text)
    if not 0 < length <= len(body):
        raise MalformedPayload(
            f"Inference-Header-Content-Length is {length}, but the body is {len(body)} bytes."
        )
    view = memoryview(body)
    return bytes(view[:length]), view[length:]


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(f"`parameters` of {where} must be an object, got {kind_of(value)}.")
    unsupported = [k for k in _UNSUPPORTED_PARAMETERS if k in value]
    if unsupported:
        raise MalformedPayload(
            f"{where.capitalize()} uses {unsupported[0]}: this server does not support the "
            "shared-memory extension; send the data in the body (JSON or binary)."
        )
    return value


def _requested_outputs(
    value: Any, available: Sequence[str], binary_default: bool
) -> tuple[RequestedOutput, ...]:
    if value is None:
        return tuple(RequestedOutput(name, binary_default) for name in available)
    if not isinstance(value, list):
        raise MalformedPayload(f"`outputs` must be a list of objects, got {kind_of(value)}.")
    requested: list[RequestedOutput] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise MalformedPayload(f"outputs[{i}] must be an object with a `name` string.")
        name = item["name"]
        if name not in available:
            raise MalformedPayload(
                f"Unknown output {name!r}; this model's outputs are {', '.join(available)}."
            )
        if any(r.name == name for r in requested):
            raise MalformedPayload(f"Output {name!r} is requested twice.")
        parameters = _parameters(item.get("parameters"), f"output {name!r}")
        if "classification" in parameters:
            raise MalformedPayload(
                f"Output {name!r} asks for the classification extension, which this server "
                f"does not support; request {PREDICT_PROBA} for the class probabilities."
            )
        binary = parameters.get("binary_data", binary_default)
        if not isinstance(binary, bool):
            raise MalformedPayload(
                f"parameters.binary_data of output {name!r} must be true or false."
            )
        requested.append(RequestedOutput(name, binary))
    if not requested:
        raise MalformedPayload("`outputs` is empty; leave it out to get every output.")
    return tuple(requested)


@dataclass(frozen=True)
class _Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    #: binary data as an array of the datatype, or JSON data as a flat list
    values: np.ndarray | list[Any]


def _read_inputs(value: Any, binary: memoryview) -> list[_Tensor]:
    if value is None:
        raise MalformedPayload("The request has no `inputs`.")
    if not isinstance(value, list) or not value:
        raise MalformedPayload("`inputs` must be a non-empty list of tensors.")
    tensors: list[_Tensor] = []
    offset = 0
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise MalformedPayload(f"inputs[{i}] must be an object, got {kind_of(item)}.")
        name = item.get("name")
        if not isinstance(name, str):
            raise MalformedPayload(f"inputs[{i}] has no `name` string.")
        datatype = _datatype(item.get("datatype"), name)
        shape = _shape(item.get("shape"), name)
        count = math.prod(shape)
        parameters = _parameters(item.get("parameters"), f"input {name!r}")
        size = parameters.get("binary_data_size")
        values: np.ndarray | list[Any]
        if size is not None:
            if "data" in item:
                raise MalformedPayload(f"Input {name!r} has both `data` and binary_data_size.")
            if type(size) is not int or size < 0:
                raise MalformedPayload(
                    f"binary_data_size of input {name!r} must be a number of bytes."
                )
            values = _binary_values(binary, offset, size, name, datatype, shape, count)
            offset += size
        elif "data" in item:
            values = _json_values(item["data"], name, shape, count)
        else:
            raise MalformedPayload(
                f"Input {name!r} has no `data` (and no parameters.binary_data_size)."
            )
        tensors.append(_Tensor(name, datatype, shape, values))
    if offset != len(binary):
        raise MalformedPayload(
            f"The body has {len(binary)} bytes of binary data after the JSON header, "
            f"but the inputs' binary_data_size add up to {offset}."
        )
    return tensors


def _datatype(value: Any, name: str) -> str:
    if value is None:
        raise MalformedPayload(f"Input {name!r} has no `datatype`.")
    if value not in NUMERIC_DATATYPES:
        known = value in _KNOWN_DATATYPES
        raise MalformedPayload(
            f"Input {name!r} has datatype {value!r}"
            + (", which this model does not take" if known else ", which is not a V2 datatype")
            + f"; send numbers as one of {', '.join(NUMERIC_DATATYPES)}."
        )
    return str(value)


def _shape(value: Any, name: str) -> tuple[int, ...]:
    if value is None:
        raise MalformedPayload(f"Input {name!r} has no `shape`.")
    if (
        not isinstance(value, list)
        or not value
        or not all(type(d) is int and d >= 0 for d in value)
    ):
        raise MalformedPayload(
            f"The shape of input {name!r} must be a list of non-negative integers, got {orjson.dumps(value).decode()[:40]}."
        )
    return tuple(value)


def _binary_values(
    binary: memoryview,
    offset: int,
    size: int,
    name: str,
    datatype: str,
    shape: tuple[int, ...],
    count: int,
) -> np.ndarray:
    dtype = NUMERIC_DATATYPES[datatype]
    expected = count * dtype.itemsize
    if size != expected:
        raise MalformedPayload(
            f"Input {name!r} ({datatype}, shape {list(shape)}) needs {expected} bytes of binary "
            f"data, but binary_data_size is {size}."
        )
    if offset + size > len(binary):
        raise MalformedPayload(
            f"Input {name!r} needs bytes {offset} to {offset + size} of the binary data, "
            f"but there are only {len(binary)}."
        )
    return np.frombuffer(binary[offset : offset + size], dtype=dtype)


def _json_values(data: Any, name: str, shape: tuple[int, ...], count: int) -> list[Any]:
    """The tensor's data as a flat list; nesting (row-major) is flattened up
    to the shape's depth, so anything deeper is reported on its cell."""
    if not isinstance(data, list):
        raise MalformedPayload(f"`data` of input {name!r} must be a list, got {kind_of(data)}.")
    flat = data
    for _ in range(len(shape) - 1):
        if not any(type(v) is list for v in flat):
            break
        level: list[Any] = []
        for v in flat:
            if type(v) is list:
                level.extend(v)
            else:
                level.append(v)
        flat = level
    if len(flat) != count:
        raise MalformedPayload(
            f"Input {name!r} has shape {list(shape)} ({count} values), but its data has {len(flat)}."
        )
    return flat


# --- tensors -> rows ---------------------------------------------------------------


def _rows(tensors: list[_Tensor], schema: InputSchema) -> np.ndarray:
    """The tensors as one float64 array (rows, features) in feature order,
    checked by the shared codecs exactly as the native routes check rows."""
    features = schema.features
    single = tensors[0]
    whole = len(single.shape) == 2 and single.shape[1] == schema.width
    if len(tensors) == 1 and (single.name not in features or whole):
        if not whole:
            given = f" ({single.shape[1]} columns)" if len(single.shape) == 2 else ""
            raise InvalidRows(
                f"Input {single.name!r} has shape {list(single.shape)}{given}; one input must "
                f"have shape [N, {schema.width}]: N rows of {', '.join(features)}, in that order. "
                "Or send one input per feature, named after it, of shape [N]."
            )
        columns_of = {single.name: features}
        tensors_in_order = [single]
    else:
        tensors_in_order = _by_feature(tensors, schema)
        columns_of = {t.name: (t.name,) for t in tensors_in_order}
    n = single.shape[0]
    if n == 0:
        raise InvalidRows("There are no rows to predict.")
    codecs.check_row_count(n, schema)
    arrays = []
    for tensor in tensors_in_order:
        array = _as_float(tensor, columns_of[tensor.name])
        if array is None:
            # Some cell is not a plain number (null, a string, a boolean...):
            # the shared decoder words the error, or reads null as missing.
            return codecs.rows_to_array(_python_rows(tensors_in_order, n, schema.width), schema)
        arrays.append(array)
    X = arrays[0].reshape(n, schema.width) if len(arrays) == 1 else np.column_stack(arrays)
    return codecs.check_array(X, schema)


def _by_feature(tensors: list[_Tensor], schema: InputSchema) -> list[_Tensor]:
    """One tensor per feature, put in feature order. A feature unknown,
    missing or given twice, or tensors that are not all [N] or [N, 1] with
    the same N, are row errors (422) on the feature's column, as a header
    or rows by name are on `/invocations`."""
    features = schema.features
    errors: list[CellError] = []
    given: dict[str, _Tensor] = {}
    for tensor in tensors:
        name = tensor.name
        if name in given:
            errors.append(CellError(column=name, message=f"input {name!r} is given twice"))
        elif name not in features:
            errors.append(CellError(column=name, message=f"unknown input {name!r}: not a feature"))
        given.setdefault(name, tensor)
    errors += [
        CellError(column=name, message=f"missing input {name!r}")
        for name in features
        if name not in given
    ]
    if errors:
        raise _feature_errors(errors, schema)
    ordered = [given[name] for name in features]
    first = tensors[0]
    n = first.shape[0]
    for tensor in ordered:
        if tensor.shape[1:] not in ((), (1,)):
            message = f"input {tensor.name!r} has shape {list(tensor.shape)}, not [N] or [N, 1]"
        elif tensor.shape[0] != n:
            message = f"input {tensor.name!r} has {tensor.shape[0]} rows, but input {first.name!r} has {n}"
        else:
            continue
        errors.append(CellError(column=tensor.name, message=message))
    if errors:
        raise _feature_errors(errors, schema)
    return ordered


def _feature_errors(errors: list[CellError], schema: InputSchema) -> InvalidRows:
    """The errors of inputs per feature, each on its feature's column; the
    detail (all a V2 error body shows) lists them all and says what to send."""
    listed = errors[:MAX_LISTED_ERRORS]
    more = f" and {len(errors) - len(listed)} more" if len(errors) > len(listed) else ""
    detail = (
        f"Inputs per feature: {'; '.join(e.message for e in listed)}{more}. Send one input "
        f"per feature, named {', '.join(schema.features)}, each of shape [N] or [N, 1] with "
        f"the same N; or a single input of shape [N, {schema.width}]."
    )
    return InvalidRows(detail, listed)


def _as_float(tensor: _Tensor, columns: Sequence[str]) -> np.ndarray | None:
    """The tensor's values as float64, as its datatype holds them; None when
    a JSON cell is not a plain number (left to the shared row checks).
    `columns` are the features the tensor holds, in order, to name a cell."""
    dtype = NUMERIC_DATATYPES[tensor.datatype]
    values = tensor.values
    if isinstance(values, np.ndarray):
        return values.astype(np.float64)
    if not all(type(v) is float or type(v) is int for v in values):
        return None
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond float range: worded per cell
        return None
    if dtype.kind in "iu":
        if not all(type(v) is int for v in values):
            raise MalformedPayload(
                f"Input {tensor.name!r} is {tensor.datatype}, but its data holds non-integers."
            )
        info = np.iinfo(dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise MalformedPayload(
                f"Input {tensor.name!r} holds values outside the range of {tensor.datatype}."
            )
        return array
    if dtype.itemsize < 8:
        # What the binary form cannot hold is out of float range, as a number
        # beyond float64 is on /invocations (the binary form would be inf).
        beyond = np.flatnonzero(np.isfinite(array) & (np.abs(array) > np.finfo(dtype).max))
        if beyond.size:
            width = len(columns)
            errors = [
                CellError(
                    row=i // width,
                    column=columns[i % width],
                    message=f"number out of float range for {tensor.datatype} "
                    f"(input {tensor.name!r}): {values[i]!r}",
                )
                for i in beyond[:MAX_LISTED_ERRORS].tolist()
            ]
            raise InvalidRows.from_errors(errors, total=int(beyond.size))
        # round as the binary form would, so JSON and binary predict alike
        return array.astype(dtype).astype(np.float64)
    return array


def _python_rows(columns: list[_Tensor], n: int, width: int) -> list[list[Any]]:
    flats = [t.values.tolist() if isinstance(t.values, np.ndarray) else t.values for t in columns]
    if len(flats) == 1:
        flat = flats[0]
        return [flat[i * width : (i + 1) * width] for i in range(n)]
    return [list(row) for row in zip(*flats, strict=True)]


# --- responses ---------------------------------------------------------------------


def encode_response(
    prediction: Prediction, model: ModelRef, request: InferRequest
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary outputs
    follow it (send it as `Inference-Header-Content-Length`), else None."""
    outputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for requested in request.outputs:
        datatype, shape, array = _output(prediction, requested.name)
        tensor: dict[str, Any] = {"name": requested.name, "datatype": datatype, "shape": shape}
        if requested.binary:
            raw = _to_bytes(array) if datatype == "BYTES" else array.astype("<f8").tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            tensor["data"] = array.tolist() if datatype == "BYTES" else array.ravel()
        outputs.append(tensor)
    body: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request.id is not None:
        body["id"] = request.id
    if prediction.warnings:
        body["parameters"] = {
            "warnings": "\n".join(
                f"row {w.row}, {w.feature}: {w.message}" for w in prediction.warnings
            )
        }
    body["outputs"] = outputs
    header = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def _output(prediction: Prediction, name: str) -> tuple[str, list[int], np.ndarray]:
    if name == PREDICT_PROBA:
        assert prediction.probabilities is not None
        return "FP64", list(prediction.probabilities.shape), prediction.probabilities
    values = prediction.predictions
    datatype = "BYTES" if prediction.probabilities is not None else "FP64"
    return datatype, [len(values)], values


def _to_bytes(labels: np.ndarray) -> bytes:
    """BYTES elements: each a 4-byte little-endian length, then the bytes."""
    parts = []
    for label in labels.tolist():
        data = str(label).encode()
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return b"".join(parts)


def from_bytes(raw: bytes | memoryview) -> list[bytes]:
    """The elements of a binary BYTES tensor (the reverse of the encoding above)."""
    out = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise MalformedPayload("A BYTES tensor ends inside an element's length.")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise MalformedPayload("A BYTES tensor ends inside an element.")
        out.append(bytes(raw[offset : offset + length]))
        offset += length
    return out


# --- for clients ---------------------------------------------------------------------

_DATATYPE_OF = {dtype.newbyteorder("="): name for name, dtype in NUMERIC_DATATYPES.items()}


def encode_request(
    inputs: Mapping[str, np.ndarray],
    *,
    binary: bool = False,
    outputs: Mapping[str, bool] | None = None,
    request_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """A request body for the named input arrays, their data as JSON or
    binary; `outputs` maps each wanted output to whether it comes back in
    binary. Returns the body and the JSON header's length (None for JSON)."""
    tensors: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name, array in inputs.items():
        datatype = _DATATYPE_OF[array.dtype.newbyteorder("=")]
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            raw = np.ascontiguousarray(array, dtype=NUMERIC_DATATYPES[datatype]).tobytes()
            tensor["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            tensor["data"] = array.ravel().tolist()
        tensors.append(tensor)
    document: dict[str, Any] = {"inputs": tensors}
    if request_id is not None:
        document["id"] = request_id
    if outputs is not None:
        document["outputs"] = [
            {"name": name, "parameters": {"binary_data": b}} for name, b in outputs.items()
        ]
    if parameters:
        document["parameters"] = dict(parameters)
    header = orjson.dumps(document)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def decode_response(
    body: bytes, header_length: int | None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A response body -> (its JSON header, each output as a numpy array in
    its shape; BYTES as an array of str)."""
    header = body if header_length is None else body[:header_length]
    binary = memoryview(body)[len(header) :]
    document = orjson.loads(header)
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for output in document["outputs"]:
        size = (output.get("parameters") or {}).get("binary_data_size")
        array: np.ndarray
        if size is None:
            data = output["data"]
            array = (
                np.array(data, dtype=object)
                if output["datatype"] == "BYTES"
                else np.array(data, dtype=NUMERIC_DATATYPES[output["datatype"]])
            )
        else:
            chunk = binary[offset : offset + size]
            offset += size
            if output["datatype"] == "BYTES":
                array = np.array([b.decode() for b in from_bytes(chunk)], dtype=object)
            else:
                array = np.frombuffer(chunk, dtype=NUMERIC_DATATYPES[output["datatype"]])
        arrays[output["name"]] = array.reshape(output["shape"])
    return document, arrays
