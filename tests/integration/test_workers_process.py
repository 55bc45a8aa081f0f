"""`python -m model_service --workers 2` as a real process: two workers
behind one port, each answering; `/metrics` sums both, whichever answers
the scrape; a package a worker cannot rebuild stops the server with its
reason; the metrics directory is gone after a stop."""

from __future__ import annotations

import glob
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.integration.conftest import ROOT, free_port, model_service

#: Requests sent at a time, each on a new connection, and the most sent in
#: all: the kernel hands a connection to whichever worker accepts first, and
#: on a busy machine one worker can win a few dozen in a row.
AT_ONCE, MOST = 8, 800


def _workers(parent: int) -> list[int]:
    """The spawned worker processes of `parent` (not multiprocessing's
    resource tracker)."""
    found = []
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            text = Path(status).read_text()
            cmdline = Path(status).with_name("cmdline").read_bytes()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{parent}$", text, re.M) and b"spawn_main" in cmdline:
            found.append(int(Path(status).parent.name))
    return found


def _predict(url: str, request_id: str) -> requests.Response:
    """One CSV row on a new connection (no session: the kernel spreads them)."""
    return requests.post(
        url + "/invocations",
        data="5.1,3.5,1.4,0.2",
        headers={"Content-Type": "text/csv", "X-Request-ID": request_id},
        timeout=10,
    )


def _counter_files(pids: list[int]) -> set[str]:
    """The workers (by pid) that have counted a request so far."""
    return {
        p.name for directory in _multiproc_dirs(pids) for p in Path(directory).glob("counter_*.db")
    }


def _multiproc_dirs(pids: list[int]) -> set[str]:
    return {
        p for p in glob.glob("/tmp/model-service-*/metrics") if any(Path(p).glob(f"*_{pids[0]}.db"))
    }


def test_two_workers_answer_and_metrics_sum_them(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    with model_service(model_dirs["iris"], tmp_path, MODEL_SERVICE_WORKERS="2") as service:
        pids = _workers(service.process.pid)
        assert len(pids) == 2
        sent = 0
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(AT_ONCE) as pool:
            while sent < MOST and time.monotonic() < deadline:
                ids = [f"w-{i}" for i in range(sent, sent + AT_ONCE)]
                for request_id, response in zip(
                    ids, pool.map(lambda i: _predict(service.url, i), ids), strict=True
                ):
                    assert response.status_code == 200
                    assert response.headers["x-request-id"] == request_id
                sent += AT_ONCE
                if len(_counter_files(pids)) == 2:
                    break
        assert requests.get(service.url + "/ping", timeout=10).status_code == 200
        directories = _multiproc_dirs(pids)
        assert len(directories) == 1
        counted = {p.name for p in Path(directories.pop()).glob("counter_*.db")}
        metrics = requests.get(service.url + "/metrics", timeout=10).text
    # Summed over both workers, whichever one answered the scrape.
    assert (
        f'http_requests_total{{method="POST",route="/invocations",status="200"}} {sent}.0'
        in metrics
    )
    assert f'predicted_rows_total{{protocol="native"}} {sent}.0' in metrics
    assert 'model_info{name="iris",task="classification",version="1"} 1.0' in metrics
    assert counted == {f"counter_{pid}.db" for pid in pids}  # both workers answered
    assert not _multiproc_dirs(pids)  # removed on stop


def test_a_package_a_worker_cannot_rebuild_stops_the_server(untrusted_package: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_service",
            "--model-dir",
            str(untrusted_package),
            "--port",
            str(free_port()),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"model_service: cannot serve {untrusted_package}:")
    assert "not trusted" in last
