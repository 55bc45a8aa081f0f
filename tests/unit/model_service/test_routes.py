"""The other native routes: readiness, metadata, metrics and the OpenAPI document."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from model_service import create_app
from model_service.settings import Settings
from tests.unit.model_service.conftest import ClientFactory


def test_ping_is_ready_after_the_warm_up(client: TestClient) -> None:
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_ping_is_503_until_the_model_is_loaded() -> None:
    app = create_app(Settings())
    client = TestClient(app)  # no lifespan: the model never loads
    response = client.get("/ping")
    assert response.status_code == 503
    assert response.json()["title"] == "The model is not ready"
    assert (
        client.post(
            "/invocations", content=b"1,2,3,4", headers={"Content-Type": "text/csv"}
        ).status_code
        == 503
    )


def test_metadata_is_exactly_the_card(
    make_client: ClientFactory, model_dirs: dict[str, Path]
) -> None:
    for name in ("iris", "diabetes"):
        response = make_client(name).get("/metadata")
        assert response.status_code == 200
        assert response.json() == orjson.loads((model_dirs[name] / "model.json").read_bytes())


def test_metrics_count_requests_rows_and_errors(client: TestClient) -> None:
    client.post(
        "/invocations", content=b"5.1,3.5,1.4,0.2\n6,3,5,2", headers={"Content-Type": "text/csv"}
    )
    client.post("/invocations", content=b"x", headers={"Content-Type": "text/csv"})
    text = client.get("/metrics").text
    assert 'http_requests_total{method="POST",route="/invocations",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/invocations",status="422"} 1.0' in text
    assert 'http_errors_total{status="422"} 1.0' in text
    assert 'model_info{name="iris",task="classification",version="1"} 1.0' in text
    assert "http_request_duration_seconds_bucket" in text
    assert 'predicted_rows_total{protocol="native"} 2.0' in text


def test_head_is_get_without_a_body(client: TestClient) -> None:
    for path in ("/ping", "/metadata"):
        head = client.head(path)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["x-model-name"] == "iris"
        assert head.headers["content-length"] == client.get(path).headers["content-length"]
    assert client.head("/metrics").status_code == 200
    assert client.head("/invocations").status_code == 405


def walk(node: Any) -> list[Any]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


def test_openapi_describes_errors_as_problem_json(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in orjson.dumps(document).decode()
    invocations = document["paths"]["/invocations"]["post"]
    for status in ("400", "406", "413", "415", "422", "500"):
        content = invocations["responses"][status]["content"]
        assert content == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert set(invocations["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert "405" in operation["responses"], path
    refs = {n["$ref"] for n in walk(document) if isinstance(n, dict) and "$ref" in n}
    assert {ref.rsplit("/", 1)[1] for ref in refs} <= set(document["components"]["schemas"])


def test_docs_page_is_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200


def test_settings_come_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("MODEL_SERVICE_PORT", "9001")
    monkeypatch.setenv("MODEL_SERVICE_MAX_ROWS", "7")
    settings = Settings()
    assert (settings.port, settings.max_rows) == (9001, 7)


def wait_for(client: TestClient, status: int, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/ping")
        if response.status_code == status:
            return response
        time.sleep(0.02)
    raise AssertionError(f"/ping never answered {status}")


def test_the_model_loads_in_the_background_while_ping_answers_503(
    model_dirs: dict[str, Path],
) -> None:
    app = create_app(Settings(model_dir=model_dirs["wine"]))
    with TestClient(app) as client:
        first = client.get("/ping")
        assert first.status_code in (200, 503)  # 503 unless loading already finished
        if first.status_code == 503:
            assert first.json()["detail"] == "The model is still loading; try again in a moment."
            assert first.headers["x-model-name"] == "wine"  # read from the card at once
        wait_for(client, 200)
        assert client.get("/metadata").json()["name"] == "wine"


def test_a_package_that_cannot_be_rebuilt_is_reported_and_stays_503(
    untrusted_package: Path,
) -> None:
    reasons: list[str] = []
    app = create_app(Settings(model_dir=untrusted_package), on_load_failure=reasons.append)
    with TestClient(app) as client:
        response = wait_for(client, 503)
        deadline = time.monotonic() + 60
        while not reasons and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(reasons) == 1
        assert "not trusted" in reasons[0]
        assert "could not be loaded" in client.get("/ping").json()["detail"]
        assert response.status_code == 503


def test_every_problem_type_leads_to_its_description(client: TestClient) -> None:
    bad = client.post("/invocations", content=b"x", headers={"Content-Type": "text/csv"}).json()
    doc = client.get(bad["type"])
    assert doc.status_code == 200
    assert doc.json()["status"] == 422
    assert "row and column" in doc.json()["description"]
    missing = client.get("/problems/no-such-thing")
    assert missing.status_code == 404
    assert "invalid-rows" in missing.json()["detail"]


def test_the_problem_types_cover_every_error_class() -> None:
    from model_service.errors import PROBLEM_CLASSES, PROBLEM_TYPES
    from shared.problems import PayloadError, ProblemError

    def subclasses(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    declared = [error for error in subclasses(ProblemError) if error is not PayloadError]
    assert set(declared) == set(PROBLEM_CLASSES)
    for error in declared:
        if error.slug is not None:
            assert PROBLEM_TYPES[error.slug].status == error.status, error


def test_without_a_model_dir_the_iris_model_is_built_on_first_use(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(cache_dir=tmp_path))) as client:
        wait_for(client, 200)
        assert client.get("/metadata").json()["name"] == "iris"
    assert (tmp_path / "models" / "iris" / "model.skops").is_file()
