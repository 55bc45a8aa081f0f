#!/usr/bin/env python3
"""Soak one service at a steady rate for minutes, with a mix of single
rows, batches and bad requests, and report what came back and how each
process's memory moved.

    .venv/bin/python scripts/soak.py model [--rate 20] [--duration 180]
    .venv/bin/python scripts/soak.py web   [--rate 20] [--duration 180]
    .venv/bin/python scripts/soak.py model --url http://127.0.0.1:8080 --pid 1234

`model` drives the model service's `/invocations`; `web` drives the web app
(the form at `/predict`, CSV uploads at `/batch`) in front of a model
service. Without --url both are started here on free loopback ports, as the
images run them (uvicorn; gunicorn with 2 workers and 4 threads), and
stopped by PID afterwards; with --url the service is only targeted, and
--pid names the process whose tree's memory is sampled.

Bounded: at most --duration seconds (600 at most) and rate x duration
requests, each with a 30 s timeout; loopback only (--url must be
127.0.0.1 or localhost). Requests are sent at fixed times (open loop) by a
pool of threads, so a slow answer does not slow the rate.

What counts: a good request (a row, a batch) must get 200 and a bad one
(a malformed body, a wrong row, a cell that is not a number) a 4xx; any
other answer, or none, is unexpected. Memory is each process tree's RSS
(from /proc, summed over children: gunicorn's workers, say) at the start,
middle and end of the load; it is flat when the second half grew it by at
most FLAT_MB (the first half holds the warm-up: caches, allocator arenas).
Exit status: 0 when nothing was unexpected and memory was flat, else 1.

Why a script of its own and not wrk (the benchmark, `python -m bench`):
the web app's forms need a session cookie and a CSRF token per client, and
the mix needs per-request expected statuses. Why it is near 400 lines, in
one file: it is run as a file (`scripts/soak.py`, no package to install),
and its parts (starting the services, the two targets' requests, the
open-loop sender, the memory sampler, the report) serve only each other.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
MAX_DURATION = 600.0
TIMEOUT = 30.0
#: Memory is flat when a tree's RSS grew by at most this over the second half.
FLAT_MB = 10.0
IRIS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
ROW = (5.8, 3.0, 4.3, 1.3)
BATCH_ROWS = 100

# --- pure parts (tests/unit/scripts/test_soak.py) -------------------------------------


@dataclass(frozen=True)
class Kind:
    """One sort of request in the mix: its share, and whether its right
    answer is a 200 (`good`) or a 4xx."""

    name: str
    weight: int
    good: bool


#: The mix, the same for both targets: mostly single rows, some batches, some mistakes.
MIX = (
    Kind("row", 70, good=True),
    Kind("batch", 20, good=True),
    Kind("bad", 10, good=False),
)


def schedule(count: int, mix: Sequence[Kind] = MIX, seed: int = 11) -> list[Kind]:
    """`count` kinds in the mix's proportions, shuffled by a fixed seed so
    two runs send the same sequence."""
    total = sum(k.weight for k in mix)
    kinds = [k for k in mix for _ in range(math.ceil(count * k.weight / total))][:count]
    random.Random(seed).shuffle(kinds)
    return kinds


def expected(kind: Kind, status: int) -> bool:
    return status == 200 if kind.good else 400 <= status < 500


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by the nearest-rank method; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Tally:
    """What came back, by kind and status; status 0 is no answer at all."""

    sent: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    unexpected: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: Kind, status: int, seconds: float, error: str = "") -> None:
        with self.lock:
            self.statuses[kind.name, status] += 1
            if status:
                self.latencies.append(seconds)
            if not expected(kind, status):
                self.unexpected[kind.name, status] += 1
            if error:
                self.errors[error] += 1

    @property
    def answered(self) -> int:
        return sum(n for (_, status), n in self.statuses.items() if status)


def tree_rss_kb(pid: int, proc: Path = Path("/proc")) -> int:
    """RSS in kB of `pid` and all its descendants, read from `proc`
    (a directory laid out like /proc); 0 for processes that are gone."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue  # ended meanwhile
        # The command name may hold spaces and parentheses: fields follow the last ")".
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        rss[int(entry.name)] = int(found.group(1)) if found else 0
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total


