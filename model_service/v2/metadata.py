"""The protocol's names (media types, datatypes, output names) and what the
server and the model say about themselves: the server and model metadata
responses, derived from the model card."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from shared.card import ModelCard

#: The header that says where the JSON ends and binary tensor data begins.
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


def output_names(card: ModelCard) -> tuple[str, ...]:
    """MLServer's scikit-learn runtime names: `predict`, and for
    classifiers `predict_proba`."""
    return (PREDICT, PREDICT_PROBA) if card.is_classifier else (PREDICT,)


def server_metadata(name: str, version: str) -> dict[str, Any]:
    return {"name": name, "version": version, "extensions": list(EXTENSIONS)}


def model_metadata(card: ModelCard) -> dict[str, Any]:
    """The model metadata response, derived from the card: one input per
    feature, named after it, with its own datatype (FP64 for a number,
    BYTES for a categorical feature's strings, its categories listed); for
    a model of numbers only, a single `[N, F]` tensor in this order is
    accepted as well. The outputs are those `output_names` gives."""
    inputs = []
    for feature in card.features:
        parameters: dict[str, Any]
        if feature.is_categorical:
            # parameter values are scalars in the protocol, so the list is a JSON string
            parameters = {
                "categories": orjson.dumps(feature.categories).decode(),
                "handles_unknown": feature.handles_unknown,
            }
        else:
            parameters = {"min": feature.min, "max": feature.max}
        if feature.description:
            parameters["description"] = feature.description
        if feature.unit:
            parameters["unit"] = feature.unit
        inputs.append(
            {
                "name": feature.name,
                "datatype": "BYTES" if feature.is_categorical else "FP64",
                "shape": [-1],
                "parameters": parameters,
            }
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
            "in the order of `inputs`, or one tensor per feature named after it"
            if card.is_numeric
            else "one tensor per feature named after it, of shape [N]: BYTES (UTF-8 strings) "
            "for a categorical feature, FP64/FP32/INT for a number",
        },
    }
