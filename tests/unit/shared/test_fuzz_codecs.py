"""Property tests of the contract's decoders (hypothesis): whatever bytes and
headers arrive, a decoder returns rows or raises the typed error that
becomes a 4xx, never anything else; rows encoded by the shared encoders
decode back to the same rows; and a body is read in its declared charset
(UTF-8 by default) or refused, never guessed as another encoding."""

from __future__ import annotations

import codecs
import contextlib
import json
import math

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shared.answers import ModelRef, Prediction, decode_json_answer, encode_json_answer
from shared.codecs import Categorical, InputSchema, decode_request
from shared.codecs.csv import encode_csv_request
from shared.codecs.json import encode_json_request
from shared.media import request_format, response_format
from shared.problems import InvalidRows, MalformedPayload, PayloadError, UnsupportedMediaType

NUMERIC = InputSchema(("a", "b", "c"), max_rows=50)
MIXED = InputSchema(
    ("island", "mass", "sex"),
    allow_missing=True,
    max_rows=50,
    categorical={
        "island": Categorical(("Biscoe", "Dream", "Torgersen")),
        "sex": Categorical(("female", "male")),
    },
)
SCHEMAS = st.sampled_from([NUMERIC, MIXED])
#: Charsets a client may declare: text encodings, ones Python knows that are
#: not text encodings, and names that are not charsets at all.
CHARSETS = st.sampled_from(
    [
        "utf-8",
        "UTF8",
        "utf-16",
        "utf-16-le",
        "utf-32",
        "latin-1",
        "iso-8859-15",
        "cp1252",
        "ascii",
        "shift_jis",
        "utf-7",
        "unicode_escape",
        "idna",
        "punycode",
        "base64",
        "hex",
        "zlib",
        "rot13",
        "undefined",
        "no-such-charset",
        "",
    ]
)
CONTENT_TYPES = st.one_of(
    st.builds(
        "{}; charset={}{}".format,
        st.sampled_from(["application/json", "text/csv", "application/x+json"]),
        CHARSETS,
        st.sampled_from(["", "; header=present", "; header=absent"]),
    ),
    st.text(max_size=60),
)


def problem_body(error: PayloadError) -> bytes:
    """The error as the services send it: it must serialise as JSON."""
    problem = error.to_problem("request-id")
    assert 400 <= problem.status < 500
    return orjson.dumps(problem.model_dump(mode="json", exclude_none=True))


def decode(body: bytes, content_type: str, schema: InputSchema) -> list[list[object]] | None:
    """Rows, or None when the body was refused with a 4xx."""
    try:
        rows = decode_request(body, request_format(content_type), schema)
    except PayloadError as error:
        problem_body(error)
        return None
    assert 1 <= len(rows) <= schema.max_rows
    assert all(len(row) == schema.width for row in rows)
    return rows


@given(body=st.binary(max_size=400), content_type=CONTENT_TYPES, schema=SCHEMAS)
def test_any_bytes_decode_or_are_a_4xx(body: bytes, content_type: str, schema: InputSchema) -> None:
    decode(body, content_type, schema)


# Bodies with the shapes the decoders look for, so hypothesis reaches past
# the first "not JSON" check: JSON documents of rows, and CSV-ish text.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.integers()
    | st.sampled_from(["Biscoe", "Dream", "male", "a", "b", "c", "island", "mass", "sex"])
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
JSON_DOCUMENTS = st.one_of(
    JSON_VALUES,
    st.dictionaries(
        st.sampled_from(["instances", "inputs", "dataframe_records", "dataframe_split"]),
        JSON_VALUES,
        min_size=1,
        max_size=2,
    ),
)


@given(
    document=JSON_DOCUMENTS, schema=SCHEMAS, charset=st.sampled_from(["utf-8", "utf-16", "latin-1"])
)
def test_any_json_document_decodes_or_is_a_4xx(
    document: object, schema: InputSchema, charset: str
) -> None:
    text = json.dumps(document)  # the standard library's: big ints, Infinity
    try:
        body = text.encode(charset)
    except UnicodeEncodeError:
        assume(False)
    decode(body, f"application/json; charset={charset}", schema)


@given(
    lines=st.lists(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True).map(repr),
                st.sampled_from(["", "Biscoe", "male", "a", "b", "c", "mass", '"x,y"', "1_0"]),
                st.text(max_size=6),
            ),
            max_size=5,
        ),
        max_size=8,
    ),
    schema=SCHEMAS,
    header=st.sampled_from(["", "; header=present", "; header=absent"]),
)
def test_any_csv_text_decodes_or_is_a_4xx(
    lines: list[list[str]], schema: InputSchema, header: str
) -> None:
    body = "\r\n".join(",".join(line) for line in lines).encode()
    decode(body, f"text/csv{header}", schema)


# --- round trips ---

NUMBERS = st.floats(allow_nan=False, allow_infinity=False, width=64)
NUMERIC_ROWS = st.lists(st.lists(NUMBERS, min_size=3, max_size=3), min_size=1, max_size=20)
MIXED_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["Biscoe", "Dream", "Torgersen"]),
        NUMBERS | st.none(),
        st.sampled_from(["female", "male"]) | st.none(),
    ).map(list),
    min_size=1,
    max_size=20,
)


