"""The pure parts of scripts/soak.py: the mix, what counts as expected,
percentiles, the memory of a process tree read from a /proc-like
directory, and the flatness verdict."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "soak.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


soak = _load()


def test_the_schedule_keeps_the_mix_and_is_the_same_each_run() -> None:
    kinds = soak.schedule(1000)
    assert len(kinds) == 1000
    assert Counter(k.name for k in kinds) == {"row": 700, "batch": 200, "bad": 100}
    assert kinds == soak.schedule(1000)
    assert [k.name for k in kinds[:50]] != ["row"] * 50  # shuffled, not in blocks


def test_a_short_schedule_is_cut_to_its_count() -> None:
    assert len(soak.schedule(7)) == 7


@pytest.mark.parametrize(
    ("name", "status", "ok"),
    [
        ("row", 200, True),
        ("row", 422, False),
        ("row", 500, False),
        ("row", 0, False),
        ("bad", 422, True),
        ("bad", 400, True),
        ("bad", 200, False),
        ("bad", 500, False),
        ("bad", 0, False),
    ],
)
def test_what_is_expected_of_each_kind(name: str, status: int, ok: bool) -> None:
    kind = next(k for k in soak.MIX if k.name == name)
    assert soak.expected(kind, status) is ok


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert soak.percentile(values, 50) == 50
    assert soak.percentile(values, 99) == 99
    assert soak.percentile(values, 100) == 100
    assert soak.percentile([3.0], 99) == 3.0
    assert math.isnan(soak.percentile([], 50))


def test_the_tally_separates_expected_4xx_from_unexpected_answers() -> None:
    row, bad = soak.MIX[0], soak.MIX[2]
    tally = soak.Tally()
    tally.add(row, 200, 0.01)
    tally.add(bad, 422, 0.02)
    tally.add(row, 502, 0.03)
    tally.add(row, 0, 30.0, "ReadTimeout")
    assert tally.answered == 3
    assert tally.unexpected == {("row", 502): 1, ("row", 0): 1}
    assert tally.latencies == [0.01, 0.02, 0.03]  # no answer, no latency
    lines = soak.report("model", 20, 180, tally, {"model": [100 * 1024, 120 * 1024, 121 * 1024]})
    text = "\n".join(lines)
    assert "expected 4xx (bad requests): 1" in text
    assert "unexpected: row 0: 1, row 502: 1" in text
    assert "start/middle/end: 100.0 / 120.0 / 121.0: flat" in text


def _process(proc: Path, pid: int, parent: int, rss_kb: int | None, name: str = "python") -> None:
    entry = proc / str(pid)
    entry.mkdir()
    (entry / "stat").write_text(f"{pid} ({name}) S {parent} {pid} {pid} 0 -1\n")
    rss = f"VmRSS:\t{rss_kb} kB\n" if rss_kb is not None else ""
    (entry / "status").write_text(f"Name:\t{name}\n{rss}Threads:\t1\n")


def test_a_process_trees_memory_is_summed_over_its_descendants(tmp_path: Path) -> None:
    _process(tmp_path, 100, 1, 50_000, "gunicorn: master")
    _process(tmp_path, 101, 100, 60_000, "gunicorn: worker) (x")  # a name with ") ("
    _process(tmp_path, 102, 100, 61_000)
    _process(tmp_path, 103, 102, 1_000)  # a grandchild
    _process(tmp_path, 104, 100, None)  # a zombie has no VmRSS
    _process(tmp_path, 200, 1, 999_000)  # not in the tree
    (tmp_path / "self").mkdir()  # not a process directory
    assert soak.tree_rss_kb(100, tmp_path) == 172_000
    assert soak.tree_rss_kb(102, tmp_path) == 62_000
    assert soak.tree_rss_kb(999, tmp_path) == 0


def test_this_process_has_memory() -> None:
    assert soak.tree_rss_kb(__import__("os").getpid()) > 1024


@pytest.mark.parametrize(
    ("samples_mb", "is_flat"),
    [
        ((100, 130, 135), True),  # warm-up in the first half is not a leak
        ((100, 130, 140), True),
        ((100, 130, 141), False),
        ((100, 130, 90), True),
    ],
)
def test_flat_means_at_most_ten_mb_over_the_second_half(
    samples_mb: tuple[int, int, int], is_flat: bool
) -> None:
    assert soak.flat([mb * 1024 for mb in samples_mb]) is is_flat
