"""Inference requests: the JSON document (and, with the binary tensor data
extension, the raw bytes after it) read into its inputs, parameters and
requested outputs; the inputs become rows in `model_service.v2.tensors`."""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from model_service.v2.metadata import NUMERIC_DATATYPES, PREDICT_PROBA
from model_service.v2.tensors import Tensor, tensor_rows
from shared.codecs.json import parse_json
from shared.codecs.rows import InputSchema, kind_of
from shared.problems import MalformedPayload

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


def decode_request(
    body: bytes,
    header_length: str | None,
    schema: InputSchema,
    outputs: Sequence[str],
    charset: str = "utf-8",
) -> InferRequest:
    """An inference request body -> rows in feature order and the outputs to
    send back. `header_length` is the `Inference-Header-Content-Length`
    header (None when the body is JSON only); `outputs` the model's output
    names; `charset` the one the JSON header is in (the binary data after
    it is raw bytes, its length counted in bytes either way)."""
    if not body or body.isspace():  # (strip() would copy a large body)
        raise MalformedPayload("The request body is empty; send an inference request.")
    header, binary = _split(body, header_length)
    document = parse_json(header, charset)
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
    tensors = _read_inputs(document.get("inputs"), binary, schema)
    X = tensor_rows(tensors, schema)
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


def _read_inputs(value: Any, binary: memoryview, schema: InputSchema) -> list[Tensor]:
    if value is None:
        raise MalformedPayload("The request has no `inputs`.")
    if not isinstance(value, list) or not value:
        raise MalformedPayload("`inputs` must be a non-empty list of tensors.")
    tensors: list[Tensor] = []
    offset = 0
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise MalformedPayload(f"inputs[{i}] must be an object, got {kind_of(item)}.")
        name = item.get("name")
        if not isinstance(name, str):
            raise MalformedPayload(f"inputs[{i}] has no `name` string.")
        datatype = _datatype(item.get("datatype"), name, schema)
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
            values = (
                _binary_strings(binary, offset, size, name, count)
                if datatype == "BYTES"
                else _binary_values(binary, offset, size, name, datatype, shape, count)
            )
            offset += size
        elif "data" in item:
            values = _json_values(item["data"], name, shape, count)
        else:
            raise MalformedPayload(
                f"Input {name!r} has no `data` (and no parameters.binary_data_size)."
            )
        tensors.append(Tensor(name, datatype, shape, values))
    if offset != len(binary):
        raise MalformedPayload(
            f"The body has {len(binary)} bytes of binary data after the JSON header, "
            f"but the inputs' binary_data_size add up to {offset}."
        )
    return tensors


def _datatype(value: Any, name: str, schema: InputSchema) -> str:
    """The input's datatype: a numeric one, or BYTES for a tensor named
    after a categorical feature (whose inputs must be BYTES)."""
    if value is None:
        raise MalformedPayload(f"Input {name!r} has no `datatype`.")
    categorical = name in schema.categorical
    if categorical and value != "BYTES":
        raise MalformedPayload(
            f"Input {name!r} has datatype {value!r}, but feature {name!r} is categorical; "
            "send its categories as BYTES (strings)."
        )
    if value == "BYTES" and categorical:
        return "BYTES"
    if value not in NUMERIC_DATATYPES:
        known = value in _KNOWN_DATATYPES
        bytes_for = (
            f"; BYTES only for the categorical features ({', '.join(schema.categorical)})"
            if schema.categorical
            else ""
        )
        raise MalformedPayload(
            f"Input {name!r} has datatype {value!r}"
            + (", which this model does not take" if known else ", which is not a V2 datatype")
            + f"; send numbers as one of {', '.join(NUMERIC_DATATYPES)}{bytes_for}."
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


def _binary_strings(binary: memoryview, offset: int, size: int, name: str, count: int) -> list[str]:
    """A BYTES tensor's binary data: each element a 4-byte little-endian
    length, then that many bytes (UTF-8 text here: a category)."""
    if offset + size > len(binary):
        raise MalformedPayload(
            f"Input {name!r} needs bytes {offset} to {offset + size} of the binary data, "
            f"but there are only {len(binary)}."
        )
    data = binary[offset : offset + size]
    values: list[str] = []
    at = 0
    while at < size:
        if at + 4 > size:
            raise MalformedPayload(
                f"The BYTES data of input {name!r} ends inside the length of element {len(values)}."
            )
        (length,) = struct.unpack_from("<I", data, at)
        at += 4
        if at + length > size:
            raise MalformedPayload(
                f"Element {len(values)} of input {name!r} is {length} bytes long, but its "
                f"BYTES data ends {at + length - size} bytes before it does."
            )
        try:
            values.append(str(data[at : at + length], "utf-8"))
        except UnicodeDecodeError:
            raise MalformedPayload(
                f"Element {len(values)} of input {name!r} is not UTF-8 text; a category is a string."
            ) from None
        at += length
    if len(values) != count:
        raise MalformedPayload(
            f"Input {name!r} has {count} elements by its shape, but its BYTES data holds {len(values)}."
        )
    return values


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
