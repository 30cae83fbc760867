"""`optim breakeven`: a hand-derived threshold is bracketed, bad input is refused, nothing
changing is said, a re-run resumes, a failing case is reported; the search itself on
made-up plans."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from optim import breakeven as be
from optim import sweep as sweeps
from optim.breakeven_cli import breakeven
from optim.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"
ASIC = FIXTURES / "asic_buy_now" / "scenario.toml"
AI = FIXTURES / "ai_bridge" / "scenario.toml"
SCALE = "series.hashprice.scale"

# asic_buy_now (tests/fixtures/build_fixtures.py): Jan-Mar 2027 (744, 672, 744 h), r = 0,
# price 40 $/MWh flat, hashprice 48 $/PH/day flat, up to 3 one-MW blocks at site a.
# S20 (20 J/TH, 1 MW = 50 PH/s) earns 48 * s * 50 / 24 = 100 s $/MWh at hashprice scale s;
# a block costs 50,000 TH * 10 $/TH = 500,000 $, a charge of 10,000 $/month over 50 months,
# from the purchase month; delivery takes 1 month. Bought in Jan it runs Feb + Mar
# (1,416 h): value (100 s - 40) * 1,416 - 3 * 10,000, positive iff
# s > s* = (40 + 30,000 / 1,416) / 100 = 0.611864... Bought in Feb it runs 744 h for 2
# charges: break-even s = (40 + 20,000 / 744) / 100 = 0.6688 > s*, and Jan beats Feb once
# (100 s - 40) * 672 > 10,000, s > 0.5488: so Feb never wins. B25 (80 s $/MWh, 24,000
# $/month) pays only above s = (40 + 72,000 / 1,416) / 80 = 1.1356, and S20 is better per
# MW anyway. Hence over [0.5, 1]: no purchase below s*, 3 S20 blocks in Jan above it.
HOURS_RUN = 672 + 744
S_STAR = (40 + 3 * 10_000 / HOURS_RUN) / 100


def block_npv_usd(s: float) -> float:
    return (100 * s - 40) * HOURS_RUN - 3 * 10_000


def app() -> typer.Typer:
    """A typer app with only `breakeven` (independent of optim.cli's registration)."""
    local = typer.Typer(add_completion=False)
    local.command()(breakeven)

    @local.callback()
    def _group() -> None:
        """Subcommands, as in `optim`."""

    return local


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app(), ["breakeven", *map(str, args)])
    return result.exit_code, " ".join(result.output.split())


def test_hand_derived_threshold_is_bracketed_and_a_rerun_resumes(tmp_path: Path) -> None:
    out = tmp_path / "be"
    code, text = invoke(ASIC, "--param", SCALE, "--low", "0.5", "--high", "1.0", "--points",
                        "3", "--tol", "0.02", "--workers", "2", "--out", out)
    assert code == 0, text
    report = json.loads((out / "breakeven.json").read_text())
    assert report["resumed"] == 0 and report["solved_now"] == report["values_solved"]
    (row,) = report["thresholds"]
    assert row["value_below"] < S_STAR < row["value_above"]
    assert row["value_above"] - row["value_below"] <= 0.02 and row["converged"]
    assert row["npv_below_usd"] == pytest.approx(0.0, abs=0.01)
    assert row["npv_above_usd"] == pytest.approx(3 * block_npv_usd(row["value_above"]),
                                                 rel=1e-6)
    assert row["changes"] == "a asic S20 2027-01: 0 -> 3"
    assert "Thresholds of series.hashprice.scale" in text and "a asic S20" in text
    thresholds = pd.read_parquet(out / "thresholds.parquet")
    assert thresholds[["value_below", "value_above"]].iloc[0].tolist() == \
        [row["value_below"], row["value_above"]]
    cases = pd.read_parquet(out / "cases.parquet")
    assert len(cases) == report["values_solved"] and (cases["status"] == "optimal").all()
    assert {row["value_below"], row["value_above"]} <= set(cases[SCALE])

    code, text = invoke(ASIC, "--param", SCALE, "--low", "0.5", "--high", "1.0", "--points",
                        "3", "--tol", "0.02", "--workers", "2", "--out", out)
    assert code == 0, text
    again = json.loads((out / "breakeven.json").read_text())
    assert again["solved_now"] == 0 and again["resumed"] == report["values_solved"]
    assert again["thresholds"] == report["thresholds"]
    assert f"{report['values_solved']} resumed, 0 new" in text


