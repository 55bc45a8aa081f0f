"""Real service processes on 127.0.0.1 for integration tests: started on a
free port, waited for with a bounded timeout, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_process(
    args: Sequence[str], ready_path: str, log: Path, port: int, env: dict[str, str] | None = None
) -> ServiceProcess:
    """Start `python -m ...args` and wait until GET ready_path answers 200."""
    with log.open("wb") as handle:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args[0]} exited with {process.returncode}:\n{service.output()}")
        try:
            if requests.get(service.url + ready_path, timeout=1).status_code == 200:
                return service
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or listening but still loading (gunicorn binds before its workers boot)
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"{args[0]} was not ready within {START_TIMEOUT} s:\n{service.output()}")


@contextmanager
def model_service(
    model_dir: Path, log_dir: Path, port: int | None = None, **env: str
) -> Iterator[ServiceProcess]:
    """`python -m model_service` serving model_dir, stopped on exit."""
    port = port or free_port()
    service = start_process(
        [
            "model_service",
            "--model-dir",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        "/ping",
        log_dir / f"model_service-{port}.log",
        port,
        env,
    )
    try:
        yield service
    finally:
        service.stop()


@contextmanager
def web_app(
    model_url: str, log_dir: Path, port: int | None = None, *, server: str = "gunicorn", **env: str
) -> Iterator[ServiceProcess]:
    """The web app in front of `model_url`, stopped on exit: as the container
    runs it (gunicorn on `web_app.wsgi:app`, two workers sharing one secret
    key) or, with `server="dev"`, `python -m web_app`. Ready once /healthz
    is 200, whatever the state of the model service."""
    port = port or free_port()
    if server == "gunicorn":
        args = ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "web_app.wsgi:app"]
    else:
        args = ["web_app", "--model-url", model_url, "--host", "127.0.0.1", "--port", str(port)]
    settings = {
        "WEB_APP_MODEL_URL": model_url,
        "WEB_APP_SECRET_KEY": "integration-tests",
        "WEB_APP_METADATA_CACHE_SECONDS": "1",
        **env,
    }
    service = start_process(args, "/healthz", log_dir / f"web_app-{port}.log", port, settings)
    try:
        yield service
    finally:
        service.stop()
