"""`python -m model_service --workers 2` as a real process: two workers
behind one port, each answering; `/metrics` sums both, whichever answers
the scrape; a package a worker cannot rebuild stops the server with its
reason; the metrics directory is gone after a stop."""

from __future__ import annotations

import glob
import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.integration.conftest import ROOT, free_port, model_service

REQUESTS = 40


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
        for i in range(REQUESTS):  # a new connection each: the kernel spreads them
            response = requests.post(
                service.url + "/invocations",
                data="5.1,3.5,1.4,0.2",
                headers={"Content-Type": "text/csv", "X-Request-ID": f"w-{i}"},
                timeout=10,
            )
            assert response.status_code == 200
            assert response.headers["x-request-id"] == f"w-{i}"
        assert requests.get(service.url + "/ping", timeout=10).status_code == 200
        directories = _multiproc_dirs(pids)
        assert len(directories) == 1
        counted = {p.name for p in Path(directories.pop()).glob("counter_*.db")}
        metrics = requests.get(service.url + "/metrics", timeout=10).text
    # Summed over both workers, whichever one answered the scrape.
    assert (
        f'http_requests_total{{method="POST",route="/invocations",status="200"}} {REQUESTS}.0'
        in metrics
    )
    assert f'predicted_rows_total{{protocol="native"}} {REQUESTS}.0' in metrics
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
