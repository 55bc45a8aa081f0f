"""Micro-batching (model_service.batching): concurrent callers get exactly
their own rows' answers, in order; a lone caller is not kept waiting; a
caller whose rows the model cannot predict fails alone; and over the app,
both protocols answer every one of many concurrent requests with the
in-process prediction of its own rows."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from model_service import create_app, package
from model_service.batching import MicroBatcher
from model_service.package import ModelPackage
from model_service.predictor import BatchPolicy, Predictor
from model_service.settings import Settings

# ------------------------------------------------------------------ the batcher


class Model:
    """A model whose output row is a function of its input row alone (so a
    row answered to the wrong caller shows), that takes a few milliseconds a
    call like a forest, refuses rows holding -1, and records its calls."""

    def __init__(self, seconds: float = 0.003) -> None:
        self.seconds = seconds
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, X: np.ndarray) -> np.ndarray:
        with self.lock:
            self.calls.append(len(X))
        time.sleep(self.seconds)
        if (X == -1).any():
            raise ValueError("the model cannot take -1")
        return np.column_stack([X.sum(axis=1), X[:, 0] * 10])


def expected(X: np.ndarray) -> np.ndarray:
    return np.column_stack([X.sum(axis=1), X[:, 0] * 10])


def requests_of_distinct_rows(n: int, seed: int = 0) -> list[np.ndarray]:
    """n requests of 1 to 4 rows each, no two rows alike."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, size=n)
    rows = rng.permutation(int(sizes.sum()) * 3).reshape(-1, 3).astype(np.float64)
    return np.split(rows, np.cumsum(sizes)[:-1])


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))  # type: ignore[arg-type]


def test_concurrent_callers_get_their_own_rows_in_order() -> None:
    model = Model()
    batcher = MicroBatcher(model, max_wait=0.005, max_rows=64)
    requests = requests_of_distinct_rows(200)

    async def main() -> list[np.ndarray]:
        return await asyncio.gather(*(batcher(X) for X in requests))

    answers = run(main())
    for X, answer in zip(requests, answers, strict=True):
        np.testing.assert_array_equal(answer, expected(X))
    assert sum(model.calls) == sum(len(X) for X in requests)  # each row predicted once
    assert len(model.calls) < len(requests) / 4  # and together
    assert max(model.calls) <= 64


def test_callers_arriving_over_time_are_answered_alike() -> None:
    model = Model(seconds=0.002)
    batcher = MicroBatcher(model, max_wait=0.001, max_rows=16)
    requests = requests_of_distinct_rows(120, seed=1)

    async def one(i: int, X: np.ndarray) -> np.ndarray:
        await asyncio.sleep((i % 7) * 0.001)
        return await batcher(X)

    async def main() -> list[np.ndarray]:
        return await asyncio.gather(*(one(i, X) for i, X in enumerate(requests)))

    for X, answer in zip(requests, run(main()), strict=True):
        np.testing.assert_array_equal(answer, expected(X))


def test_a_lone_caller_is_not_kept_waiting() -> None:
    """With a wait of a minute, a request alone still starts at once."""
    model = Model(seconds=0)
    batcher = MicroBatcher(model, max_wait=60, max_rows=64)
    X = np.array([[1.0, 2.0, 3.0]])

    async def main() -> np.ndarray:
        return await asyncio.wait_for(batcher(X), timeout=5)

    np.testing.assert_array_equal(run(main()), expected(X))
    assert model.calls == [1]


def test_a_request_larger_than_a_batch_goes_alone() -> None:
    model = Model(seconds=0)
    batcher = MicroBatcher(model, max_wait=0.001, max_rows=8)
    X = np.arange(30.0).reshape(10, 3)
    np.testing.assert_array_equal(run(batcher(X)), expected(X))
    assert model.calls == [10]