def test_no_change_in_the_range_exits_0_and_a_failing_case_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "be"
    code, text = invoke(ASIC, "--param", SCALE, "--low", "0.8", "--high", "1.0", "--points",
                        "3", "--workers", "2", "--out", out)
    assert code == 0, text
    assert "the plan is the same at every value solved in [0.8, 1] (3 solves): no threshold " \
           "found" in text
    assert pd.read_parquet(out / "thresholds.parquet").empty
    fail_at = 0.95  # a worker that raises for this value and solves every other one
    worker = ("import json, sys; from optim import sweep_worker; "
              "task = json.load(open(sys.argv[1])); "
              f"assert list(task['overrides'].values()) != [{fail_at}], 'injected failure'; "
              "sweep_worker.exit_fast(sweep_worker.main(sys.argv[1]))")
    monkeypatch.setattr(sweeps, "WORKER_COMMAND", ("-c", worker))
    code, text = invoke(ASIC, "--param", SCALE, "--low", "0.8", "--high", "1.0", "--points",
                        "5", "--workers", "2", "--out", out)
    assert code == 6, text
    assert f"{SCALE} = 0.95" in text and "error: AssertionError: injected failure" in text
    assert "(4 solves): no threshold found" in text and "3 resumed, 2 new" in text
    report = json.loads((out / "breakeven.json").read_text())
    assert [f["value"] for f in report["failed"]] == [fail_at]


