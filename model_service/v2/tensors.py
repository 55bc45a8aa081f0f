"""Tensors -> rows: the inputs of an inference request as one array (rows,
features) in the model's feature order, as `model_service.inputs` gives
the native routes (float64, or object where the model has categorical
features, whose inputs are BYTES tensors of strings), checked exactly as
the native routes check their rows (`shared.codecs`): the same limits, the
same cell checks, the same words for the same fault."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_service.inputs import as_array, check_array
from model_service.v2.metadata import NUMERIC_DATATYPES
from shared.codecs.json import decode_json_rows
from shared.codecs.rows import InputSchema, check_row_count
from shared.problems import MAX_LISTED_ERRORS, CellError, InvalidRows, MalformedPayload


@dataclass(frozen=True)
class Tensor:
    """One input as read from the request, its values not yet checked."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    #: binary data as an array of the datatype (BYTES: a list of strings),
    #: or JSON data as a flat list
    values: np.ndarray | list[Any]


def tensor_rows(tensors: list[Tensor], schema: InputSchema) -> np.ndarray:
    """The tensors as one array (rows, features) in feature order, checked
    by the shared codecs exactly as the native routes check rows."""
    features = schema.features
    single = tensors[0]
    whole = len(single.shape) == 2 and single.shape[1] == schema.width
    if len(tensors) == 1 and (single.name not in features or whole):
        if schema.categorical:
            raise InvalidRows(
                f"Input {single.name!r} holds every feature, but a single [N, F] input is for "
                f"models whose features are all numbers; this model's categorical features "
                f"({', '.join(schema.categorical)}) are BYTES. Send one input per feature, "
                f"named {', '.join(features)}, each of shape [N]."
            )
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
    check_row_count(n, schema)
    if schema.categorical:
        return _mixed_rows(tensors_in_order, schema)
    arrays = []
    for tensor in tensors_in_order:
        array = _as_float(tensor, columns_of[tensor.name])
        if array is None:
            # Some cell is not a plain number (null, a string, a boolean...):
            # the shared decoder words the error, or reads null as missing.
            rows = decode_json_rows(_python_rows(tensors_in_order, n, schema.width), schema)
            return as_array(rows, schema)
        arrays.append(array)
    X = arrays[0].reshape(n, schema.width) if len(arrays) == 1 else np.column_stack(arrays)
    return check_array(X, schema)


def _mixed_rows(tensors: list[Tensor], schema: InputSchema) -> np.ndarray:
    """Per-feature tensors of numbers and of categories as rows of cells,
    checked by the shared JSON cell checks (categories against training's)."""
    columns: list[list[Any]] = []
    for tensor in tensors:
        if tensor.datatype == "BYTES":
            columns.append(list(tensor.values))
            continue
        array = _as_float(tensor, (tensor.name,))
        values = tensor.values if array is None else array
        columns.append(values.tolist() if isinstance(values, np.ndarray) else values)
    rows = decode_json_rows([list(row) for row in zip(*columns, strict=True)], schema)
    return as_array(rows, schema)


def _by_feature(tensors: list[Tensor], schema: InputSchema) -> list[Tensor]:
    """One tensor per feature, put in feature order. A feature unknown,
    missing or given twice, or tensors that are not all [N] or [N, 1] with
    the same N, are row errors (422) on the feature's column, as a header
    or rows by name are on `/invocations`."""
    features = schema.features
    errors: list[CellError] = []
    given: dict[str, Tensor] = {}
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
        f"the same N"
        + (
            f"; categorical features ({', '.join(schema.categorical)}) as BYTES."
            if schema.categorical
            else f"; or a single input of shape [N, {schema.width}]."
        )
    )
    return InvalidRows(detail, listed)


def _as_float(tensor: Tensor, columns: Sequence[str]) -> np.ndarray | None:
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


def _python_rows(columns: list[Tensor], n: int, width: int) -> list[list[Any]]:
    flats = [t.values.tolist() if isinstance(t.values, np.ndarray) else t.values for t in columns]
    if len(flats) == 1:
        flat = flats[0]
        return [flat[i * width : (i + 1) * width] for i in range(n)]
    return [list(row) for row in zip(*flats, strict=True)]
