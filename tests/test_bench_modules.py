"""The benchmarks are code too: each module imports (a renamed helper in bench.ingest once
broke bench.consumers unnoticed until it was run)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("module", sorted(path.stem for path in BENCH.glob("*.py")))
def test_each_benchmark_module_imports(module: str) -> None:
    importlib.import_module(f"bench.{module}")


def test_cpu_used_is_counted_process_by_process() -> None:
    """A PostgreSQL backend that exits during a scenario takes its CPU time out of a sum of
    live processes; the difference of two totals then went negative (``57 (0; -1)``)."""
    from bench.ingest import CpuSnapshot, CpuTimes

    before = CpuSnapshot({1: (2.0, 0.5, 0.0), 7: (0.0, 0.0, 3.0), 8: (0.0, 0.0, 1.0)})
    # Backend 8 has exited; backend 9 started during the scenario.
    after = CpuSnapshot({1: (2.5, 0.75, 0.0), 7: (0.0, 0.0, 3.25), 9: (0.0, 0.0, 0.5)})
    assert after - before == CpuTimes(server=0.5, store=0.25, postgres=0.75)