@pytest.mark.parametrize(("args", "message"), [
    (("--param", "site.a.ai.lease_usd_per_kw_mont"),
     "unknown parameter 'site.a.ai.lease_usd_per_kw_mont'; did you mean "
     "'site.a.ai.lease_usd_per_kw_month'?"),
    (("--param", "site.a.ai.lease_usd_per_kw_month", "--low", "200", "--high", "200"),
     "--low (200) must be below --high (200)"),
    (("--param", "site.a.ai.lease_usd_per_kw_month", "--low", "250", "--high", "100"),
     "--low (250) must be below --high (100)"),
    (("--param", "site.a.ai.power_pass_through"),
     "site.a.ai.power_pass_through is not a numeric field (bool)"),
    (("--param", "series.prices.shift_usd_per_mwh"),
     "series.prices.shift_usd_per_mwh is 0: give the range with --low and --high"),
    (("--param", "site.a.ai.max_halls", "--low", "0.5", "--high", "2"),
     "site.a.ai.max_halls is a whole number"),
    (("--param", "site.a.ai.pue", "--low", "0.5", "--high", "2"),
     "at --low 0.5: site[0] (a).ai.pue"),
    (("--param", "site.a.ai.lease_usd_per_kw_month", "--tol", "0"), "--tol must be above 0"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, args: tuple[str, ...],
                                              message: str) -> None:
    code, text = invoke(AI, *args, "--out", tmp_path / "be")
    assert code == 2, text
    assert message in text
    assert not (tmp_path / "be").exists()


def test_a_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "be").mkdir()
    (tmp_path / "be" / "notes.txt").write_text("mine")
    code, text = invoke(AI, "--param", "site.a.ai.lease_usd_per_kw_month", "--out",
                        tmp_path / "be")
    assert code == 2 and "was not written by optim" in text
    assert [p.name for p in (tmp_path / "be").iterdir()] == ["notes.txt"]


def test_defaults_half_and_one_and_a_half_times_the_current_value() -> None:
    lease = be.load_request(AI, "site.a.ai.lease_usd_per_kw_month")
    assert (lease.low, lease.high, lease.current) == (100.0, 300.0, 200.0)
    assert lease.tol == pytest.approx(2.0) and not lease.integer
    assert lease.default_out() == Path("breakevens/ai_bridge-site.a.ai.lease_usd_per_kw_month")
    scale = be.load_request(AI, SCALE)
    assert (scale.low, scale.high) == (0.5, 1.5)
    halls = be.load_request(AI, "site.a.ai.max_halls")
    assert (halls.low, halls.high, halls.tol, halls.integer) == (1.0, 3.0, 1.0, True)
    with pytest.raises(InputError, match="not set in the scenario"):
        be.load_request(AI, "futures.risk_weight")


# ------------------------------------------------------------------ the search, made up


def plan(**quantities: float) -> pd.Series:
    """A plan of site a: kind -> quantity, all in 2027-01."""
    inv = pd.DataFrame({"site": "a", "month": "2027-01", "kind": list(quantities),
                        "name": list(quantities), "quantity": list(quantities.values())},
                       columns=["site", "month", "kind", "name", "quantity"])
    return be.plan_of(inv.astype({"quantity": float}))


def fake_runner(plan_at, fails: frozenset[float] = frozenset()):  # noqa: ANN001, ANN201
    """A `run` that solves nothing: each value's plan is `plan_at(value)`; it records the
    batches it was given."""
    batches: list[list[float]] = []

    def run(values: list[float]) -> list[be.Point]:
        batches.append(list(values))
        return [be.Point(v, f"c{v}", "timeout" if v in fails else "optimal",
                         npv_usd=100 * v, plan=None if v in fails else plan_at(v))
                for v in values]

    return run, batches


@pytest.fixture(scope="module")
def request_unit() -> be.Request:
    """A request over [0, 1] with tolerance 0.01 (its scenario is never solved here)."""
    return be.load_request(ASIC, SCALE, 0.0, 1.0, 0.01, points=5, max_solves=60)


def steps(v: float) -> pd.Series:
    return plan() if v < 0.33 else plan(asic=1.0) if v < 0.71 else plan(asic=2.0, ai_hall=1)


def test_search_brackets_every_change_within_the_tolerance(request_unit: be.Request) -> None:
    run, batches = fake_runner(steps)
    found = be.search(request_unit, run, slots=4)
    bounds = [(b.below.value, b.above.value) for b in be.brackets(found.points)]
    assert len(bounds) == 2
    for (lo, hi), true in zip(bounds, (0.33, 0.71), strict=True):
        assert lo < true <= hi and hi - lo <= 0.01
    assert batches[0] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(len(b) == 4 for b in batches[1:])  # 2 open brackets x 2 values, 4 slots
    assert found.solved == sum(map(len, batches)) and not found.budget_hit
    frame = be.thresholds_frame(request_unit, be.brackets(found.points))
    assert frame["changes"].tolist() == ["a asic 2027-01: 0 -> 1",
                                         "a ai_hall 2027-01: 0 -> 1\na asic 2027-01: 1 -> 2"]
    assert frame["converged"].all() and (frame["note"] == "").all()


def test_search_resumes_from_known_points(request_unit: be.Request) -> None:
    run, _ = fake_runner(steps)
    first = be.search(request_unit, run, slots=2)
    again, batches = fake_runner(steps)
    second = be.search(request_unit, again, slots=3, known=first.points)
    assert batches == [] and second.solved == 0
    assert [p.value for p in second.points] == [p.value for p in first.points]


def test_a_change_that_reverts_between_grid_values_is_not_seen(
        request_unit: be.Request) -> None:
    """The documented limit: plan B only in (0.3, 0.45) lies between grid values 0.25 and
    0.5, which both show plan A."""
    run, _ = fake_runner(lambda v: plan(asic=1.0) if 0.3 < v < 0.45 else plan())
    found = be.search(request_unit, run, slots=2)
    assert be.brackets(found.points) == [] and found.solved == 5


def test_a_failed_value_stops_its_bracket_and_the_budget_stops_the_search(
        request_unit: be.Request) -> None:
    run, _ = fake_runner(steps, fails=frozenset({0.5}))
    found = be.search(request_unit, run, slots=1)
    wide = [b for b in be.brackets(found.points) if b.failed]
    assert [(b.below.value, b.above.value) for b in wide] == [(0.25, 0.75)]
    assert "the solve at 0.5 (timeout) failed" in be.thresholds_frame(
        request_unit, wide)["note"].iloc[0]
    run, _ = fake_runner(steps)
    capped = be.search(replace(request_unit, max_solves=7), run, slots=4)
    assert capped.budget_hit and capped.solved == 7


def test_integer_parameters_stop_at_neighbouring_whole_numbers(
        request_unit: be.Request) -> None:
    whole = replace(request_unit, low=0.0, high=40.0, tol=1.0, integer=True)
    run, _ = fake_runner(lambda v: plan() if v < 13 else plan(ai_hall=1.0))
    (bracket,) = be.brackets(be.search(whole, run, slots=2).points)
    assert (bracket.below.value, bracket.above.value) == (12.0, 13.0)
    assert be.grid(0, 3, 5, integer=True) == [0.0, 1.0, 2.0, 3.0]
    assert be.interior(2.0, 4.0, 3, integer=True) == [3.0]


def test_infeasible_is_an_outcome_and_its_change_is_named(request_unit: be.Request) -> None:
    below = be.Point(0.2, "x", "optimal", npv_usd=1.0, plan=plan(asic=1.0))
    above = be.Point(0.3, "y", "infeasible")
    assert [(b.below, b.above) for b in be.brackets([above, below])] == [(below, above)]
    assert be.plan_changes(below, above) == ["a plan of 1 decision -> no feasible plan"]
