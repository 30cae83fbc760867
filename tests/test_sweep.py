"""`optim sweep`: failures become rows, finished cases are resumed, Dask gives the same table."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sweep_faulty_worker as faulty_worker
from typer.testing import CliRunner

from optim import cli
from optim import sweep as sweeps
from optim.errors import InputError
from optim.sweep import load_sweep, run_sweep

BASE = Path(__file__).parent / "fixtures" / "asic_buy_now" / "scenario.toml"
SWEEP = f"""
[sweep]
name = "t"
base = "{BASE}"
timeout_s = {{timeout}}

[[axis]]
path = "series.hashprice.scale"
values = [0.9, 1.1]

[[axis]]
path = "scenario.discount_rate"
start = 0.0
stop = 0.1
step = 0.1
{{cases}}
"""
FAULTS = """
[[case]]
name = "boom"
"series.prices.shift_usd_per_mwh" = 1.0

[[case]]
name = "stuck"
"series.prices.shift_usd_per_mwh" = 2.0

[[case]]
name = "dead"
"series.prices.shift_usd_per_mwh" = 3.0
"""
COMPARED = ["case_id", "case", "status", "npv_usd", "mining_usd", "capital_charges_usd"]


def write_sweep(folder: Path, cases: str = "", timeout: float = 120) -> Path:
    path = folder / "sweep.toml"
    path.write_text(SWEEP.format(timeout=timeout, cases=cases))
    return path


def test_failing_hanging_and_killed_cases_become_rows(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The cases boom, stuck and dead raise, hang and die in the tests' own worker
    (sweep_faulty_worker.py, which runs the real worker for every other case)."""
    assert set(faulty_worker.FAULTS) == {"boom", "stuck", "dead"}
    monkeypatch.setattr(sweeps, "WORKER_COMMAND", (str(Path(faulty_worker.__file__)),))
    path = write_sweep(tmp_path, FAULTS, timeout=20)
    result = CliRunner().invoke(cli.app, ["sweep", str(path), "--out", str(tmp_path / "sw"),
                                          "--workers", "2"])
    assert result.exit_code == 6, result.output
    summary = pd.read_parquet(tmp_path / "sw" / "t" / "summary.parquet")
    status = dict(zip(summary["case"], summary["status"], strict=True))
    assert status["boom"] == "error" and status["stuck"] == "timeout"
    assert status["dead"] == "crashed"
    assert "injected failure" in summary.set_index("case").at["boom", "error"]
    solved = summary[~summary["case"].isin(["boom", "stuck", "dead"])]
    assert len(solved) == 4 and (solved["status"] == "optimal").all()
    assert solved["npv_usd"].notna().all()
    assert "NPV range per axis" in result.output
    log = (tmp_path / "sw" / "t" / "optim.log").read_text()
    for case, status in (("boom", "error"), ("stuck", "timeout"), ("dead", "crashed")):
        assert re.search(rf"case '{case}' \(\w+\): {status} in [\d.]+ s: ", log), case
    assert "RuntimeError: injected failure in case 'boom'" in log
    assert "4 solved (0 resumed), 3 failed" in log and "exit code 6" in log
    case_logs = [p / "optim.log" for p in (tmp_path / "sw" / "t" / "cases").iterdir()]
    assert len(case_logs) == 4 and all("exit code 0" in p.read_text() for p in case_logs)


def test_rerun_solves_exactly_the_missing_and_broken_cases(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    first = run_sweep(sweep, tmp_path / "sw", workers=2)
    assert first.failed == 0 and first.skipped == 0
    cases = tmp_path / "sw" / "t" / "cases"
    ids = sorted(p.name for p in cases.iterdir())
    shutil.rmtree(cases / ids[0])
    monthly = cases / ids[1] / "monthly.parquet"
    monthly.write_bytes(monthly.read_bytes()[:100])
    ran: list[str] = []
    second = run_sweep(sweep, tmp_path / "sw", workers=2,
                       on_case=lambda r: ran.append(r["case_id"]))
    assert sorted(ran) == sorted(ids[:2])
    assert second.skipped == 2 and second.failed == 0
    pd.testing.assert_frame_equal(first.summary[COMPARED], second.summary[COMPARED])
    assert run_sweep(sweep, tmp_path / "sw", workers=2).skipped == 4


def test_dask_cluster_gives_the_same_summary(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    sweep = load_sweep(write_sweep(tmp_path))
    local = run_sweep(sweep, tmp_path / "local", workers=2).summary
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = run_sweep(sweep, tmp_path / "dask", scheduler=cluster.scheduler_address).summary
    pd.testing.assert_frame_equal(local[COMPARED], remote[COMPARED])


def test_bad_paths_and_bad_values_are_found_before_any_solve(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, '\n[[case]]\n"site.a.max_new_asic_mv" = 3.0\n')
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert "did you mean 'site.a.max_new_asic_mw'?" in info.value.message
    path = write_sweep(tmp_path, '\n[[case]]\nname = "neg"\n"scenario.discount_rate" = -1.0\n')
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert "case 'neg'" in info.value.message and "discount_rate" in info.value.message
    result = CliRunner().invoke(cli.app, ["sweep", str(path), "--out", str(tmp_path / "sw")])
    assert result.exit_code == 2
    assert not (tmp_path / "sw").exists()


def test_a_case_may_set_a_list(tmp_path: Path) -> None:
    """`scenario.capex_budget_usd` is a list: a case may give one ([] lifts the budget);
    a list where a number belongs is bad input, named."""
    cases = ('\n[[case]]\nname = "tight"\n"scenario.capex_budget_usd" = [0.0]\n'
             '\n[[case]]\nname = "free"\n"scenario.capex_budget_usd" = []\n')
    spec = load_sweep(write_sweep(tmp_path, cases))
    named = {c.name: c.overrides for c in spec.cases}
    assert named["tight"] == {"scenario.capex_budget_usd": [0.0]}
    assert named["free"] == {"scenario.capex_budget_usd": []}
    path = write_sweep(tmp_path, '\n[[case]]\nname = "bad"\n"scenario.discount_rate" = [0.1]\n')
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert "case 'bad'" in info.value.message and "discount_rate" in info.value.message
