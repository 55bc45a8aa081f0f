"""The pure ASGI fast path (model_service.fastpath) against the FastAPI
routes it stands in front of: for a table of requests, good and bad, on
both protocols, the same status, headers, body, metrics and access log
line; that it really answers without FastAPI's routing; and that its
route matching agrees with Starlette's."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from model_service import create_app, fastpath
from model_service.fastpath import PredictionFastPath
from model_service.package import ModelPackage
from model_service.routes import native, v2
from model_service.settings import Settings
from tests.support import v2_client

ROW = [5.1, 3.5, 1.4, 0.2]
V2_ROW = orjson.dumps(
    {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
)
_BINARY, _BINARY_LENGTH = v2_client.encode_request(
    {"input-0": np.array([ROW, [6.7, 3.0, 5.2, 2.3]])},
    binary=True,
    outputs={"predict": True, "predict_proba": True},
)
JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}

#: (path, body, headers): every outcome the prediction routes have
REQUESTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("/invocations", orjson.dumps({"instances": [ROW]}), JSON),
    ("/invocations", orjson.dumps({"instances": [ROW, ROW]}), {**JSON, "Accept": "text/csv"}),
    ("/invocations", b"5.1,3.5,1.4,0.2\n6,3,5,2", CSV),
    ("/invocations", b"5.1,3.5,1.4,0.2", {**CSV, "Accept": "text/csv; header=present"}),
    ("/invocations", b"99,3.5,1.4,0.2", CSV),  # a range warning
    ("/invocations", gzip.compress(b"5.1,3.5,1.4,0.2"), {**CSV, "Content-Encoding": "gzip"}),
    ("/invocations", b"x,3.5,1.4,0.2", CSV),  # 400 naming row and column
    ("/invocations", b"", CSV),
    ("/invocations", b"5.1,3.5", CSV),
    ("/invocations", b"5.1,3.5,1.4,0.2", {}),  # 415, no Content-Type
    ("/invocations", b"5.1,3.5,1.4,0.2", {"Content-Type": "text/plain"}),
    ("/invocations", b"5.1,3.5,1.4,0.2", {**CSV, "Accept": "image/png"}),  # 406
    ("/invocations", b"5.1,3.5,1.4,0.2", {**CSV, "Content-Encoding": "br"}),
    ("/invocations", b"5.1,3.5,1.4,0.2\n" * 300, CSV),  # 413 over max_body_bytes
    ("/invocations", b'{"instances": [[1,2,3]', JSON),
    ("/v2/models/iris/infer", V2_ROW, JSON),
    ("/v2/models/iris/infer", V2_ROW, {}),
    ("/v2/models/iris/versions/1/infer", V2_ROW, JSON),
    ("/v2/models/iris/versions/2/infer", V2_ROW, JSON),  # 404 version
    ("/v2/models/wine/infer", V2_ROW, JSON),  # 404 model
    ("/v2/models/iris/infer", V2_ROW, {"Content-Type": "text/csv"}),  # 415
    ("/v2/models/iris/infer", b'{"inputs": []}', JSON),
    ("/v2/models/iris/infer", b"{", JSON),
    (
        "/v2/models/iris/infer",
        _BINARY,
        {"Inference-Header-Content-Length": str(_BINARY_LENGTH)},
    ),
]


def _client(model: ModelPackage, fast: bool) -> TestClient:
    app = create_app(Settings(max_body_bytes=4000), model=model)
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not PredictionFastPath]
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    return client


@pytest.fixture
def both(packages: dict[str, ModelPackage]) -> Iterator[tuple[TestClient, TestClient]]:
    fast, routed = _client(packages["iris"], True), _client(packages["iris"], False)
    yield fast, routed
    fast.__exit__(None, None, None)
    routed.__exit__(None, None, None)


def _answer(client: TestClient, path: str, body: bytes, headers: dict[str, str]) -> Any:
    response = client.post(path, content=body, headers={"X-Request-ID": "same-id", **headers})
    return response.status_code, list(response.headers.multi_items()), response.content


@pytest.mark.parametrize(("path", "body", "headers"), REQUESTS)
def test_the_fast_path_answers_as_the_fastapi_route(
    both: tuple[TestClient, TestClient], path: str, body: bytes, headers: dict[str, str]
) -> None:
    fast, routed = both
    assert _answer(fast, path, body, headers) == _answer(routed, path, body, headers)


def test_metrics_and_logs_are_the_same_on_both_paths(
    both: tuple[TestClient, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    lines = []
    for client in both:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="model_service.access"):
            for path, body, headers in REQUESTS:
                _answer(client, path, body, headers)
        lines.append(
            [
                {k: getattr(r, k) for k in ("request_id", "method", "path", "status", "rows")}
                for r in caplog.records
            ]
        )
        metrics = client.get("/metrics").text
        lines.append(sorted(m for m in metrics.splitlines() if not _varies(m)))
    fast_log, fast_metrics, routed_log, routed_metrics = lines
    assert len(fast_log) == len(REQUESTS)
    assert fast_log == routed_log
    assert fast_metrics == routed_metrics
    assert (
        'http_requests_total{method="POST",route="/invocations",status="200"} 6.0' in fast_metrics
    )
    assert (
        'http_requests_total{method="POST",route="/v2/models/{name}/versions/{version}/infer",status="404"} 1.0'
        in fast_metrics
    )


def _varies(line: str) -> bool:
    """Lines that differ between two runs: latencies and creation times."""
    return "duration_seconds" in line or "_created" in line


def test_a_fresh_request_id_is_32_hex_characters(both: tuple[TestClient, TestClient]) -> None:
    fast, _ = both
    ids = set()
    for _ in range(3):
        response = fast.post("/invocations", content=b"5.1,3.5,1.4,0.2", headers=CSV)
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    bad = fast.post("/invocations", content=b"x", headers=CSV)
    assert bad.json()["request_id"] == bad.headers["x-request-id"]


def test_prediction_routes_are_answered_without_fastapi_routing(
    packages: dict[str, ModelPackage],
) -> None:
    client = _client(packages["iris"], True)
    try:
        layer = client.app.middleware_stack  # type: ignore[attr-defined]
        while not isinstance(layer, PredictionFastPath):
            layer = layer.app

        async def unreachable(scope: Any, receive: Any, send: Any) -> None:
            raise AssertionError(f"FastAPI routed {scope['method']} {scope['path']}")

        routed, layer.app = layer.app, unreachable
        for path, body, headers in REQUESTS:
            assert client.post(path, content=body, headers=headers).status_code < 500
        layer.app = routed
        assert client.get("/invocations").status_code == 405  # everything else is FastAPI's
    finally:
        client.__exit__(None, None, None)


def test_a_model_that_is_not_loaded_is_503_on_both_paths(tmp_path: Any) -> None:
    # No package at all: the background load fails, every prediction is 503.
    settings = Settings(model_dir=tmp_path / "none")
    for fast in (True, False):
        app = create_app(settings)
        if not fast:
            app.user_middleware = [
                m for m in app.user_middleware if m.cls is not PredictionFastPath
            ]
        with TestClient(app, raise_server_exceptions=False) as client:
            for path, body, headers in REQUESTS[:1] + REQUESTS[-9:-8]:
                response = client.post(path, content=body, headers=headers)
                assert response.status_code == 503, (fast, path)


PATHS = [
    "/invocations",
    "/invocations/",
    "/v2/models/iris/infer",
    "/v2/models/x/versions/1/infer",
    "/v2/models//infer",
    "/v2/models/a/b/infer",
    "/v2/models/x/versions/infer",
    "/v2/models/x/versions//infer",
    "/v2/models/infer",
    "/v2/models/infer/infer",
    "/v2/models/x/versions/1/infer/",
    "/v2/models/x/ready",
    "/v2/models/x/versions/1/2/infer",
    "/ping",
]


@pytest.mark.parametrize("path", PATHS)
def test_matching_agrees_with_starlette(path: str) -> None:
    found = fastpath.match(path)
    assert (None if found is None else (found[0], found[2])) == _starlette_match(path)


def _starlette_match(path: str) -> tuple[str, dict[str, str]] | None:
    """The POST route Starlette picks for `path` when it is a prediction
    route, with its path parameters; None when it picks another or none."""
    scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
    for route in (*native.router.routes, *v2.router.routes):
        found, child = route.matches(scope)
        if found is Match.FULL:
            template = getattr(route, "path", "")
            return (template, child["path_params"]) if template in fastpath._ROUTES else None
    return None


def test_the_openapi_document_says_nothing_of_the_implementation() -> None:
    # FastAPI publishes an endpoint's docstring as its description: the
    # notes on how the prediction routes are answered must stay comments.
    document = orjson.dumps(create_app(Settings()).openapi()).decode()
    assert "fastpath" not in document
    assert "model_service." not in document
