"""Inference responses: the model's outputs as the protocol's tensors, in
JSON or, for outputs asked for in binary, as raw bytes after the JSON
header (BYTES elements each a 4-byte little-endian length, then the bytes)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from model_service.predictor import PredictionArrays
from model_service.v2.metadata import PREDICT_PROBA
from model_service.v2.request import InferRequest
from shared.answers import ModelRef


def encode_response(
    prediction: PredictionArrays, model: ModelRef, request: InferRequest
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


def _output(prediction: PredictionArrays, name: str) -> tuple[str, list[int], np.ndarray]:
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
