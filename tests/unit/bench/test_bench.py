"""The benchmark's own code: wrk's output parsed, the Lua script it runs,
the loopback guard, bodies each server understands, and the tables. No
speed is asserted anywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import load, targets
from bench.__main__ import _parser
from bench.load import BatchResult, LoadResult
from bench.report import Batch, Report, Run, Served, render

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8080/invocations
  1 threads and 16 connections
  Latency Distribution
     50%    6.23ms
     99%   17.40ms
  20630 requests in 10.00s, 7.10MB read
Requests/sec:   2063.00
WRKJSON {"requests":20630,"duration_us":10000000,"errors":2,"non2xx":1,"p50_us":6230,"p99_us":17400,"max_us":28012}
"""


def test_wrk_summary_is_parsed() -> None:
    result = load.parse_wrk(WRK_OUTPUT)
    assert result == LoadResult(
        requests=20630, seconds=10.0, errors=2, non2xx=1, p50_ms=6.23, p99_ms=17.4, max_ms=28.012
    )
    assert result.rps == pytest.approx(2063.0)


def test_wrk_output_without_a_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="no WRKJSON line"):
        load.parse_wrk("unable to connect to 127.0.0.1:8080 Connection refused\n")


def test_lua_script_carries_the_body_whole() -> None:
    body = b'{"instances": [[5.1, 3.5]]} ]] ]=]'
    script = load.lua_script(body, "application/json")
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    # the body holds ]] and ]=], so the long string is of level 2
    assert "wrk.body = [==[" + body.decode() + "]==]" in script
    assert "WRKJSON" in script


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:80/x", "http://example.com/x", "http://192.168.1.2:8080/"]
)
def test_only_loopback_is_a_target(url: str) -> None:
    with pytest.raises(SystemExit, match="non-loopback"):
        load.check_loopback(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x", "http://localhost:2/", "http://[::1]:3/"])
def test_loopback_is_allowed(url: str) -> None:
    load.check_loopback(url)


def test_bodies_say_the_same_rows_in_each_servers_format() -> None:
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.5, 1.5]])
    ours = {r.label: r for r in targets.ours(targets.ROOT, "iris").single}
    assert json.loads(ours["JSON"].encode(rows)) == {"instances": rows.tolist()}
    assert ours["CSV"].encode(rows) == b"5.1,3.5,1.4,0.2\n6.0,2.9,4.5,1.5"
    v2 = json.loads(ours["V2 JSON"].encode(rows))["inputs"][0]
    assert (v2["shape"], v2["datatype"], v2["data"]) == ([2, 4], "FP64", rows.ravel().tolist())
    raw = targets.raw(targets.ROOT / "model.joblib").single[0]
    assert json.loads(raw.encode(rows)) == {"inputs": rows.tolist()}
    assert raw.path == "/predict"


def test_parser_defaults() -> None:
    args = _parser().parse_args([])
    assert (args.model, args.estimator, args.conc, args.peers) == (
        "iris",
        "linear",
        "1,16,64",
        False,
    )


def _load(rps: float, p99: float) -> LoadResult:
    return LoadResult(int(rps * 10), 10.0, 0, 0, 1.0, p99, p99 * 2)


def test_table_shows_ratios_to_the_raw_floor() -> None:
    report = Report("iris", "forest")
    report.runs += [
        Run("this service", "JSON", 16, _load(500, 40)),
        Run("raw floor", "JSON", 16, _load(50, 400)),
        Run("MLflow", "JSON", 64, _load(60, 900)),  # no raw floor at 64: no ratio
    ]
    report.batches += [
        Batch("this service", "CSV", BatchResult(10_000, (20.0, 22.0, 30.0))),
        Batch("raw floor", "JSON", BatchResult(10_000, (10.0, 11.0, 12.0))),
    ]
    report.served.append(Served("this service", "python -m model_service", "", 4.51, 180.4, 190.0))
    report.failures.append("MLServer: HTTP 500")
    table = render(report)
    assert table.startswith("### iris, forest\n")
    assert "| this service | JSON | 16 | 500 | 10.00x | 1.00 | 40.0 | 80.0 | 0 |" in table
    assert "| raw floor | JSON | 16 | 50 | 1.00x |" in table
    assert "| MLflow | JSON | 64 | 60 | - |" in table
    assert "One 10,000-row request" in table
    assert "| this service | CSV | 22.0 | 20.0 | 30.0 | 2.00x |" in table
    assert "| this service | - | python -m model_service | 4.51 | 180 | 190 |" in table
    assert "- MLServer: HTTP 500" in table


def test_table_without_the_peers_has_no_ratios() -> None:
    report = Report("iris", "linear")
    report.runs.append(Run("this service", "CSV", 1, _load(1000, 2)))
    assert "| this service | CSV | 1 | 1000 | - |" in render(report)
    assert "10,000-row" not in render(report)
