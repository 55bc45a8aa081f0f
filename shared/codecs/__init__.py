"""Request payloads: every body the native API accepts (docs/native-api.md),
decoded into rows in the model's feature order (floats, and strings for
categorical features), and rows encoded into those bodies for clients such
as the web app.

- `rows`: the model's `InputSchema` (`InputSchema.from_card`) with its
  `Categorical` features, the `Rows` of `Cell`s a decoder returns, and the
  row and cell checks every format shares;
- `csv`: `decode_csv_request`, `encode_csv_request`;
- `json`: `parse_json`, `decode_json_request`, `encode_json_request`;
- here, `decode_request`: either, by the body's media type.

Decoding is strict: a numeric cell that is not a number (booleans
included), a categorical cell that is not a string (in JSON; in CSV every
cell is text) or is a category not seen in training (unless the feature
`handles_unknown`: then it passes, and the model service warns), a row
of the wrong length, an unknown, missing or duplicate feature name, or a
value out of float range is an `InvalidRows` (422) naming its row and
column; a body that is not JSON/CSV at all is a `MalformedPayload` (400);
too many rows is `PayloadTooLarge` (413). See docs/errors.md.

Rows are plain Python lists, so clients need no numpy; the model service
turns them into an array (`model_service.inputs`).
"""

from __future__ import annotations

from shared.codecs.csv import decode_csv_request
from shared.codecs.json import decode_json_request
from shared.codecs.rows import Categorical, Cell, InputSchema, Rows, body_text, reject_empty
from shared.media import Format, RequestFormat

__all__ = ["Categorical", "Cell", "InputSchema", "Rows", "decode_request"]


def decode_request(body: bytes, fmt: RequestFormat, schema: InputSchema) -> Rows:
    """Any accepted request body -> rows in feature order, every cell checked."""
    reject_empty(body)
    if fmt.format is Format.CSV:
        return decode_csv_request(body_text(body, fmt.charset), schema, header=fmt.header)
    return decode_json_request(body, schema, charset=fmt.charset)
