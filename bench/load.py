"""Driving a server and watching it: wrk for load, one keep-alive connection
for the large request, /proc for memory, and start and stop by PID.

wrk (Debian's package) rather than a Python client: a Python load generator
would need more CPU per request than the servers it measures, on a machine
of two cores. One wrk thread; it shares the cores with the server.
Every target is on 127.0.0.1 (`check_loopback`), every run bounded in time.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: wrk's `done` hook: one JSON line with what the tables need. Latencies are
#: wrk's own percentiles (after its coordinated-omission correction); max is
#: the slowest request it actually saw.
_LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int  # socket errors and timeouts
    non2xx: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class BatchResult:
    rows: int
    times_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)


def check_loopback(url: str) -> None:
    """Refuse any target that is not this machine's loopback."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SystemExit(f"refusing non-loopback target {url!r}: only 127.0.0.0/8, ::1, localhost")


def lua_script(body: bytes, content_type: str) -> str:
    """A wrk script POSTing `body` as `content_type`, printing `WRKJSON {...}`.
    The body goes in a Lua long string whose level no `]=*]` in it can close."""
    text = body.decode()
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return (
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
        f"wrk.body = [{eq}[{text}]{eq}]\n" + _LUA_DONE
    )


def parse_wrk(output: str) -> LoadResult:
    """The `WRKJSON` line of a wrk run (see `lua_script`)."""
    match = re.search(r"^WRKJSON (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise ValueError(f"no WRKJSON line in wrk's output: {output[-500:]!r}")
    doc = json.loads(match.group(1))
    return LoadResult(
        requests=doc["requests"],
        seconds=doc["duration_us"] / 1e6,
        errors=doc["errors"],
        non2xx=doc["non2xx"],
        p50_ms=doc["p50_us"] / 1000,
        p99_ms=doc["p99_us"] / 1000,
        max_ms=doc["max_us"] / 1000,
    )


def run_wrk(
    url: str, body: bytes, content_type: str, connections: int, seconds: int, scratch: Path
) -> LoadResult:
    """`wrk -t1 -cN -dS` POSTing body to url; bounded by `seconds` (+ a margin)."""
    check_loopback(url)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    script = scratch / f"post-{abs(hash((body, content_type)))}.lua"
    script.write_text(lua_script(body, content_type))
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    done = subprocess.run(
        [*command, "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-500:]}")
    return parse_wrk(done.stdout)


def post(url: str, body: bytes, content_type: str, timeout: float = 60) -> tuple[int, bytes]:
    check_loopback(url)
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def time_batch(
    url: str, body: bytes, content_type: str, rows: int, n: int, limit_s: float = 120
) -> BatchResult:
    """`n` sequential POSTs of a large body on one keep-alive connection,
    after two discarded ones; stops early past `limit_s`."""
    check_loopback(url)
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=limit_s)
    times = []
    started = time.monotonic()
    try:
        for i in range(n + 2):
            start = time.perf_counter()
            conn.request("POST", parts.path, body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status} for the {rows}-row request")
            if i >= 2:
                times.append((time.perf_counter() - start) * 1000)
            if time.monotonic() - started > limit_s:
                break
    finally:
        conn.close()
    return BatchResult(rows, tuple(times))


# ------------------------------------------------------------------ processes


def start(command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server in a session of its own (so its children are found)."""
    with log.open("ab") as handle:
        return subprocess.Popen(
            list(command),
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> float:
    """Seconds from now until GET url answers 200 (polled every 50 ms)."""
    check_loopback(url)
    parts = urllib.parse.urlsplit(url)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2)
        try:
            conn.request("GET", parts.path)
            if conn.getresponse().status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise RuntimeError(f"{url} was not ready within {timeout:.0f} s")


def process_tree(root: int) -> list[int]:
    """`root` and its live descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists(f"/proc/{pid}"):
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_mb(root: int) -> float:
    """Resident memory of the process tree in MB (VmRSS summed: a worker's
    pages shared with its parent count twice, as `ps` would show them)."""
    total_kb = 0
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def stop(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM the server, then SIGKILL whatever of its tree is left, by PID."""
    tree = process_tree(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    for pid in tree:
        if pid != process.pid and os.path.exists(f"/proc/{pid}"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)
