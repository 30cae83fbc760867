"""The worker heuristic: processes only where the work repays forking them."""

from __future__ import annotations

import os

import pytest

from optim import engine


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)


def test_small_lps_stay_in_this_process(two_cores: None) -> None:
    site_year = 8_760 * 8
    assert engine.choose_workers([site_year]) == 1
    assert engine.choose_workers([site_year] * 5) == 1


def test_large_lps_use_every_core_but_no_more_than_tasks(two_cores: None) -> None:
    assert engine.choose_workers([engine.PARALLEL_SIZE] * 35) == 2
    assert engine.choose_workers([3 * engine.PARALLEL_SIZE]) == 1


def test_mips_by_site_use_every_core_and_a_request_wins(two_cores: None) -> None:
    assert engine.choose_workers([100] * 5, mip=True) == 2
    assert engine.choose_workers([10**9] * 5, requested=1) == 1
    assert engine.choose_workers([100] * 5, requested=4) == 4
    assert engine.choose_workers([100] * 3, requested=8) == 3


def test_the_choice_is_in_the_summary() -> None:
    from pathlib import Path

    result = engine.solve(Path(__file__).parent / "fixtures" / "blocks_vs_hourly" /
                          "scenario.toml")
    assert result.summary["resolve_workers"] == 1
