"""Request payloads: every body shape of the contract (DESIGN 4.1) decoded
into one 2-D float array in the model's feature order, and rows encoded
into those bodies for clients such as the web app.

Decoding is strict: a cell that is not a number (booleans included), a row
of the wrong length, an unknown, missing or duplicate feature name, or a
value out of float range is an `InvalidRows` (422) naming its row and
column; a body that is not JSON/CSV at all is a `MalformedPayload` (400).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from shared.media import Format, RequestFormat
from shared.problems import (
    MAX_LISTED_ERRORS,
    MAX_SCANNED_ERRORS,
    CellError,
    InvalidRows,
    MalformedPayload,
    PayloadTooLarge,
)

Cell = Any
Column = str | int

JSON_SHAPES = (
    '{"instances": [[...], ...]} or [{"name": value, ...}], {"inputs": ...} (the same), '
    'a bare array of rows [[...], ...], {"dataframe_split": {"columns": [...], "data": [[...]]}}, '
    '{"dataframe_records": [{...}, ...]}'
)


@dataclass(frozen=True)
class InputSchema:
    """What the decoder needs to know of the model: feature names in order,
    whether NaN means 'missing', and how many rows one request may carry."""

    features: tuple[str, ...]
    allow_missing: bool = False
    max_rows: int = 100_000

    @property
    def width(self) -> int:
        return len(self.features)


def decode(body: bytes, fmt: RequestFormat, schema: InputSchema) -> np.ndarray:
    """Any accepted request body -> float64 array of shape (rows, features)."""
    if not body.strip():
        raise MalformedPayload("The request body is empty; send at least one row.")
    if fmt.format is Format.CSV:
        return decode_csv(_text(body, fmt.charset), schema, header=fmt.header)
    return decode_json(body, schema, charset=fmt.charset)


def _text(body: bytes, charset: str) -> str:
    try:
        # utf-8-sig: spreadsheets like to start their CSV with a byte-order mark.
        return body.decode("utf-8-sig" if charset in ("utf-8", "utf8") else charset)
    except UnicodeDecodeError as exc:
        raise MalformedPayload(
            f"The body is not valid {charset}: byte {exc.start} cannot be decoded."
        ) from None


# --- CSV ---------------------------------------------------------------------


def decode_csv(text: str, schema: InputSchema, header: bool | None = None) -> np.ndarray:
    """RFC 4180 rows; a header row is used when declared (`header=present`)
    or when the first row is exactly the feature names, in any order."""
    if '"' not in text:
        fast = _fast_csv(text, schema, header)
        if fast is not None:
            return fast
    try:
        if '"' in text:
            lines = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
        else:  # no quoting: RFC 4180 reduces to splitting at commas, several times faster
            lines = [line.split(",") for line in text.splitlines() if line]
    except csv.Error as exc:
        raise MalformedPayload(f"The body is not valid CSV: {exc}.") from None
    if not lines:
        raise MalformedPayload("The CSV body has no rows.")
    first = [cell.strip() for cell in lines[0]]
    if header is None:
        header = sorted(first) == sorted(schema.features)
    # Without a header the columns are the features in model order, so an
    # error can still name its feature.
    columns: Sequence[Column] = schema.features
    order: list[int] | None = None
    if header:
        order = _column_order(first, schema)
        columns = [first[i] for i in range(len(first))]
        lines = lines[1:]
        if not lines:
            raise InvalidRows("The CSV body has a header but no data rows.")
    _check_row_count(len(lines), schema)
    rows: list[list[float]] = []
    errors: list[CellError] = []
    for index, line in enumerate(lines):
        if len(errors) >= MAX_SCANNED_ERRORS:
            raise InvalidRows.from_errors(errors, complete=False)
        if len(line) != len(columns):
            errors.append(
                CellError(row=index, message=f"expected {len(columns)} columns, got {len(line)}")
            )
            continue
        values = [
            _csv_cell(cell, index, col, schema, errors)
            for cell, col in zip(line, columns, strict=True)
        ]
        rows.append(values if order is None else [values[i] for i in order])
    if errors:
        raise InvalidRows.from_errors(errors)
    return np.array(rows, dtype=np.float64)


def _fast_csv(text: str, schema: InputSchema, header: bool | None) -> np.ndarray | None:
    """Unquoted CSV of plainly valid numbers, parsed by numpy in C (about
    twice as fast as splitting in Python); None sends the body down the
    cell-by-cell path, which also names whatever is wrong."""
    body = text.lstrip("\r\n")
    first, _, rest = body.partition("\n")
    names = [cell.strip() for cell in first.split(",")]
    if header is None:
        header = sorted(names) == sorted(schema.features)
    order = None
    if header:
        if sorted(names) != sorted(schema.features):
            return None
        order = [names.index(feature) for feature in schema.features]
        body = rest
    # numpy, like float(), takes "1_000"; an empty body makes loadtxt warn
    if "_" in body or not body.strip():
        return None
    try:
        array = np.loadtxt(
            io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2, comments=None
        )
    except ValueError:
        return None
    if array.shape[1] != schema.width or not np.isfinite(array).all():
        return None
    _check_row_count(len(array), schema)
    return array if order is None else np.ascontiguousarray(array[:, order])


def _column_order(header: list[str], schema: InputSchema) -> list[int]:
    """Positions, in the header, of the model's features in model order."""
    errors: list[CellError] = []
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in position:
            errors.append(
                CellError(column=name, message=f"duplicate column {name!r} in the header")
            )
        elif name not in schema.features:
            errors.append(
                CellError(
                    column=name,
                    message=f"unknown feature {name!r}; expected: {', '.join(schema.features)}",
                )
            )
        position.setdefault(name, i)
    errors += [
        CellError(column=name, message=f"missing feature {name!r} in the header")
        for name in schema.features
        if name not in position
    ]
    if errors:
        raise InvalidRows.from_errors(errors)
    return [position[name] for name in schema.features]


