"""Shared fixtures. Module-specific fixtures live in their test modules until they are shared."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
BENCH = REPO.parent / "shared" / "bench"


@pytest.fixture(scope="session")
def bench_dir() -> Path:
    """../shared/bench, or skip the test when it is absent."""
    if not BENCH.is_dir():
        pytest.skip("../shared/bench is not present")
    return BENCH