def test_a_failing_request_fails_alone() -> None:
    """The model raises on one caller's rows: the batch is predicted again
    caller by caller, and only that caller gets the error."""
    model = Model()
    batcher = MicroBatcher(model, max_wait=0.005, max_rows=256)
    requests = requests_of_distinct_rows(40, seed=2)
    bad = 17
    requests[bad] = requests[bad].copy()
    requests[bad][0, 1] = -1

    async def main() -> list[Any]:
        return await asyncio.gather(*(batcher(X) for X in requests), return_exceptions=True)

    answers = run(main())
    for i, (X, answer) in enumerate(zip(requests, answers, strict=True)):
        if i == bad:
            assert isinstance(answer, ValueError)
        else:
            np.testing.assert_array_equal(answer, expected(X))


# ----------------------------------------------------------- when it is on


@pytest.fixture(scope="module")
def forest(model_dirs: dict[str, Path]) -> ModelPackage:
    return package.load(model_dirs["iris:forest"])


@pytest.mark.parametrize(
    ("name", "mode", "on"),
    [
        ("iris:forest", "auto", True),
        ("iris", "auto", False),
        ("iris", "on", True),
        ("iris:forest", "off", False),
    ],
)
def test_auto_turns_batching_on_for_a_costly_model(
    model_dirs: dict[str, Path], name: str, mode: str, on: bool
) -> None:
    predictor = Predictor.from_package(
        package.load(model_dirs[name]),
        batching=BatchPolicy(mode=mode),  # type: ignore[arg-type]
    )
    predictor.warm_up()
    assert (predictor.batcher is not None) is on
    assert predictor.one_row_seconds is not None
    if name == "iris:forest":
        # a 100-tree forest: milliseconds a call; the folded linear model: microseconds
        assert predictor.one_row_seconds > 250e-6


# ---------------------------------------------------------- over the app

Call = Callable[[str, bytes, str], Awaitable[tuple[int, bytes]]]


def asgi_caller(app: Any) -> Call:
    """Call the ASGI app as a server would, without one, so that many
    requests are in flight at once on one event loop."""

    async def call(path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"test"),
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError("unreachable")

        status, chunks = 0, []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        return status, b"".join(chunks)

    return call


def serve_concurrently(
    model: ModelPackage, bodies: list[tuple[str, bytes, str]], **settings: Any
) -> tuple[list[tuple[int, bytes]], Predictor]:
    app = create_app(Settings(**settings), model=model)

    async def main() -> list[tuple[int, bytes]]:
        async with app.router.lifespan_context(app):
            call = asgi_caller(app)
            return await asyncio.gather(*(call(*body) for body in bodies))

    answers = run(main())
    return answers, app.state.predictor_for_tests


@pytest.fixture(autouse=True)
def keep_predictor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lifespan drops the predictor on shutdown; keep it for the checks."""
    from model_service import app as app_module

    serve = app_module._serve

    def serve_and_keep(app: Any, loaded: ModelPackage, predictor: Predictor) -> None:
        app.state.predictor_for_tests = predictor
        serve(app, loaded, predictor)

    monkeypatch.setattr(app_module, "_serve", serve_and_keep)


def iris_rows(n: int, seed: int) -> np.ndarray:
    """n distinct rows across iris' range, rounded as a client would send them."""
    rng = np.random.default_rng(seed)
    low, high = np.array([4.3, 2.0, 1.0, 0.1]), np.array([7.9, 4.4, 6.9, 2.5])
    return np.round(rng.uniform(low, high, size=(n, 4)), 3)


def native_json(rows: np.ndarray) -> tuple[str, bytes, str]:
    return "/invocations", orjson.dumps({"instances": rows.tolist()}), "application/json"


def native_csv(rows: np.ndarray) -> tuple[str, bytes, str]:
    body = "\n".join(",".join(repr(v) for v in row) for row in rows.tolist()).encode()
    return "/invocations", body, "text/csv"


def v2_json(rows: np.ndarray) -> tuple[str, bytes, str]:
    document = {
        "inputs": [
            {
                "name": "input-0",
                "shape": list(rows.shape),
                "datatype": "FP64",
                "data": rows.ravel().tolist(),
            }
        ]
    }
    return "/v2/models/iris/infer", orjson.dumps(document), "application/json"