def _csv_cell(
    cell: str, row: int, column: Column, schema: InputSchema, errors: list[CellError]
) -> float:
    text = cell.strip()
    if not text:
        if schema.allow_missing:
            return math.nan
        errors.append(
            CellError(row=row, column=column, message="empty cell; this model needs every value")
        )
        return math.nan
    try:
        if "_" in text:  # Python's float() takes "1_000"; CSV readers elsewhere do not
            raise ValueError(text)
        value = float(text)
    except ValueError:
        errors.append(CellError(row=row, column=column, message=f"not a number: {cell!r}"))
        return math.nan
    return _checked(value, row, column, schema, errors)


# --- JSON --------------------------------------------------------------------


def decode_json(body: bytes, schema: InputSchema, charset: str = "utf-8") -> np.ndarray:
    document = _parse_json(body, charset)
    columns, rows = _rows_of(document)
    if isinstance(rows, Mapping):  # {"instances": {"name": value}} is one row by name
        rows = [rows]
    if not isinstance(rows, list):
        raise MalformedPayload(
            f"Expected a list of rows, got {_kind(rows)}. Accepted shapes: {JSON_SHAPES}."
        )
    if not rows:
        raise InvalidRows("There are no rows to predict.")
    if columns is None and all(_is_scalar(v) for v in rows) and len(rows) == schema.width != 1:
        rows = [rows]  # one flat instance, e.g. {"instances": [5.1, 3.5, 1.4, 0.2]}
    _check_row_count(len(rows), schema)
    by_name = columns is None and isinstance(rows[0], Mapping)
    if by_name and charset in ("utf-8", "utf8"):
        _reject_duplicate_keys(body)
    order = _column_order(columns, schema) if columns is not None else None
    names = columns if columns is not None else schema.features
    # Booleans hide inside a numeric numpy array (True -> 1.0), so the fast
    # path is only taken when the body cannot hold one.
    if not by_name and b"true" not in body and b"false" not in body:
        fast = _fast_array(rows, len(names))
        if fast is not None:
            return fast if order is None else np.ascontiguousarray(fast[:, order])
    return _json_rows(rows, schema, names, order, by_name)


