"""`python -m model_service --model-dir DIR --host H --port P`.

Options override the `MODEL_SERVICE_*` environment variables. The package's
card, checksum and library versions are checked before the port is bound,
so a missing or tampered package stops start-up with a one-line reason;
the model itself then loads while the server answers 503, and a package
that cannot be rebuilt stops the server the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from model_service import logs, package
from model_service.app import create_app
from model_service.package import PackageError
from model_service.settings import Settings

EXIT_BAD_PACKAGE = 2


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
    where = settings.resolved_model_dir()

    def refuse(reason: str) -> int:
        print(f"model_service: cannot serve {where}: {reason}", file=sys.stderr)
        return EXIT_BAD_PACKAGE

    if settings.model_dir is not None:  # the default model is built on first use instead
        try:
            package.verify(settings.model_dir)
        except PackageError as exc:
            return refuse(str(exc))
    logs.configure(settings.log_level)
    failures: list[str] = []

    def stop(reason: str) -> None:
        failures.append(reason)
        server.should_exit = True

    config = uvicorn.Config(
        create_app(settings, on_load_failure=stop),
        host=settings.host,
        port=settings.port,
        log_config=None,  # logs.configure set up JSON lines
        access_log=False,  # the request middleware logs each request
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    server.run()
    if failures:
        return refuse(failures[0])
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
