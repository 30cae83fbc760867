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


def blocks_plan(name: str) -> engine.Run:
    """A fixture solved at blocks:12 up to its re-solve: its plan and its hourly problem."""
    from pathlib import Path

    from optim.tuning import Tuning

    path = Path(__file__).parent / "fixtures" / name / "scenario.toml"
    run = engine._read(path, None, "blocks:12", None, None, False, Tuning(resolve_workers=1))
    engine._prepare(run)
    engine._investment_solve(run, engine.Phases())
    return run


def test_sites_re_solved_during_the_mip_are_not_solved_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Speculation's sites (re-solved in its worker with a start's decisions) are taken
    by the re-solve where the plan's decisions are the same, and give the answer a re-solve
    of its own gives; a site whose decisions differ is solved again."""
    run = blocks_plan("two_sites_budget")
    hourly, plan = engine._hourly_problem(run), run.first
    options = run.tuning.resolve_options(run.options)
    alone, resolved = engine._solve_sites(hourly, plan.quantities, run.mip_gap, None, options,
                                          False, 1, "alone", flows=plan.dispatch)
    speculation = engine.Speculation(hourly, plan.quantities, plan.dispatch, run.mip_gap,
                                     options, False, "blocks")
    speculation.start()
    speculation.proc.join(timeout=60)
    ahead = speculation.stop()
    assert len(ahead) == len(hourly.sites) == 2
    solved_tasks: list = []
    real = engine._solve_site
    monkeypatch.setattr(engine, "_solve_site", lambda task: solved_tasks.append(task) or
                        real(task))
    [(taken, outcome)] = engine._solve_many(
        [engine.Batch(hourly, plan.quantities, plan.dispatch, "the plan")], run.mip_gap, None,
        options, False, 1, ahead=ahead)
    assert not solved_tasks and taken.ahead == 2
    assert outcome.objective_usd == resolved.objective_usd
    assert taken.lines == alone.lines
    changed = {key: value + (1.0 if key.site == hourly.sites[0].name else 0.0)
               for key, value in plan.quantities.items()}
    [(partly, _)] = engine._solve_many(
        [engine.Batch(hourly, changed, plan.dispatch, "changed")], run.mip_gap, None, options,
        False, 1, ahead=ahead)
    assert [t[0].sites[0].name for t in solved_tasks] == [hourly.sites[0].name]
    assert partly.ahead == 1


def test_a_speculation_changes_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """With speculation forced on small models (any re-solve worth two processes, and the
    MIP's end waiting for the worker), a blocks run takes both sites from it (the blocks:2
    start's decisions are the fixture's optimum) and gives the same NPVs as without."""
    from pathlib import Path

    from optim.tuning import Tuning

    path = Path(__file__).parent / "fixtures" / "two_sites_budget" / "scenario.toml"
    monkeypatch.setattr(engine, "PARALLEL_SIZE", 1)
    stop = engine.Speculation.stop
    monkeypatch.setattr(engine.Speculation, "stop",
                        lambda self: self.proc.join(timeout=60) or stop(self))
    on, off = (engine.solve(path, resolution="blocks:12", tuning=Tuning(speculate=s)).summary
               for s in (True, False))
    assert on["resolve_sites_ahead"] == 2 and off["resolve_sites_ahead"] == 0
    assert on["npv_usd"] == off["npv_usd"]
    assert on["npv_hourly_usd"] == off["npv_hourly_usd"]
    assert on["verified"] and off["verified"]


def test_a_stop_is_held_while_a_worker_is_forked_and_recorded() -> None:
    """A stop (here SIGTERM turned into an exception, as the CLI does) that arrives while a
    worker is forked and recorded is delivered once both are done, never between them; a
    Speculation stopped before it started has nothing to stop."""
    import os
    import signal

    class Stopped(Exception):
        pass

    def stop(_signum: int, _frame: object) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    recorded = []
    try:
        with pytest.raises(Stopped):
            with engine._stops_held():
                os.kill(os.getpid(), signal.SIGTERM)
                recorded.append("worker")
        assert recorded == ["worker"]
    finally:
        signal.signal(signal.SIGTERM, previous)
    run = blocks_plan("two_sites_budget")
    unstarted = engine.Speculation(engine._hourly_problem(run), run.first.quantities,
                                   run.first.dispatch, run.mip_gap, {}, False, "blocks")
    assert unstarted.stop() == {} and unstarted.proc.pid is None
