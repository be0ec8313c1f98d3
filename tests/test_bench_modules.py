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
