"""`python -m model_service --model-dir DIR --host H --port P`.

Options override the `MODEL_SERVICE_*` environment variables. The package
is loaded and verified before the server binds its port, so a missing or
tampered package stops start-up with a one-line reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from model_service import logs
from model_service.app import create_app, load_model
from model_service.package import PackageError
from model_service.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_service", description="Serve a scikit-learn model package over HTTP."
    )
    parser.add_argument(
        "--model-dir", type=Path, help="model package directory (default: the bundled iris model)"
    )
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8080)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    settings = Settings(**overrides)
    logs.configure(settings.log_level)
    try:
        model = load_model(settings)
    except PackageError as exc:
        print(
            f"model_service: cannot serve {settings.resolved_model_dir()}: {exc}", file=sys.stderr
        )
        return 2
    uvicorn.run(
        create_app(settings, model),
        host=settings.host,
        port=settings.port,
        log_config=None,  # logs.configure set up JSON lines
        access_log=False,  # the request middleware logs each request
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