def same(decoded: list[list[object]], sent: list[list[object]]) -> bool:
    def cell(value: object) -> object:
        return (
            "missing"
            if value is None or (isinstance(value, float) and math.isnan(value))
            else value
        )

    return [[cell(v) for v in row] for row in decoded] == [[cell(v) for v in row] for row in sent]


@given(rows=NUMERIC_ROWS)
def test_numeric_rows_survive_json_and_csv(rows: list[list[float]]) -> None:
    json_rows = decode_request(
        encode_json_request(rows), request_format("application/json"), NUMERIC
    )
    csv_rows = decode_request(
        encode_csv_request(rows, NUMERIC.features),
        request_format("text/csv; header=present"),
        NUMERIC,
    )
    assert same(json_rows, rows)  # type: ignore[arg-type]
    assert same(csv_rows, rows)  # type: ignore[arg-type]


@given(rows=MIXED_ROWS, charset=st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1", "cp1252"]))
def test_rows_with_categories_survive_json_and_csv_in_any_charset(
    rows: list[list[object]], charset: str
) -> None:
    json_body = encode_json_request(rows).decode().encode(charset)  # type: ignore[arg-type]
    csv_body = encode_csv_request(rows, MIXED.features).decode().encode(charset)  # type: ignore[arg-type]
    json_rows = decode_request(
        json_body, request_format(f"application/json; charset={charset}"), MIXED
    )
    csv_rows = decode_request(
        csv_body, request_format(f"text/csv; header=present; charset={charset}"), MIXED
    )
    assert same(json_rows, rows)  # type: ignore[arg-type]
    assert same(csv_rows, rows)  # type: ignore[arg-type]


# --- charsets: declared, or UTF-8; never guessed ---


@given(rows=NUMERIC_ROWS, other=st.sampled_from(["utf-16", "utf-16-le", "utf-32"]))
def test_a_body_in_another_encoding_than_declared_is_a_400(
    rows: list[list[float]], other: str
) -> None:
    for content_type, body in (
        ("application/json", encode_json_request(rows)),
        ("text/csv", encode_csv_request(rows)),
    ):
        # UTF-16-LE of ASCII is valid UTF-8 (with NULs): then it is not
        # valid JSON or CSV. A 400 either way, never rows.
        with pytest.raises(MalformedPayload):
            decode_request(body.decode().encode(other), request_format(content_type), NUMERIC)


@given(text=st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0xFF), min_size=1))
def test_latin_1_bytes_declared_as_utf_8_are_a_400(text: str) -> None:
    body = f'[["{text}", 1.0, "male"]]'.encode("latin-1")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        assume(False)  # e.g. "Ã\x80" is valid UTF-8 too
    with pytest.raises(MalformedPayload, match="not valid utf-8"):
        decode_request(body, request_format("application/json"), MIXED)


@pytest.mark.parametrize(
    "charset",
    ["base64", "hex", "zlib", "rot13", "undefined", "bz2_codec", "unicode_escape", "idna"],
)
def test_a_charset_that_is_not_a_text_encoding_is_a_415(charset: str) -> None:
    codecs.lookup(charset)  # Python knows it...
    with pytest.raises(UnsupportedMediaType, match="not a text encoding"):
        request_format(f"application/json; charset={charset}")  # ...but it is no charset


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "cp1252"])
def test_a_feature_named_twice_is_refused_in_every_charset(charset: str) -> None:
    body = '[{"a": 1, "b": 2, "c": 3, "a": 4}]'.encode(charset)
    with pytest.raises(InvalidRows, match="given twice"):
        decode_request(body, request_format(f"application/json; charset={charset}"), NUMERIC)


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (b'[["\\ud800", 1, "male"]]', "utf-8"),  # a JSON escape of half a surrogate pair
        (b"+2AA-,1,male", "utf-7"),
    ],
)
def test_half_a_surrogate_pair_is_a_400(body: bytes, charset: str) -> None:
    fmt = "application/json" if body.startswith(b"[") else "text/csv"
    with pytest.raises(MalformedPayload, match="surrogate"):
        decode_request(body, request_format(f"{fmt}; charset={charset}"), MIXED)


# --- headers ---


@given(value=st.text(max_size=80))
def test_any_content_type_or_accept_parses_or_is_a_4xx(value: str) -> None:
    for parse in (request_format, response_format):
        try:
            parse(value)
        except PayloadError as error:
            problem_body(error)


# --- the answer, as the web app reads it ---


@given(body=st.binary(max_size=300) | JSON_DOCUMENTS.map(lambda d: json.dumps(d).encode()))
def test_any_answer_body_decodes_or_raises_what_the_web_app_catches(body: bytes) -> None:
    from pydantic import ValidationError

    # What web_app.endpoint.client catches; anything else would be a 500 page.
    with contextlib.suppress(ValueError, ValidationError):
        decode_json_answer(body)


@given(
    labels=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=10),
    classes=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4, unique=True),
    data=st.data(),
)
def test_an_answer_survives_encode_and_decode(
    labels: list[str], classes: list[str], data: st.DataObject
) -> None:
    probabilities = data.draw(
        st.lists(
            st.lists(st.floats(0, 1), min_size=len(classes), max_size=len(classes)),
            min_size=len(labels),
            max_size=len(labels),
        )
    )
    prediction = Prediction(labels, probabilities, classes)
    body = decode_json_answer(encode_json_answer(prediction, ModelRef(name="m", version="1")))
    assert body.predictions == labels
    assert body.probabilities == probabilities
    assert body.classes == classes
