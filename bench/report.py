"""The benchmark's results and their Markdown tables.

Ratios are against the raw floor at the same concurrency (its JSON single
row; its 10,000-row JSON request), when the raw floor ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.load import BatchResult, LoadResult


@dataclass(frozen=True)
class Run:
    target: str
    request: str
    connections: int
    result: LoadResult


@dataclass(frozen=True)
class Batch:
    target: str
    request: str
    result: BatchResult


@dataclass(frozen=True)
class Served:
    """A server's start and memory: seconds from its process start to the
    first 200 of its readiness path; resident memory of its process tree
    once ready and after all its load."""

    target: str
    how: str
    version: str
    ready_s: float
    rss_ready_mb: float
    rss_after_mb: float


@dataclass
class Report:
    model: str
    estimator: str
    runs: list[Run] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def raw_rps(self, connections: int) -> float | None:
        for run in self.runs:
            if run.target == "raw floor" and run.connections == connections:
                return run.result.rps
        return None

    def raw_batch_ms(self) -> float | None:
        for batch in self.batches:
            if batch.target == "raw floor":
                return batch.result.median_ms
        return None


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def render(report: Report) -> str:
    """Markdown: single rows under load, the large request, start and memory."""
    lines = [f"### {report.model}, {report.estimator}", ""]
    lines += [
        "Single rows under load (`wrk -t1`, C connections):",
        "",
        "| server | request | C | req/s | ÷ raw floor | p50 ms | p99 ms | max ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in report.runs:
        r = run.result
        lines.append(
            f"| {run.target} | {run.request} | {run.connections} | {r.rps:.0f} | "
            f"{_ratio(r.rps, report.raw_rps(run.connections))} | {_ms(r.p50_ms)} | "
            f"{_ms(r.p99_ms)} | {_ms(r.max_ms)} | {r.errors + r.non2xx} |"
        )
    if report.batches:
        rows = report.batches[0].result.rows
        lines += [
            "",
            f"One {rows:,}-row request (sequential, one connection, median of the timed ones):",
            "",
            "| server | request | median ms | min ms | max ms | ÷ raw floor |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for batch in report.batches:
            b = batch.result
            lines.append(
                f"| {batch.target} | {batch.request} | {_ms(b.median_ms)} | "
                f"{_ms(min(b.times_ms))} | {_ms(max(b.times_ms))} | "
                f"{_ratio(b.median_ms, report.raw_batch_ms())} |"
            )
    if report.served:
        lines += [
            "",
            "Start and memory (RSS summed over the server's process tree):",
            "",
            "| server | version | how it runs | start to ready s | RSS ready MB | RSS after load MB |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for s in report.served:
            lines.append(
                f"| {s.target} | {s.version or '-'} | {s.how} | {s.ready_s:.2f} | "
                f"{s.rss_ready_mb:.0f} | {s.rss_after_mb:.0f} |"
            )
    if report.failures:
        lines += ["", "Failures:", ""] + [f"- {failure}" for failure in report.failures]
    return "\n".join(lines) + "\n"
