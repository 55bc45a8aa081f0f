"""A client for the Open Inference Protocol, for tests: request bodies
encoded from numpy arrays (JSON or binary tensor data), response bodies
decoded into arrays, as tritonclient does. It shares nothing with the
server's codec but the protocol's table of datatypes."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from model_service.v2 import NUMERIC_DATATYPES
from shared.problems import MalformedPayload

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


def from_bytes(raw: bytes | memoryview) -> list[bytes]:
    """The elements of a binary BYTES tensor (each a 4-byte little-endian length, then the bytes)."""
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