def flat(samples_kb: Sequence[int], limit_mb: float = FLAT_MB) -> bool:
    """Start, middle, end: flat when end - middle is at most `limit_mb`."""
    return (samples_kb[-1] - samples_kb[len(samples_kb) // 2]) / 1024 <= limit_mb


def report(
    target: str, rate: float, seconds: float, tally: Tally, memory: dict[str, list[int]]
) -> list[str]:
    lines = [
        f"target: {target}; rate {rate:g} req/s for {seconds:.0f} s",
        f"sent {tally.sent}, answered {tally.answered}",
        "answers by kind and status: "
        + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(tally.statuses.items())),
        "expected 4xx (bad requests): "
        + str(sum(n for (k, s), n in tally.statuses.items() if k == "bad" and 400 <= s < 500)),
        "unexpected: "
        + (", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(tally.unexpected.items())) or "none"),
        f"latency p50 {percentile(tally.latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(tally.latencies, 99) * 1000:.1f} ms",
    ]
    if tally.errors:
        lines.append("no answer: " + ", ".join(f"{e}: {n}" for e, n in tally.errors.items()))
    for name, samples in memory.items():
        verdict = "flat" if flat(samples) else f"NOT flat (> {FLAT_MB:g} MB over the second half)"
        lines.append(
            f"memory {name} (RSS, MB) start/middle/end: "
            + " / ".join(f"{kb / 1024:.1f}" for kb in samples)
            + f": {verdict}"
        )
    return lines


# --- the requests -------------------------------------------------------------------


def model_request(kind: Kind, base: str, session: requests.Session) -> requests.Response:
    """A row as JSON, a batch as CSV with a header, or one of three mistakes."""
    url = f"{base}/invocations"
    if kind.name == "row":
        return session.post(url, json={"instances": [list(ROW)]}, timeout=TIMEOUT)
    if kind.name == "batch":
        return session.post(
            url,
            data=_csv(BATCH_ROWS),
            headers={"Content-Type": "text/csv; header=present"},
            timeout=TIMEOUT,
        )
    mistake = random.choice(
        [
            (b'{"instances": [[1, 2]]}', "application/json"),  # too few features
            (b'{"instances": [[1, 2, 3', "application/json"),  # not JSON
            (_csv(3).replace(b"4.3", b"x", 1), "text/csv; header=present"),  # not a number
        ]
    )
    return session.post(url, data=mistake[0], headers={"Content-Type": mistake[1]}, timeout=TIMEOUT)


class WebClient:
    """One person's browser: a session cookie and the form's fields."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        page = self.session.get(f"{base}/", timeout=TIMEOUT).text
        self.fields = dict(re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', page))
        self.fields["format"] = "json"

    def send(self, kind: Kind) -> requests.Response:
        if kind.name == "row":
            return self.session.post(f"{self.base}/predict", data=self.fields, timeout=TIMEOUT)
        if kind.name == "bad" and random.random() < 0.5:
            wrong = {**self.fields, f"x:{IRIS[0]}": "five"}
            return self.session.post(f"{self.base}/predict", data=wrong, timeout=TIMEOUT)
        body = _csv(BATCH_ROWS) if kind.name == "batch" else _csv(3).replace(b"4.3", b"x", 1)
        return self.session.post(
            f"{self.base}/batch",
            data={"csrf_token": self.fields["csrf_token"], "format": "csv"},
            files={"file": ("rows.csv", body, "text/csv")},
            timeout=TIMEOUT,
        )


def _csv(rows: int) -> bytes:
    lines = [",".join(IRIS)] + [
        ",".join(f"{v + (i % 7) * 0.1:.1f}" for v in ROW) for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


# --- the run ------------------------------------------------------------------------


def drive(
    send: Callable[[Kind], requests.Response],
    rate: float,
    seconds: float,
    sample: Callable[[], None],
) -> Tally:
    """Send `rate` x `seconds` requests at fixed times; `sample` runs at the
    start, the middle and the end."""
    kinds = schedule(int(rate * seconds))
    tally = Tally()

    def one(kind: Kind) -> None:
        started = time.perf_counter()
        try:
            response = send(kind)
        except requests.RequestException as exc:
            tally.add(kind, 0, time.perf_counter() - started, type(exc).__name__)
        else:
            tally.add(kind, response.status_code, time.perf_counter() - started)

    t0 = time.monotonic()
    sample()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i, kind in enumerate(kinds):
            time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            if i == len(kinds) // 2:
                pool.submit(sample)
            pool.submit(one, kind)
            tally.sent += 1
    sample()
    return tally


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], ready: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(ready, timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.25)
    _stop(process)
    raise SystemExit(f"{args[0]} did not become ready at {ready}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=["model", "web"])
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds (at most 600)")
    parser.add_argument("--url", help="a running service on loopback to target instead")
    parser.add_argument("--pid", type=int, help="with --url: the process whose memory to sample")
    args = parser.parse_args(argv)
    seconds = min(args.duration, MAX_DURATION)
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("--url must be on loopback (127.0.0.1 or localhost)")
    started: list[subprocess.Popen[bytes]] = []
    pids: dict[str, int] = {}
    try:
        if args.url:
            base = args.url.rstrip("/")
            if args.pid:
                pids[args.target] = args.pid
        else:
            model_port = _free_port()
            model = _start(
                ["model_service", "--host", "127.0.0.1", "--port", str(model_port)],
                f"http://127.0.0.1:{model_port}/ping",
                {},
            )
            started.append(model)
            pids["model service"] = model.pid
            base = f"http://127.0.0.1:{model_port}"
            if args.target == "web":
                web_port = _free_port()
                web = _start(
                    [
                        *("gunicorn", "--bind", f"127.0.0.1:{web_port}"),
                        *("--workers", "2", "--threads", "4", "web_app.wsgi:app"),
                    ],
                    f"http://127.0.0.1:{web_port}/healthz",
                    {"WEB_APP_MODEL_URL": base, "WEB_APP_SECRET_KEY": secrets.token_hex(16)},
                )
                started.append(web)
                pids["web app (gunicorn tree)"] = web.pid
                base = f"http://127.0.0.1:{web_port}"
        memory: dict[str, list[int]] = {name: [] for name in pids}

        def sample() -> None:
            for name, pid in pids.items():
                memory[name].append(tree_rss_kb(pid))

        if args.target == "model":
            session = requests.Session()
            tally = drive(
                lambda kind: model_request(kind, base, session), args.rate, seconds, sample
            )
        else:
            # A few people, each with their own cookie and token, taking turns.
            clients = [WebClient(base) for _ in range(8)]
            turn = itertools.count()  # next() on it is atomic: safe from the pool's threads
            tally = drive(
                lambda kind: clients[next(turn) % len(clients)].send(kind),
                args.rate,
                seconds,
                sample,
            )
    finally:
        for process in reversed(started):
            _stop(process)
    lines = report(args.target, args.rate, seconds, tally, memory)
    print("\n".join(lines))
    ok = not tally.unexpected and all(flat(s) for s in memory.values() if len(s) == 3)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
