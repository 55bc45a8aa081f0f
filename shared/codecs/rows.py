"""What both request formats share: the model's input schema, the rows a
decoder returns, and the checks every row and cell goes through, so that
CSV and JSON (and the model service's other protocols) accept the same
values and word the same fault the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shared.card import ModelCard
from shared.problems import CellError, InvalidRows, MalformedPayload, PayloadTooLarge

#: One decoded cell: a number (a float, NaN for a missing value) or, for a
#: categorical feature, its category as a string.
Cell = float | str
#: Decoded rows: one list of cells per row, in the model's feature order.
#: A model whose features are all numbers gets floats only.
Rows = list[list[Cell]]
#: Where a cell error points: the feature name where known, else the index.
Column = str | int

#: How many categories an error message lists before it counts the rest.
MAX_LISTED_CATEGORIES = 20


@dataclass(frozen=True)
class Categorical:
    """What the decoders know of a categorical feature: the categories seen
    in training, and whether its pipeline takes others (it predicts for them,
    with a warning from the model service) or they are refused."""

    categories: tuple[str, ...]
    handles_unknown: bool = False
    #: the same categories, for membership tests
    known: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", frozenset(self.categories))

    def listed(self) -> str:
        """The categories for a message: "Biscoe, Dream, Torgersen"."""
        shown = ", ".join(self.categories[:MAX_LISTED_CATEGORIES])
        more = len(self.categories) - MAX_LISTED_CATEGORIES
        return f"{shown} and {more} more" if more > 0 else shown


_NO_CATEGORICALS: Mapping[str, Categorical] = MappingProxyType({})


@dataclass(frozen=True)
class InputSchema:
    """What the decoder needs to know of the model: feature names in order,
    whether NaN means 'missing', how many rows one request may carry, and
    which features are categorical (by name; every other one is a number).
    `from_card` builds it from a model card."""

    features: tuple[str, ...]
    allow_missing: bool = False
    max_rows: int = 100_000
    #: the categorical features by name; every other feature is a number
    categorical: Mapping[str, Categorical] = field(default_factory=lambda: _NO_CATEGORICALS)

    @classmethod
    def from_card(cls, card: ModelCard, max_rows: int = 100_000) -> InputSchema:
        categorical = {
            f.name: Categorical(tuple(f.categories or ()), f.handles_unknown)
            for f in card.features
            if f.is_categorical
        }
        return cls(
            tuple(card.feature_names),
            card.allow_missing,
            max_rows,
            MappingProxyType(categorical) if categorical else _NO_CATEGORICALS,
        )

    @property
    def width(self) -> int:
        return len(self.features)

    @property
    def is_numeric(self) -> bool:
        """Every feature is a number: rows are floats only."""
        return not self.categorical


def reject_empty(body: bytes) -> None:
    """`MalformedPayload` for a body with nothing but whitespace in it."""
    if not body or body.isspace():  # (strip() would copy a large body)
        raise MalformedPayload("The request body is empty; send at least one row.")


def body_text(body: bytes, charset: str) -> str:
    """The body as text in its declared charset (checked by
    `shared.media.check_charset`), strictly: `MalformedPayload` for bytes
    that are not valid in it, never a guess at another encoding."""
    utf8 = charset in ("utf-8", "utf8")
    try:
        # utf-8-sig: spreadsheets like to start their CSV with a byte-order mark.
        text = body.decode("utf-8-sig" if utf8 else charset)
    except UnicodeDecodeError as exc:
        raise MalformedPayload(
            f"The body is not valid {charset}: byte {exc.start} cannot be decoded."
        ) from None
    except UnicodeError as exc:  # idna and punycode raise the base class
        raise MalformedPayload(f"The body is not valid {charset}: {exc}.") from None
    nul = text.find("\x00")
    if nul >= 0:  # no JSON or CSV text has one; UTF-16 or UTF-32 read as 8 bits does
        raise MalformedPayload(
            f"The body has a NUL character at {nul}: it is not {charset} text "
            "(UTF-16 or UTF-32 sent without its charset in the Content-Type?)."
        )
    if not utf8 and not text.isascii():
        # Some codecs (utf-7, unicode_escape) decode to half a surrogate
        # pair: text no answer could quote back.
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MalformedPayload(
                f"The body, read as {charset}, holds half a surrogate pair at character {exc.start}."
            ) from None
    return text


def check_row_count(count: int, schema: InputSchema) -> None:
    """`PayloadTooLarge` (413) when `count` rows exceed the schema's limit."""
    if count > schema.max_rows:
        raise PayloadTooLarge(
            f"{count} rows is more than the limit of {schema.max_rows} rows per request; split the batch."
        )


def check_number(
    value: float, row: int, column: Column, schema: InputSchema, errors: list[CellError]
) -> float:
    """A cell's number, unchanged; NaN where the model needs every value,
    and infinity always, are recorded in `errors`."""
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


def check_category(
    text: str, row: int, column: Column, feature: Categorical, errors: list[CellError]
) -> str:
    """A categorical cell's text, unchanged; a category not seen in training
    is recorded in `errors`, naming the categories that are, unless the
    feature's pipeline handles unknown categories."""
    if text not in feature.known and not feature.handles_unknown:
        errors.append(
            CellError(
                row=row,
                column=column,
                message=f"unknown category {text!r}; expected one of: {feature.listed()}",
            )
        )
    return text


def column_order(header: list[str], schema: InputSchema) -> list[int]:
    """Positions, in a header of feature names, of the model's features in
    model order; a name unknown, duplicated or missing is `InvalidRows`."""
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


def kind_of(value: Any) -> str:
    """A JSON value's kind in words ("a list", "null"...), for error messages."""
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
