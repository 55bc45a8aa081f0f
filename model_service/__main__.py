"""`python -m model_service --model-dir DIR --host H --port P`.

Options override the `MODEL_SERVICE_*` environment variables. The package's
card, checksum and library versions are checked before the port is bound,
so a missing or tampered package stops start-up with a one-line reason;
the model itself then loads while the server answers 503, and a package
that cannot be rebuilt stops the server the same way.

`--check` runs every one of those checks (the model rebuilt and warmed up
included) without a server, then exits: 0 with one line naming the model,
or 2 with the same one-line reason. The model image's build runs it, so a
package the service would refuse fails the build, not the first request.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn

from model_service import logs, package, workers
from model_service.app import create_app, prepare
from model_service.auth import TokenError
from model_service.connections import HeadDeadlineProtocol
from model_service.package import PackageError
from model_service.settings import Settings

EXIT_BAD_PACKAGE = 2
#: On SIGTERM uvicorn stops accepting at once, then waits this long for the
#: requests in flight to be answered (a 10,000-row batch included) before
#: cancelling them. Under compose's stop_grace_period (30 s in
#: docker-compose.yml), so the answer comes before any SIGKILL.
GRACEFUL_SHUTDOWN_SECONDS = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_service", description="Serve a scikit-learn model package over HTTP."
    )
    parser.add_argument(
        "--model-dir", type=Path, help="model package directory (default: the bundled iris model)"
    )
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8080)")
    parser.add_argument(
        "--workers", type=int, help="worker processes (default 1; see docs/native-api.md)"
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--check",
        action="store_true",
        help="load, check and warm up the package as the server would, then exit (no server)",
    )
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None and k != "check"}
    settings = Settings(**overrides)
    where = settings.resolved_model_dir()

    def refuse(reason: str) -> int:
        print(f"model_service: cannot serve {where}: {reason}", file=sys.stderr)
        return EXIT_BAD_PACKAGE

    try:
        settings.bearer_tokens()  # a token file that is not there must stop start-up
    except TokenError as exc:
        print(f"model_service: {exc}", file=sys.stderr)
        return EXIT_BAD_PACKAGE
    if args.check:
        return _check(settings, refuse)
    if settings.model_dir is not None:  # the default model is built on first use instead
        try:
            package.verify(settings.model_dir)
        except PackageError as exc:
            return refuse(str(exc))
    logs.configure(settings.log_level)
    if settings.workers > 1:
        failure = workers.serve(settings, GRACEFUL_SHUTDOWN_SECONDS)
        return refuse(failure) if failure is not None else 0
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
        # httptools with a deadline on each request's head (connections.py)
        http=HeadDeadlineProtocol.with_limit(settings.max_head_bytes),
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # No X-Forwarded-For rewriting: nothing here uses the client address,
        # and the layer costs a little on every request.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    server.run()
    if failures:
        return refuse(failures[0])
    return 0 if server.started else 1


def _check(settings: Settings, refuse: Callable[[str], int]) -> int:
    """Everything the server checks before `/ping` says ready, without a server."""
    if settings.model_dir is None:
        # Checking the default model would train it: nothing to verify.
        return refuse("--check needs a package: --model-dir or MODEL_SERVICE_MODEL_DIR")
    try:
        loaded, _ = prepare(settings)
    except PackageError as exc:
        return refuse(str(exc))
    card = loaded.card
    print(
        f"model_service: {loaded.path} serves {card.name} v{card.version} "
        f"({card.task}, {len(card.features)} features)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
