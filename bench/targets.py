"""What the benchmark serves and sends: this service and, with `--peers`,
the raw floor, MLflow serving and MLServer, each serving the very estimator
of the same model package, each asked for probabilities.

A `Target` knows how to start its server on a port and which requests to
send it; `bench.__main__` drives them all alike.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import venvs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Request:
    """One kind of request: `label` in the tables (e.g. `JSON`), its path,
    media type, and a body for `rows` (a 2-D float array)."""

    label: str
    path: str
    content_type: str
    encode: Callable[[np.ndarray], bytes]


@dataclass(frozen=True)
class Target:
    name: str
    #: what runs, for the table
    how: str
    #: (port, ports for side channels) -> command; env for it
    command: Callable[[list[int]], list[str]]
    env: Callable[[list[int]], dict[str, str]]
    ready_path: str
    #: single-row requests, under load
    single: tuple[Request, ...]
    #: the large request (one of them)
    batch: tuple[Request, ...]
    ports: int = 1
    version: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ bodies


def _csv(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(v) for v in row) for row in rows.tolist()).encode()


def _instances(rows: np.ndarray) -> bytes:
    return json.dumps({"instances": rows.tolist()}, separators=(",", ":")).encode()


def _inputs(rows: np.ndarray) -> bytes:
    return json.dumps({"inputs": rows.tolist()}, separators=(",", ":")).encode()


def _v2(outputs: list[str] | None = None) -> Callable[[np.ndarray], bytes]:
    def encode(rows: np.ndarray) -> bytes:
        doc: dict[str, object] = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": list(rows.shape),
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        }
        if outputs:
            doc["outputs"] = [{"name": name} for name in outputs]
        return json.dumps(doc, separators=(",", ":")).encode()

    return encode


def _dataframe_split(columns: list[str]) -> Callable[[np.ndarray], bytes]:
    def encode(rows: np.ndarray) -> bytes:
        doc = {"dataframe_split": {"columns": columns, "data": rows.tolist()}}
        return json.dumps(doc, separators=(",", ":")).encode()

    return encode


# ------------------------------------------------------------------ targets


def ours(model_dir: Path, name: str) -> Target:
    """This service, as `python -m model_service` runs it by default."""
    return Target(
        name="this service",
        how="python -m model_service (defaults)",
        command=lambda ports: [
            sys.executable,
            "-m",
            "model_service",
            "--model-dir",
            str(model_dir),
            "--port",
            str(ports[0]),
            "--log-level",
            "warning",
        ],
        env=lambda ports: {"PYTHONPATH": str(ROOT)},
        ready_path="/ping",
        single=(
            Request("JSON", "/invocations", "application/json", _instances),
            Request("CSV", "/invocations", "text/csv", _csv),
            Request("V2 JSON", f"/v2/models/{name}/infer", "application/json", _v2()),
        ),
        batch=(
            Request("CSV", "/invocations", "text/csv", _csv),
            Request("JSON", "/invocations", "application/json", _instances),
        ),
    )


def raw(joblib_path: Path) -> Target:
    """The raw floor (bench/raw_app.py) in this project's own venv: the
    same scikit-learn, uvicorn with uvloop and httptools, one worker."""
    return Target(
        name="raw floor",
        how="bench/raw_app.py: uvicorn, 1 worker, uvloop + httptools",
        command=lambda ports: [
            sys.executable,
            "-m",
            "uvicorn",
            "raw_app:app",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            str(ports[0]),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=lambda ports: {"MODEL_PATH": str(joblib_path)},
        ready_path="/",
        single=(Request("JSON", "/predict", "application/json", _inputs),),
        batch=(Request("JSON", "/predict", "application/json", _inputs),),
    )


def mlflow(model_dir: Path, columns: list[str]) -> Target:
    """`mlflow models serve` with its defaults (one uvicorn worker)."""
    bin_dir = venvs.bin_dir("mlflow")
    encode = _dataframe_split(columns)
    return Target(
        name="MLflow",
        how="mlflow models serve --env-manager local (defaults)",
        command=lambda ports: [
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-p",
            str(ports[0]),
            "-h",
            "127.0.0.1",
        ],
        # as if its venv were activated: mlflow runs `uvicorn` from PATH
        env=lambda ports: venvs.activated("mlflow"),
        ready_path="/ping",
        single=(Request("JSON", "/invocations", "application/json", encode),),
        batch=(Request("JSON", "/invocations", "application/json", encode),),
        version=venvs.version("mlflow", "mlflow"),
    )


def mlserver(repository: Path, name: str) -> Target:
    """`mlserver start`, tuned as its docs suggest for one model: inference
    in the server process (`parallel_workers=0`), no per-request debug log."""
    bin_dir = venvs.bin_dir("mlserver")
    encode = _v2(["predict_proba"])
    path = f"/v2/models/{name}/infer"
    return Target(
        name="MLServer (tuned)",
        how="mlserver start, MLSERVER_PARALLEL_WORKERS=0, MLSERVER_DEBUG=false",
        command=lambda ports: [str(bin_dir / "mlserver"), "start", str(repository)],
        env=lambda ports: {
            **venvs.activated("mlserver"),
            "MLSERVER_HOST": "127.0.0.1",
            "MLSERVER_HTTP_PORT": str(ports[0]),
            "MLSERVER_GRPC_PORT": str(ports[1]),
            "MLSERVER_METRICS_PORT": str(ports[2]),
            "MLSERVER_PARALLEL_WORKERS": "0",
            "MLSERVER_DEBUG": "false",
        },
        ready_path=f"/v2/models/{name}/ready",
        single=(Request("V2 JSON", path, "application/json", encode),),
        batch=(Request("V2 JSON", path, "application/json", encode),),
        ports=3,
        version=venvs.version("mlserver", "mlserver"),
    )