def labels_of(body: bytes, protocol: str) -> list[str]:
    document = orjson.loads(body)
    if protocol == "v2":
        return next(o["data"] for o in document["outputs"] if o["name"] == "predict")
    return list(document["predictions"])


def probabilities_of(body: bytes, protocol: str) -> np.ndarray:
    document = orjson.loads(body)
    if protocol == "v2":
        output = next(o for o in document["outputs"] if o["name"] == "predict_proba")
        return np.asarray(output["data"], dtype=np.float64).reshape(output["shape"])
    return np.asarray(document["probabilities"], dtype=np.float64)


@pytest.mark.parametrize(("name", "mode"), [("iris:forest", "auto"), ("iris", "on")])
def test_every_concurrent_request_gets_its_own_rows(
    model_dirs: dict[str, Path], name: str, mode: str
) -> None:
    """Forest (batching on by itself) and linear (forced on), JSON, CSV and
    V2 mixed: each answer is the in-process prediction of its own rows."""
    model = package.load(model_dirs[name])
    rows = iris_rows(400, seed=3)
    sizes = np.random.default_rng(4).integers(1, 4, size=160)
    requests = np.split(rows[: int(sizes.sum())], np.cumsum(sizes)[:-1])
    encoders = [("native", native_json), ("native", native_csv), ("v2", v2_json)]
    plan = [encoders[i % 3] for i in range(len(requests))]
    bodies = [encode(X) for (_, encode), X in zip(plan, requests, strict=True)]

    answers, predictor = serve_concurrently(model, bodies, batching=mode)
    reference = Predictor.from_package(model)  # no batching: one request at a time

    assert predictor.batcher is not None
    assert predictor.batcher.batches < len(requests)  # requests were predicted together
    for (protocol, _), X, (status, body) in zip(plan, requests, answers, strict=True):
        assert status == 200, body
        np.testing.assert_allclose(
            probabilities_of(body, protocol), model.estimator.predict_proba(X), rtol=1e-9
        )
        assert labels_of(body, protocol) == reference.predict(X).predictions.tolist()


def test_a_bad_request_amid_good_ones_is_refused_alone(forest: ModelPackage) -> None:
    rows = iris_rows(60, seed=5)
    bodies = [native_json(rows[i : i + 1]) for i in range(60)]
    bad = {7: b'{"instances": [[5.1, "wide", 1.4, 0.2]]}', 31: b"5.1,3.5\n", 44: b"not json"}
    for i, body in bad.items():
        bodies[i] = ("/invocations", body, "text/csv" if i == 31 else "application/json")

    answers, _ = serve_concurrently(forest, bodies)

    for i, (status, body) in enumerate(answers):
        if i in bad:
            assert 400 <= status < 500, body  # 400 unparsable, 422 rows the model cannot take
            assert orjson.loads(body)["status"] == status
        else:
            assert status == 200, body
            np.testing.assert_allclose(
                probabilities_of(body, "native"),
                forest.estimator.predict_proba(rows[i : i + 1]),
                rtol=1e-9,
            )


def test_range_warnings_name_the_callers_own_rows(forest: ModelPackage) -> None:
    """Warnings are per request: row numbers count from each request's
    first row, whatever batch it was predicted in."""
    good = iris_rows(30, seed=6)
    far = good[:3].copy()
    far[2, 3] = 99.0
    bodies = [native_json(good[i : i + 1]) for i in range(30)]
    bodies[12] = native_json(far)

    answers, _ = serve_concurrently(forest, bodies)

    for i, (status, body) in enumerate(answers):
        assert status == 200
        warnings = orjson.loads(body).get("warnings") or []
        if i == 12:
            assert [(w["row"], w["feature"]) for w in warnings] == [(2, "petal_width")]
        else:
            assert warnings == []
