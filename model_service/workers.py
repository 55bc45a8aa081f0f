"""Several worker processes behind one port: `--workers N` /
`MODEL_SERVICE_WORKERS`.

uvicorn binds the port once in this (parent) process and hands the socket
to N spawned workers; each loads the model itself and the kernel spreads
the connections over them. What this module adds to uvicorn's supervisor:

- the settings reach the workers as `MODEL_SERVICE_*` variables (the
  command line's options included), since a spawned process starts afresh;
- every worker uses uvloop and httptools (with the head limits of
  model_service.connections), like the single process: with
  plain asyncio, a socket handed to a worker is left with Nagle's algorithm
  on, and every small answer waits ~40 ms for the client's delayed ACK
  (tests/unit/model_service/test_workers.py checks the sockets);
- metrics: `PROMETHEUS_MULTIPROC_DIR` is a fresh directory under the
  temporary directory (/tmp, a tmpfs in the read-only container), so
  `/metrics` sums all workers (model_service.metrics); removed on exit;
- readiness: a worker loads and warms up the model before it accepts a
  connection (`create_app(load_before_serving=True)`), so whichever worker
  answers `/ping` is ready; until the first is, connections wait in the
  listen queue. A package a worker cannot serve fails its start-up, which
  stops them all; its reason is handed back here for the exit message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from model_service import connections, logs
from model_service.app import create_app
from model_service.settings import Settings

#: where a worker writes the reason it cannot serve the package
FAILURE_FILE = "MODEL_SERVICE_WORKER_FAILURE_FILE"
_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"


def serve(settings: Settings, graceful_shutdown_seconds: int) -> str | None:
    """Run `settings.workers` workers until the server stops; the reason
    the package could not be served, if that is why it stopped. Each worker
    gives requests in flight `graceful_shutdown_seconds` on a stop."""
    run_dir = Path(tempfile.mkdtemp(prefix="model-service-"))
    metrics_dir = run_dir / "metrics"
    metrics_dir.mkdir()
    failure = run_dir / "load-failure"
    os.environ.update(settings_environment(settings))
    os.environ[_MULTIPROC] = str(metrics_dir)
    os.environ[FAILURE_FILE] = str(failure)
    try:
        uvicorn.run(
            f"{__name__}:worker_app",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_config=None,  # each worker sets up JSON lines (worker_app)
            access_log=False,  # the request middleware logs each request
            loop="uvloop",
            # httptools with the head deadline and size limit (connections.py),
            # named by import path: a spawned worker imports it afresh
            http="model_service.connections:HeadDeadlineProtocol",
            timeout_keep_alive=settings.keep_alive_seconds,
            timeout_graceful_shutdown=graceful_shutdown_seconds,
            proxy_headers=False,  # as in the single process (model_service.__main__)
        )
        return failure.read_text() if failure.exists() else None
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as the `MODEL_SERVICE_*` variables that give them back."""
    fields = settings.model_dump(exclude_none=True)
    if settings.token is not None:  # model_dump keeps it a SecretStr, whose str() is "*****"
        fields["token"] = settings.token.get_secret_value()
    return {f"MODEL_SERVICE_{name.upper()}": str(value) for name, value in fields.items()}


def worker_app() -> FastAPI:
    """The app of one worker, from the environment `serve` set."""
    settings = Settings()
    logs.configure(settings.log_level)
    # This process's protocol class, set before its first connection.
    connections.HeadDeadlineProtocol.max_head_bytes = settings.max_head_bytes
    return create_app(settings, on_load_failure=_report, load_before_serving=True)


def _report(reason: str) -> None:
    path = os.environ.get(FAILURE_FILE)
    if path:
        Path(path).write_text(reason)
