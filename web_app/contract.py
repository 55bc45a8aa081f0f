"""The parts of the shared contract's codecs the web app uses, imported
here and nowhere else in `web_app/`, so that a rename or a split on the
shared side is a change of the import lines below.

The names on the left of each import are the web app's; they say which way
the data goes: a *request* is what the web app sends the endpoint, an
*answer* what the endpoint sends back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from shared.codecs import InputSchema
from shared.codecs import decode_csv as _decode_csv_request
from shared.codecs import encode_csv_rows as encode_csv_request
from shared.codecs import encode_json_rows as encode_json_request
from shared.predictions import PredictionBody as AnswerBody
from shared.predictions import RangeWarning
from shared.predictions import csv_header as csv_answer_header
from shared.predictions import decode_json as decode_json_answer

__all__ = [
    "AnswerBody",
    "InputSchema",
    "RangeWarning",
    "csv_answer_header",
    "decode_csv_request",
    "decode_json_answer",
    "encode_csv_request",
    "encode_json_request",
]

Row = list[float | None]


def decode_csv_request(text: str, schema: InputSchema, header: bool | None = None) -> list[Row]:
    """CSV rows as the endpoint would read them, as Python lists in the
    model's feature order, a missing value as None (the decoder marks it
    NaN). Reads the decoder's rows cell by cell, so it does not care whether
    they come as an array or as lists."""
    decoded: Iterable[Sequence[float]] = _decode_csv_request(text, schema, header=header)
    return [[None if _missing(v) else float(v) for v in row] for row in decoded]


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)
