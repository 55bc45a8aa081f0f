"""Worker processes (model_service.workers): the settings reach them, they
run on uvloop and httptools (so no socket is left with Nagle's algorithm
on), metrics go to a private multiprocess directory that is removed
afterwards, and a package a worker cannot serve stops its start-up with
the reason handed back."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop
from fastapi.testclient import TestClient

from model_service import workers
from model_service.__main__ import EXIT_BAD_PACKAGE, main
from model_service.app import create_app
from model_service.settings import Settings


@pytest.fixture(autouse=True)
def environment_restored() -> Iterator[None]:
    """serve() hands its settings to the workers through this process's
    environment (MODEL_SERVICE_WORKERS=2 among them): restored after each
    test, or every service a later test starts would run two workers."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_settings_reach_the_workers_through_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(model_dir=tmp_path, port=9999, workers=3, log_level="warning")
    for name, value in workers.settings_environment(settings).items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings


def test_serve_runs_uvicorn_workers_on_uvloop_and_httptools(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def run(app: str, **options: Any) -> None:
        seen.update(options, app=app, multiproc=os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert Path(seen["multiproc"]).is_dir()

    monkeypatch.setattr(workers.uvicorn, "run", run)
    assert workers.serve(Settings(model_dir=tmp_path, workers=2), 20) is None
    assert seen["app"] == "model_service.workers:worker_app"
    assert seen["factory"] is True
    assert seen["workers"] == 2
    # httptools, with the head limits (model_service.connections)
    assert (seen["loop"], seen["http"]) == (
        "uvloop",
        "model_service.connections:HeadDeadlineProtocol",
    )
    assert seen["timeout_keep_alive"] == 5
    assert seen["timeout_graceful_shutdown"] == 20
    assert not Path(seen["multiproc"]).exists()  # removed once the server stops


def test_serve_hands_back_a_workers_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(workers.uvicorn, "run", lambda app, **_: workers._report("broken: why"))
    assert workers.serve(Settings(model_dir=tmp_path, workers=2), 20) == "broken: why"


def test_main_with_workers_refuses_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, model_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(workers, "serve", lambda settings, _: f"{settings.workers} said no")
    assert main(["--model-dir", str(model_dirs["iris"]), "--workers", "2"]) == EXIT_BAD_PACKAGE
    assert capsys.readouterr().err.endswith(": 2 said no\n")


def test_a_worker_accepts_nothing_until_its_model_is_ready(untrusted_package: Path) -> None:
    reasons: list[str] = []
    app = create_app(
        Settings(model_dir=untrusted_package),
        on_load_failure=reasons.append,
        load_before_serving=True,
    )
    with pytest.raises(RuntimeError, match="not trusted"), TestClient(app):
        pass  # start-up fails: uvicorn stops the worker, and so the server
    assert len(reasons) == 1
    assert "not trusted" in reasons[0]


def test_a_worker_is_ready_when_its_start_up_ends(model_dirs: dict[str, Path]) -> None:
    app = create_app(Settings(model_dir=model_dirs["iris"]), load_before_serving=True)
    with TestClient(app) as client:
        assert client.get("/ping").status_code == 200  # no 503 while loading


def test_a_socket_handed_to_a_uvloop_worker_has_nagle_off() -> None:
    """What the workers rely on: uvicorn binds the socket in the parent
    (protocol number 0) and a spawned worker rebuilds it from a copy of its
    descriptor with that same number; plain asyncio then skips TCP_NODELAY
    (it wants IPPROTO_TCP), uvloop's transport turns Nagle's algorithm off
    on every connection accepted from it."""
    listener = socket.socket(socket.AF_INET)  # as uvicorn's Config.bind_socket
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    # as multiprocessing rebuilds a socket in the spawned worker
    handed = socket.socket(
        listener.family, listener.type, listener.proto, fileno=os.dup(listener.fileno())
    )
    nodelay: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            nodelay.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=handed)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(200):
            if nodelay:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    uvloop.run(accept_one())
    listener.close()
    assert nodelay
    assert nodelay[0] != 0