def _json_rows(
    rows: Sequence[Any],
    schema: InputSchema,
    names: Sequence[str],
    order: list[int] | None,
    by_name: bool,
) -> np.ndarray:
    """Rows of JSON values checked cell by cell, into a float array in feature order."""
    errors: list[CellError] = []
    out = []
    for i, row in enumerate(rows):
        if len(errors) >= MAX_SCANNED_ERRORS:
            raise InvalidRows.from_errors(errors, complete=False)
        out.append(_json_row(row, i, schema, errors, names, order, by_name))
    if errors:
        raise InvalidRows.from_errors(errors)
    return np.array(out, dtype=np.float64).reshape(len(out), schema.width)


def _parse_json(body: bytes, charset: str) -> Any:
    if charset not in ("utf-8", "utf8"):
        body = _text(body, charset).encode()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses what Python's json module writes for non-finite floats
    # (NaN, Infinity) and numbers beyond float range. The stdlib parser reads
    # them (integers too long for Python's int() as floats, i.e. inf), so
    # they are reported as a 422 on their cell.
    try:
        return json.loads(body, parse_int=_parse_int, parse_constant=float)
    except RecursionError:
        raise InvalidRows(
            "The body nests lists or objects too deep to read; rows are lists of numbers "
            "or objects of feature values."
        ) from None
    except ValueError as exc:
        raise MalformedPayload(f"The body is not valid JSON: {exc}.") from None


