"""JSON request bodies: every shape the native API accepts (see
docs/native-api.md) read into rows, and rows encoded for clients.

Reading is two steps so the model service can convert plainly valid rows
in one numpy call between them: `read_json_table` parses the body and
settles its shape (which rows, which columns, in which order) and
`JsonTable.checked_rows` checks every cell. `decode_json_request` does
both and is the definition of what is valid.

The module is longer than most because it is that definition: five body
shapes, rows by position or by name, and a worded error for each way a
row or cell can be wrong. Split further, one rule would be spread over
several files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from shared.codecs.rows import (
    Categorical,
    Cell,
    Column,
    InputSchema,
    Rows,
    body_text,
    check_category,
    check_number,
    check_row_count,
    column_order,
    kind_of,
)
from shared.problems import MAX_SCANNED_ERRORS, CellError, InvalidRows, MalformedPayload

JSON_SHAPES = (
    '{"instances": [[...], ...]} or [{"name": value, ...}], {"inputs": ...} (the same), '
    'a bare array of rows [[...], ...], {"dataframe_split": {"columns": [...], "data": [[...]]}}, '
    '{"dataframe_records": [{...}, ...]}'
)


def decode_json_request(body: bytes, schema: InputSchema, charset: str = "utf-8") -> Rows:
    """Any accepted JSON body -> rows in feature order, every cell checked."""
    return read_json_table(body, schema, charset).checked_rows()


# Not frozen: one is built per request, and on a one-row request the
# frozen dataclass's __init__ alone costs a tenth of the decoding.
@dataclass(slots=True)
class JsonTable:
    """A JSON body's rows as given, before their cells are checked."""

    schema: InputSchema
    #: lists of values, or (`by_name`) objects of feature values
    rows: list[Any]
    #: the columns of a row as given: the features unless the body names them
    names: Sequence[str]
    #: positions, in `names`, of the model's features; None when in model order
    order: list[int] | None = None
    by_name: bool = False

    def checked_rows(self) -> Rows:
        """The rows in feature order, every cell checked; `InvalidRows`
        naming each wrong cell (the first `MAX_SCANNED_ERRORS` of them)."""
        errors: list[CellError] = []
        out: Rows = []
        for i, row in enumerate(self.rows):
            if len(errors) >= MAX_SCANNED_ERRORS:
                raise InvalidRows.from_errors(errors, complete=False)
            out.append(self._row(row, i, errors))
        if errors:
            raise InvalidRows.from_errors(errors)
        return out

    def _row(self, row: Any, index: int, errors: list[CellError]) -> list[Cell]:
        schema = self.schema
        if self.by_name:
            if not isinstance(row, Mapping):
                errors.append(
                    CellError(
                        row=index,
                        message=f"expected an object of feature values like the first row, got {kind_of(row)}",
                    )
                )
                return [math.nan] * schema.width
            return _named_row(row, index, schema, errors)
        if not isinstance(row, list):
            errors.append(
                CellError(
                    row=index,
                    message=f"expected a list of {schema.width} {'numbers' if schema.is_numeric else 'values'}, got {kind_of(row)}",
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
        if len(row) != len(self.names):
            errors.append(
                CellError(row=index, message=f"expected {len(self.names)} values, got {len(row)}")
            )
            return [math.nan] * schema.width
        values = [
            _cell(v, index, name, schema, errors) for v, name in zip(row, self.names, strict=True)
        ]
        return values if self.order is None else [values[j] for j in self.order]


def read_json_table(body: bytes, schema: InputSchema, charset: str = "utf-8") -> JsonTable:
    """Parse the body and settle its shape: `MalformedPayload` for a body
    that is not JSON or no accepted shape, `InvalidRows` for no rows or bad
    column names, `PayloadTooLarge` for too many rows."""
    body = utf8_json(body, charset)
    document = parse_json(body)
    columns, rows = _rows_of(document)
    if isinstance(rows, Mapping):  # {"instances": {"name": value}} is one row by name
        rows = [rows]
    if not isinstance(rows, list):
        raise MalformedPayload(
            f"Expected a list of rows, got {kind_of(rows)}. Accepted shapes: {JSON_SHAPES}."
        )
    if not rows:
        raise InvalidRows("There are no rows to predict.")
    if columns is None and all(_is_scalar(v) for v in rows) and len(rows) == schema.width != 1:
        rows = [rows]  # one flat instance, e.g. {"instances": [5.1, 3.5, 1.4, 0.2]}
    check_row_count(len(rows), schema)
    by_name = columns is None and isinstance(rows[0], Mapping)
    if by_name:  # in any charset: the body is UTF-8 by now
        _reject_duplicate_keys(body)
    if columns is None:
        return JsonTable(schema, rows, schema.features, None, by_name)
    return JsonTable(schema, rows, columns, column_order(columns, schema))


def decode_json_rows(rows: Sequence[Any], schema: InputSchema) -> Rows:
    """Rows of JSON values already in the model's feature order (as other
    protocols carry them), checked as `decode_json_request` checks its rows."""
    check_row_count(len(rows), schema)
    return JsonTable(schema, list(rows), schema.features).checked_rows()


def utf8_json(body: bytes, charset: str = "utf-8") -> bytes:
    """The body in UTF-8, read strictly in its declared charset (checked by
    `shared.media.check_charset`): unchanged when it is UTF-8 already,
    `MalformedPayload` for bytes that are not valid in the charset."""
    if charset in ("utf-8", "utf8"):
        return body
    return body_text(body, charset).encode("utf-8")


def parse_json(body: bytes, charset: str = "utf-8") -> Any:
    """A JSON document, or `MalformedPayload`; numbers beyond float range are
    read (as inf or big ints) so that they can be reported on their cell.
    The bytes are read in `charset` (UTF-8 unless declared otherwise), never
    guessed: a UTF-16 body declared as UTF-8 is a 400, not read as UTF-16."""
    body = utf8_json(body, charset)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses what Python's json module writes for non-finite floats
    # (NaN, Infinity) and numbers beyond float range. The stdlib parser reads
    # them (integers too long for Python's int() as floats, i.e. inf), so
    # they are reported as a 422 on their cell. It is given text, decoded
    # strictly: given bytes, it would guess UTF-16 or UTF-32 from their
    # shape and let surrogates through.
    try:
        text = body.decode("utf-8-sig")  # a byte-order mark is allowed (RFC 8259 8.1)
    except UnicodeDecodeError as exc:
        raise MalformedPayload(
            f"The body is not valid utf-8: byte {exc.start} cannot be decoded."
        ) from None
    try:
        document = json.loads(text, parse_int=_parse_int, parse_constant=float)
    except RecursionError:
        raise InvalidRows(
            "The body nests lists or objects too deep to read; rows are lists of numbers "
            "or objects of feature values."
        ) from None
    except ValueError as exc:
        raise MalformedPayload(f"The body is not valid JSON: {exc}.") from None
    if _lone_surrogate(document):
        raise MalformedPayload(
            "The body is not valid JSON text: a \\u escape is half a surrogate pair."
        )
    return document


def _lone_surrogate(document: Any) -> bool:
    """Whether a string of the document (a key or a value) holds half a
    surrogate pair (`"\\ud800"`), which orjson refuses and the standard
    library lets through; no answer could quote it back."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
    return False


def _rows_of(document: Any) -> tuple[list[str] | None, Any]:
    """(column names or None, rows) from any accepted top-level shape."""
    if isinstance(document, list):
        return None, document
    if not isinstance(document, dict):
        raise MalformedPayload(
            f"Expected a JSON object or array, got {kind_of(document)}. Accepted shapes: {JSON_SHAPES}."
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
        raise MalformedPayload(
            f"dataframe_records must be a list of objects, got {kind_of(value)}."
        )
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


def _named_row(
    row: Mapping[str, Any], index: int, schema: InputSchema, errors: list[CellError]
) -> list[Cell]:
    unknown = [k for k in row if k not in schema.features]
    for name in unknown:
        errors.append(
            CellError(
                row=index,
                column=str(name),
                message=f"unknown feature {name!r}; expected: {', '.join(schema.features)}",
            )
        )
    values: list[Cell] = []
    for name in schema.features:
        if name not in row:
            errors.append(CellError(row=index, column=name, message=f"missing feature {name!r}"))
            values.append(math.nan)
        else:
            values.append(_cell(row[name], index, name, schema, errors))
    return values


def _cell(
    value: Any, row: int, column: Column, schema: InputSchema, errors: list[CellError]
) -> Cell:
    if schema.categorical and isinstance(column, str):
        feature = schema.categorical.get(column)
        if feature is not None:
            return _category(value, row, column, feature, schema, errors)
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
        return check_number(number, row, column, schema, errors)
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
                message=f"expected a number, got {kind_of(value)} (rows nested too deep?)",
            )
        )
    else:
        errors.append(
            CellError(row=row, column=column, message=f"not a number: {json.dumps(value)[:40]}")
        )
    return math.nan


def _category(
    value: Any,
    row: int,
    column: Column,
    feature: Categorical,
    schema: InputSchema,
    errors: list[CellError],
) -> Cell:
    """A categorical feature's cell: a string, or null where values may be
    missing. A number is refused rather than read as its text: in JSON a
    category is a string, and 1 may not mean "1" (nor 1.0 mean "1")."""
    kind = type(value)
    if kind is str:
        return check_category(value, row, column, feature, errors)
    if value is None:
        if schema.allow_missing:
            return math.nan
        message = "null; this model needs every value"
    elif kind is list or kind is dict:
        message = f"expected a category (a string), got {kind_of(value)} (rows nested too deep?)"
    else:
        text = json.dumps(value)[:40]
        message = f"expected a category (a string), got {kind_of(value)}: {text}"
        if text in feature.known:
            message += f'; send it as a string: "{text}"'
        else:
            message += f"; expected one of: {feature.listed()}"
    errors.append(CellError(row=row, column=column, message=message))
    return math.nan


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


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (list, dict))


def encode_json_request(
    rows: Iterable[Sequence[float | str | None]], key: str = "instances"
) -> bytes:
    """Rows in feature order as `{"instances": [[...], ...]}` (NaN as null,
    a category as its string)."""
    return orjson.dumps({key: [[_json_value(v) for v in row] for row in rows]})


def _json_value(value: float | str | None) -> float | str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value
