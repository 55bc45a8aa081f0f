"""`python -m bench`: this service under load on this machine, and with
`--peers` the raw floor, MLflow serving and MLServer beside it, serving
the same estimator in the same run. See bench/README.md.

    python -m bench                                    # iris, linear
    python -m bench --estimator linear,forest --peers --out bench/RESULTS.md
    python -m bench --model-dir models/mine            # your own package

Each server: started on a free loopback port, timed to ready, one request
of each kind checked (200), warmed up, driven with single rows at each
concurrency for `--duration` seconds (wrk), then sent one 10,000-row
request `--batch-n` times; memory read from /proc; stopped by PID.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from bench import load, targets, venvs
from bench.report import Batch, Report, Run, Served, render
from model_service import package
from model_service.estimators import ESTIMATORS
from model_service.recipes import RECIPES


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.duration > 60:
        raise SystemExit("keep load runs bounded: --duration <= 60")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    connections = [int(c) for c in args.conc.split(",")]
    scratch = venvs.BENCH_ROOT / "runs" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    scratch.mkdir(parents=True)
    if args.peers:
        for name in venvs.REQUIREMENTS:
            venvs.ensure(name)

    sections = []
    with ExitStack() as stack:
        models = tempfile.mkdtemp(prefix="models-", dir=scratch)
        stack.callback(shutil.rmtree, models, True)
        for label, model_dir in _packages(args, Path(models)):
            print(f"bench: {label} ({model_dir})", flush=True)
            report = _bench_model(args, label, model_dir, connections, scratch)
            sections.append(render(report))
            print(sections[-1], flush=True)
    document = _header(argv) + "\n".join(sections)
    if args.out:
        args.out.write_text(document)
        print(f"bench: wrote {args.out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="iris", choices=sorted(RECIPES), help="bundled data set")
    parser.add_argument(
        "--estimator",
        default="linear",
        help=f"comma list of {', '.join(ESTIMATORS)}: one table each (default linear)",
    )
    parser.add_argument(
        "--model-dir", type=Path, help="a model package to serve instead of training one"
    )
    parser.add_argument("--peers", action="store_true", help="also the raw floor, MLflow, MLServer")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="VAR=VALUE[,VAR=VALUE]",
        help="also this service with these MODEL_SERVICE_* variables (e.g. MODEL_SERVICE_BATCHING=off)",
    )
    parser.add_argument("--conc", default="1,16,64", help="concurrencies (default 1,16,64)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (<= 60)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server")
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--batch-n", type=int, default=10, help="timed large requests")
    parser.add_argument("--out", type=Path, help="write the Markdown here too")
    return parser


def _packages(args: argparse.Namespace, scratch: Path) -> list[tuple[str, Path]]:
    if args.model_dir is not None:
        return [(package.read_card(args.model_dir).name, args.model_dir)]
    from model_service.train import build  # training code only when the bench trains

    found = []
    for estimator in args.estimator.split(","):
        if estimator not in ESTIMATORS:
            raise SystemExit(f"unknown estimator {estimator!r}: {', '.join(ESTIMATORS)}")
        out = scratch / f"{args.model}-{estimator}"
        build(args.model, out, estimator=estimator, fresh_python=False)
        found.append((estimator, out))
    return found


def _bench_model(
    args: argparse.Namespace, label: str, model_dir: Path, connections: list[int], scratch: Path
) -> Report:
    loaded = package.load(model_dir)
    card = loaded.card
    report = Report(card.name, label)
    one = np.array([card.example_row()], dtype=np.float64)
    low = np.array([f.min for f in card.features])
    high = np.array([f.max for f in card.features])
    many = np.round(
        np.random.default_rng(0).uniform(low, high, size=(args.batch_rows, len(low))), 3
    )
    chosen = [targets.ours(model_dir, card.name)]
    for variant in args.also:
        chosen.append(
            dataclasses.replace(chosen[0], name=f"this service ({variant})", env=_with_env(variant))
        )
    if args.peers:
        if not card.is_classifier or not card.is_numeric:
            report.failures.append("peers run for classifiers of numbers only (predict_proba)")
        else:
            artefacts = scratch / f"{card.name}-{label}"
            joblib_path = venvs.save_joblib(loaded.estimator, artefacts / "model.joblib")
            names = card.feature_names
            chosen.append(targets.raw(joblib_path))
            chosen.append(
                targets.mlflow(
                    venvs.mlflow_model(joblib_path, names, one[0].tolist(), artefacts / "mlflow"),
                    names,
                )
            )
            chosen.append(
                targets.mlserver(
                    venvs.mlserver_repository(joblib_path, card.name, artefacts / "mlserver"),
                    card.name,
                )
            )
    for target in chosen:
        try:
            _bench_target(args, target, one, many, connections, scratch, report)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            report.failures.append(f"{target.name}: {exc}")
            print(f"bench: {target.name} failed: {exc}", flush=True)
    return report


def _with_env(variant: str) -> Callable[[list[int]], dict[str, str]]:
    """The environment of a variant of this service: `VAR=VALUE,VAR=VALUE`."""
    env = dict(pair.split("=", 1) for pair in variant.split(","))
    return lambda ports: {"PYTHONPATH": str(targets.ROOT), **env}


def _bench_target(
    args: argparse.Namespace,
    target: targets.Target,
    one: np.ndarray,
    many: np.ndarray,
    connections: list[int],
    scratch: Path,
    report: Report,
) -> None:
    ports = _free_ports(target.ports)
    base = f"http://127.0.0.1:{ports[0]}"
    log = scratch / f"{target.name.replace(' ', '_').replace('/', '_')}-{ports[0]}.log"
    print(f"bench: starting {target.name}: {shlex.join(target.command(ports))}", flush=True)
    process = load.start(target.command(ports), target.env(ports), log)
    try:
        ready = load.wait_ready(base + target.ready_path, process)
        rss_ready = load.rss_mb(process.pid)
        for request in (*target.single, *target.batch):
            status, body = load.post(base + request.path, request.encode(one), request.content_type)
            if status != 200:
                raise RuntimeError(f"{request.label} {request.path}: HTTP {status}: {body[:300]!r}")
        first = target.single[0]
        if args.warmup:
            load.run_wrk(
                base + first.path, first.encode(one), first.content_type, 16, args.warmup, scratch
            )
        for request in target.single:
            for c in connections:
                result = load.run_wrk(
                    base + request.path,
                    request.encode(one),
                    request.content_type,
                    c,
                    args.duration,
                    scratch,
                )
                report.runs.append(Run(target.name, request.label, c, result))
                print(
                    f"  {request.label:8} C={c:<3} {result.rps:8.0f} req/s  p50 {result.p50_ms:.2f}"
                    f"  p99 {result.p99_ms:.2f}  max {result.max_ms:.1f} ms  errors "
                    f"{result.errors + result.non2xx}",
                    flush=True,
                )
        if args.batch_n:
            for request in target.batch:
                timed = load.time_batch(
                    base + request.path,
                    request.encode(many),
                    request.content_type,
                    len(many),
                    args.batch_n,
                )
                report.batches.append(Batch(target.name, request.label, timed))
                print(f"  {len(many)} rows {request.label}: {timed.median_ms:.1f} ms", flush=True)
        report.served.append(
            Served(
                target.name,
                target.how,
                target.version,
                ready,
                rss_ready,
                load.rss_mb(process.pid),
            )
        )
    finally:
        load.stop(process)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _header(argv: list[str] | None) -> str:
    """The machine and the command, so the figures can be read and redone."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = ((wrk.stdout or wrk.stderr).splitlines() or ["wrk"])[0].split(" Copyright")[0]
    load1, load5, _ = os.getloadavg()
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB, Linux "
        f"{platform.release()}, Python {platform.python_version()}, "
        f"{wrk_version}. "
        f"Load average when the run ended: {load1:.1f} (1 min), {load5:.1f} (5 min).\n\n"
        f"Command: `{command}`\n\n"
    )


if __name__ == "__main__":
    sys.exit(main())