def _rows_of(document: Any) -> tuple[list[str] | None, Any]:
    """(column names or None, rows) from any accepted top-level shape."""
    if isinstance(document, list):
        return None, document
    if not isinstance(document, dict):
        raise MalformedPayload(
            f"Expected a JSON object or array, got {_kind(document)}. Accepted shapes: {JSON_SHAPES}."
        )
    keys = [
        k for k in ("instances", "inputs", "dataframe_split", "dataframe_records") if k in document
    ]
    if len(keys) != 1:
        found = f"keys {sorted(document)[:5]}" if document else "an empty object"
        if len(keys) > 1:
            found = f"more than one of {keys}"
        raise MalformedPayload(
            f"Expected exactly one of instances, inputs, dataframe_split, dataframe_records; found {found}. Accepted shapes: {JSON_SHAPES}."
        )
    key = keys[0]
    value = document[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records" and not isinstance(value, list):
        raise MalformedPayload(f"dataframe_records must be a list of objects, got {_kind(value)}.")
    if (
        key in ("instances", "inputs")
        and isinstance(value, dict)
        and value
        and all(isinstance(v, list) for v in value.values())
    ):
        return _columnar(value)
    return None, value


def _split(value: Any) -> tuple[list[str] | None, Any]:
    if not isinstance(value, dict) or "data" not in value:
        raise MalformedPayload(
            'dataframe_split must be an object with "data" (and usually "columns").'
        )
    columns = value.get("columns")
    if columns is not None and not (
        isinstance(columns, list) and all(isinstance(c, str) for c in columns)
    ):
        raise MalformedPayload("dataframe_split.columns must be a list of feature names.")
    return columns, value["data"]


def _columnar(value: dict[str, list[Any]]) -> tuple[list[str], list[list[Any]]]:
    """{"name": [v0, v1, ...], ...} (TF-serving's columnar form) -> rows."""
    lengths = {len(v) for v in value.values()}
    if len(lengths) != 1:
        raise InvalidRows(
            "Columnar inputs have columns of different lengths: "
            + ", ".join(f"{k}: {len(v)}" for k, v in value.items())
        )
    columns = list(value)
    return columns, [list(cells) for cells in zip(*value.values(), strict=True)]


def _json_row(
    row: Any,
    index: int,
    schema: InputSchema,
    errors: list[CellError],
    names: Sequence[str],
    order: list[int] | None,
    by_name: bool,
) -> list[float]:
    """One row; `names` are the columns as given, `order` maps them to the model's."""
    if by_name:
        if not isinstance(row, Mapping):
            errors.append(
                CellError(
                    row=index,
                    message=f"expected an object of feature values like the first row, got {_kind(row)}",
                )
            )
            return [math.nan] * schema.width
        return _named_row(row, index, schema, errors)
    if not isinstance(row, list):
        errors.append(
            CellError(
                row=index, message=f"expected a list of {schema.width} numbers, got {_kind(row)}"
            )
        )
        return [math.nan] * schema.width
    if any(isinstance(v, (list, dict)) for v in row):
        errors.append(
            CellError(
                row=index, message="row nested too deep: expected numbers, got a list or object"
            )
        )
        return [math.nan] * schema.width
    if len(row) != len(names):
        errors.append(CellError(row=index, message=f"expected {len(names)} values, got {len(row)}"))
        return [math.nan] * schema.width
    values = [
        _json_cell(v, index, name, schema, errors) for v, name in zip(row, names, strict=True)
    ]
    return values if order is None else [values[j] for j in order]


def _named_row(
    row: Mapping[str, Any], index: int, schema: InputSchema, errors: list[CellError]
) -> list[float]:
    unknown = [k for k in row if k not in schema.features]
    for name in unknown:
        errors.append(
            CellError(
                row=index,
                column=str(name),
                message=f"unknown feature {name!r}; expected: {', '.join(schema.features)}",
            )
        )
    values = []
    for name in schema.features:
        if name not in row:
            errors.append(CellError(row=index, column=name, message=f"missing feature {name!r}"))
            values.append(math.nan)
        else:
            values.append(_json_cell(row[name], index, name, schema, errors))
    return values


def _json_cell(
    value: Cell, row: int, column: Column, schema: InputSchema, errors: list[CellError]
) -> float:
    kind = type(value)
    if kind is float or kind is int:
        try:
            number = float(value)
        except OverflowError:
            errors.append(
                CellError(
                    row=row,
                    column=column,
                    message=f"number out of float range: {str(value)[:20]}...",
                )
            )
            return math.nan
        return _checked(number, row, column, schema, errors)
    if value is None:
        if schema.allow_missing:
            return math.nan
        errors.append(
            CellError(row=row, column=column, message="null; this model needs every value")
        )
    elif kind is bool:
        errors.append(
            CellError(
                row=row,
                column=column,
                message=f"not a number: {json.dumps(value)} (booleans are not numbers)",
            )
        )
    elif kind is list or kind is dict:
        errors.append(
            CellError(
                row=row,
                column=column,
                message=f"expected a number, got {_kind(value)} (rows nested too deep?)",
            )
        )
    else:
        errors.append(
            CellError(row=row, column=column, message=f"not a number: {json.dumps(value)[:40]}")
        )
    return math.nan


def _checked(
    value: float, row: int, column: Column, schema: InputSchema, errors: list[CellError]
) -> float:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        if not schema.allow_missing:
            errors.append(
                CellError(row=row, column=column, message="NaN; this model needs every value")
            )
    else:
        errors.append(
            CellError(row=row, column=column, message="number out of float range (infinite)")
        )
    return value


def _parse_int(text: str) -> int | float:
    # int() refuses more than 4,300 digits; such a number is out of float
    # range anyway, and float() says so by returning inf.
    return int(text) if len(text) < 300 else float(text)


def _reject_duplicate_keys(body: bytes) -> None:
    """Rows given by name must not name a feature twice; orjson keeps the last
    silently, so objects are read again with a hook that sees every pair."""
    duplicates: list[tuple[int, str]] = []
    objects = 0  # rows are the innermost objects, so the hook sees them in row order

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal objects
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                duplicates.append((objects, key))
            seen.add(key)
        objects += 1
        return dict(items)

    try:
        json.loads(body, object_pairs_hook=pairs, parse_int=_parse_int, parse_constant=float)
    except ValueError:
        return  # already parsed once; numbers out of range are reported per cell
    if duplicates:
        raise InvalidRows.from_errors(
            [
                CellError(
                    row=row, column=name, message=f"feature {name!r} is given twice in one row"
                )
                for row, name in duplicates
            ]
        )


def _fast_array(rows: list[Any], width: int) -> np.ndarray | None:
    """JSON rows as a float array when every cell is a plain finite number,
    so numpy converts them in one call; None sends them down the
    cell-by-cell path, which finds and names whatever is wrong."""
    try:
        array = np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    # strings, None, objects and all-boolean rows are not numbers
    if array.dtype.kind not in "fi" or array.ndim != 2 or array.shape[1] != width:
        return None
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        return None
    return array


def _check_row_count(count: int, schema: InputSchema) -> None:
    if count > schema.max_rows:
        raise PayloadTooLarge(
            f"{count} rows is more than the limit of {schema.max_rows} rows per request; split the batch."
        )


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (list, dict))


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


