#!/usr/bin/env python3
"""Measure the model service on this machine: single-row requests under load
(wrk, concurrency 1 and 16, JSON, CSV and V2), one 10,000-row CSV request,
and the in-process cost of the same rows for comparison.

    .venv/bin/python scripts/bench.py [--model iris] [--duration 10] [--conc 1,16]

Starts `python -m model_service` on a free loopback port, stops it by PID
afterwards. Needs `wrk` (Debian package). Every load run is bounded by
--duration (at most 60 s). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_service import package  # noqa: E402
from model_service.predictor import Predictor  # noqa: E402
from model_service.train import build  # noqa: E402

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "{content_type}"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.3f %.3f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the service did not become ready")


def wrk(
    url: str, body: bytes, content_type: str, conc: int, duration: int, scratch: Path
) -> dict[str, float]:
    script = scratch / f"post-{conc}.lua"
    script.write_text(WRK_SCRIPT.format(body=json.dumps(body.decode()), content_type=content_type))
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{conc}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    assert match, out
    requests, errors, micros, p50, p99 = match.groups()
    return {
        "rps": int(requests) / (int(micros) / 1e6),
        "errors": int(errors),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
    }


def post_timings(port: int, path: str, body: bytes, content_type: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings = []
    for i in range(n + 2):
        start = time.perf_counter()
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        if i >= 2:  # two warm-up requests
            timings.append(time.perf_counter() - start)
    return timings


def in_process(model_dir: Path, X: np.ndarray, n: int) -> dict[str, float]:
    loaded = package.load(model_dir)
    predictor = Predictor.from_package(loaded)
    method = (
        loaded.estimator.predict_proba if loaded.card.is_classifier else loaded.estimator.predict
    )

    def median_ms(fn: object, rows: np.ndarray, repeat: int) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn(rows)  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    one = X[:1]
    return {
        "sklearn_1row_us": median_ms(method, one, 2000) * 1000,
        "predictor_1row_us": median_ms(predictor.predict, one, 2000) * 1000,
        "sklearn_batch_ms": median_ms(method, X, n),
        "predictor_batch_ms": median_ms(predictor.predict, X, n),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="iris")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conc", default="1,16")
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--batch-n", type=int, default=20)
    args = parser.parse_args()
    if args.duration > 60:
        raise SystemExit("keep load runs bounded: --duration <= 60")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    model_dir = scratch / args.model
    card = build(args.model, model_dir)
    example = card.example_row()
    low = np.array([f.min for f in card.features])
    high = np.array([f.max for f in card.features])
    X = np.random.default_rng(0).uniform(low, high, size=(args.batch_rows, len(low)))
    one_json = json.dumps({"instances": [example]}).encode()
    one_csv = ",".join(repr(v) for v in example).encode()
    v2 = json.dumps(
        {
            "inputs": [
                {"name": "input-0", "shape": [1, len(example)], "datatype": "FP64", "data": example}
            ]
        }
    ).encode()
    batch_csv = "\n".join(",".join(repr(v) for v in row) for row in X.tolist()).encode()

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "model_service",
            "--model-dir",
            str(model_dir),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    rows = []
    try:
        wait_ready(port)
        base = f"http://127.0.0.1:{port}"
        wrk(
            base + "/invocations", one_json, "application/json", 16, 3, scratch
        )  # warm-up, discarded
        targets = [
            ("/invocations JSON", "/invocations", one_json, "application/json"),
            ("/invocations CSV", "/invocations", one_csv, "text/csv"),
            ("V2 infer JSON", f"/v2/models/{card.name}/infer", v2, "application/json"),
        ]
        for label, path, body, content_type in targets:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", path, body=body, headers={"Content-Type": content_type})
            if conn.getresponse().status != 200:
                continue  # e.g. a build without the V2 routes
            for conc in [int(c) for c in args.conc.split(",")]:
                result = wrk(base + path, body, content_type, conc, args.duration, scratch)
                rows.append((label, conc, result))
        batch = post_timings(port, "/invocations", batch_csv, "text/csv", args.batch_n)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    local = in_process(model_dir, X, args.batch_n)

    print(f"model: {card.name} ({card.training.estimator})\n")
    print("| request | C | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for label, conc, r in rows:
        print(
            f"| {label} | {conc} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |"
        )
    print(
        f"\n{args.batch_rows:,}-row CSV over HTTP: median {statistics.median(batch) * 1000:.1f} ms "
        f"(min {min(batch) * 1000:.1f}, max {max(batch) * 1000:.1f}, n={len(batch)})"
    )
    print(
        f"in-process, same rows: estimator {local['sklearn_batch_ms']:.2f} ms, "
        f"service's Predictor {local['predictor_batch_ms']:.2f} ms"
    )
    print(
        f"in-process, one row: estimator {local['sklearn_1row_us']:.1f} us, "
        f"service's Predictor {local['predictor_1row_us']:.1f} us"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
