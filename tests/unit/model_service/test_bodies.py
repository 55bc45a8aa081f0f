"""model_service.bodies: request bodies read within the size limit, with
their Content-Encoding undone (gzip, deflate, identity) or refused (415),
the same on `/invocations` and on V2 inference."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from model_service import bodies
from shared.problems import MalformedPayload, PayloadTooLarge, UnsupportedMediaType

ClientFactory = Callable[..., TestClient]
Route = Callable[[TestClient, bytes, str | None], Response]
LIMIT = 10_000
CSV = b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
V2_BODY = orjson.dumps(
    {
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 4],
                "datatype": "FP64",
                "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
            }
        ]
    }
)
BOMB = gzip.compress(b" " * 10_000_000)  # about 10 kB that inflate to 10 MB


def _identity(body: bytes) -> bytes:
    return body


ENCODINGS: list[tuple[str, Callable[[bytes], bytes]]] = [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("GZip", gzip.compress),
    ("deflate", zlib.compress),
    ("identity", _identity),
    ("gzip, identity", gzip.compress),
    ("deflate, gzip", lambda body: gzip.compress(zlib.compress(body))),
]


# --- the two routes -------------------------------------------------------------------


def invocations(client: TestClient, body: bytes, encoding: str | None) -> Response:
    headers = {"Content-Type": "text/csv"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return client.post("/invocations", content=body, headers=headers)


def v2_infer(client: TestClient, body: bytes, encoding: str | None) -> Response:
    headers = {"Content-Type": "application/json"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return client.post("/v2/models/iris/infer", content=body, headers=headers)


ROUTES: list[tuple[Route, bytes]] = [(invocations, CSV), (v2_infer, V2_BODY)]
ROUTE_IDS = ["invocations", "v2"]


@pytest.fixture
def small(make_client: ClientFactory) -> TestClient:
    return make_client("iris", max_body_bytes=LIMIT)


def _predictions(route: Route, response: Response) -> list[str]:
    document = response.json()
    if route is invocations:
        return list(document["predictions"])
    return list(document["outputs"][0]["data"])


@pytest.mark.parametrize(("encoding", "compress"), ENCODINGS, ids=[e for e, _ in ENCODINGS])
@pytest.mark.parametrize(("route", "body"), ROUTES, ids=ROUTE_IDS)
def test_a_compressed_body_is_inflated(
    small: TestClient,
    route: Route,
    body: bytes,
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    response = route(small, compress(body), encoding)
    assert response.status_code == 200, response.text
    assert _predictions(route, response) == ["setosa", "virginica"]


@pytest.mark.parametrize(("route", "body"), ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_another_coding_is_415(small: TestClient, route: Route, body: bytes, encoding: str) -> None:
    # a plain body under a coding the service cannot undo is refused, not read as plain
    response = route(small, body, encoding)
    assert response.status_code == 415, response.text
    assert encoding.split(", ")[-1] in response.text


@pytest.mark.parametrize(("route", "body"), ROUTES, ids=ROUTE_IDS)
def test_a_zip_bomb_is_413_and_the_service_still_answers(
    small: TestClient, route: Route, body: bytes
) -> None:
    assert len(BOMB) <= LIMIT  # small enough to be read, not to be inflated
    response = route(small, BOMB, "gzip")
    assert response.status_code == 413, response.text
    assert "inflates to more than the limit" in response.text
    assert route(small, gzip.compress(body), "gzip").status_code == 200


@pytest.mark.parametrize(("route", "body"), ROUTES, ids=ROUTE_IDS)
def test_corrupt_compressed_data_is_400(small: TestClient, route: Route, body: bytes) -> None:
    for sent, encoding in [
        (body, "gzip"),
        (gzip.compress(body)[:-12], "gzip"),
        (zlib.compress(body) + b"junk", "deflate"),
    ]:
        response = route(small, sent, encoding)
        assert response.status_code == 400, (encoding, response.text)


def test_the_error_bodies_are_each_protocols_own(small: TestClient) -> None:
    native = invocations(small, CSV, "br")
    assert native.headers["content-type"] == "application/problem+json"
    assert native.json()["status"] == 415
    v2 = v2_infer(small, V2_BODY, "br")
    assert set(v2.json()) == {"error"}


# --- read_body's parts ----------------------------------------------------------------


def test_content_codings_are_listed_in_the_order_applied() -> None:
    assert bodies.content_codings(None) == []
    assert bodies.content_codings("identity") == []
    assert bodies.content_codings(" GZIP ") == ["gzip"]
    assert bodies.content_codings("deflate, identity, gzip") == ["deflate", "gzip"]
    with pytest.raises(UnsupportedMediaType, match="'br'"):
        bodies.content_codings("gzip, br")


def test_inflate_stops_at_the_limit() -> None:
    assert bodies.inflate(gzip.compress(b"x" * 100), "gzip", 100) == b"x" * 100
    with pytest.raises(PayloadTooLarge):
        bodies.inflate(gzip.compress(b"x" * 101), "gzip", 100)
    with pytest.raises(PayloadTooLarge):
        bodies.inflate(BOMB, "gzip", LIMIT)


def test_inflate_reads_every_gzip_member() -> None:
    # concatenated members are one gzip body (RFC 1952 2.2), as gzip.decompress reads it
    body = gzip.compress(b"5.1,3.5,1.4,0.2\n") + gzip.compress(b"6.7,3.0,5.2,2.3\n")
    assert bodies.inflate(body, "gzip", LIMIT) == CSV
    with pytest.raises(PayloadTooLarge):  # the limit holds across members
        bodies.inflate(gzip.compress(b"x" * 60) * 2, "gzip", 100)


@pytest.mark.parametrize(
    ("body", "coding", "message"),
    [
        (b"plain", "gzip", "not valid gzip"),
        (gzip.compress(CSV)[:-4], "gzip", "ends before"),
        (zlib.compress(CSV) + b"!", "deflate", "after the end"),
        (gzip.compress(CSV), "deflate", "not valid deflate"),
    ],
)
def test_inflate_refuses_corrupt_data(body: bytes, coding: str, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        bodies.inflate(body, coding, LIMIT)