# --- arrays, for other protocols (the Open Inference Protocol's tensors) -----------


def parse_json(body: bytes, charset: str = "utf-8") -> Any:
    """A JSON document, or `MalformedPayload`; numbers beyond float range are
    read (as inf or big ints) so that they can be reported on their cell."""
    return _parse_json(body, charset)


def rows_to_array(rows: Sequence[Any], schema: InputSchema) -> np.ndarray:
    """Rows of JSON values in the model's feature order -> float64 array of
    shape (rows, features), every cell checked as `decode_json` checks it."""
    _check_row_count(len(rows), schema)
    return _json_rows(rows, schema, schema.features, None, False)


def check_array(X: np.ndarray, schema: InputSchema) -> np.ndarray:
    """A float array already in feature order, checked as the decoders check
    their cells: the row limit, NaN only when `allow_missing`, no infinity.
    Vectorised, so a large binary tensor is not walked cell by cell."""
    _check_row_count(len(X), schema)
    bad = ~np.isfinite(X)
    if schema.allow_missing:
        bad &= ~np.isnan(X)
    if not bad.any():
        return X
    rows, columns = np.nonzero(bad)
    errors: list[CellError] = []
    # Only the cells that will be listed are described, by the same check
    # the text decoders use, so every protocol words an error alike.
    for row, column in zip(
        rows[:MAX_LISTED_ERRORS].tolist(), columns[:MAX_LISTED_ERRORS].tolist(), strict=True
    ):
        _checked(float(X[row, column]), row, schema.features[column], schema, errors)
    raise InvalidRows.from_errors(errors, total=len(rows))


def check_row_count(count: int, schema: InputSchema) -> None:
    """`PayloadTooLarge` (413) when `count` rows exceed the schema's limit."""
    _check_row_count(count, schema)


def kind_of(value: Any) -> str:
    """A JSON value's kind in words ("a list", "null"...), for error messages."""
    return _kind(value)


# --- encoding, for clients ------------------------------------------------------


def encode_json_rows(rows: Iterable[Sequence[float | None]], key: str = "instances") -> bytes:
    """Rows in feature order as `{"instances": [[...], ...]}` (NaN as null)."""
    return orjson.dumps({key: [[_json_value(v) for v in row] for row in rows]})


def encode_csv_rows(
    rows: Iterable[Sequence[float | None]], features: Sequence[str] | None = None
) -> bytes:
    """Rows as RFC 4180 CSV, with a header line when `features` is given
    (send it as `text/csv; header=present`). Missing values are empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if features is not None:
        writer.writerow(features)
    for row in rows:
        writer.writerow(["" if _json_value(v) is None else repr(float(v)) for v in row])  # type: ignore[arg-type]
    return buffer.getvalue().encode()


def _json_value(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value
