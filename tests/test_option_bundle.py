"""The architecture's promises: a test-only option plugs in through the registry alone,
and the core's futures axis gives a deterministic run's answer for identical futures.

Scenario (tests/helpers.py): one site, January 2027 (744 h), price 30 $/MWh flat, firm
import 10 MW, infrastructure 10 MW, 10 MW of S21 at 20 J/TH and hashprice 48:
mining earns 48 * 1000 / 20 / 24 = 100 $/MWh, a margin of 70 $/MWh.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import SITE, write_case
from pydantic import BaseModel, ConfigDict, Field

import optim.models
from optim import report
from optim.checks import DRAW, SiteContext
from optim.core import Core
from optim.engine import build_model, solve
from optim.option import Option, SpecContext
from optim.problem import build_problem
from optim.scenario import Site, load_scenario
from optim.series import read_series
from optim.solver import solve_model

HOURS = 744
MINING_MARGIN = 100.0 - 30.0


class ProbeTable(BaseModel):
    """`probe = { mw = 5, rate_usd_per_mwh = 120 }`: a flexible load paying per MWh."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mw: float = Field(ge=0)
    rate_usd_per_mwh: float


def _site_spec(ctx: SpecContext, site: Site) -> ProbeTable | None:
    return site.probe


def _build(core: Core) -> None:
    b = core.block("probe")
    for s, site in enumerate(core.problem.sites):
        spec: ProbeTable | None = site.spec("probe")
        if spec is None:
            continue
        st = site.steps
        draw = core.var(b, f"probe_{s}", list(range(st.n)), 0.0, spec.mw)
        core.draw(s, "probe_mw", draw)
        core.add_cash("probe_usd", s, st.month, spec.rate_usd_per_mwh * st.weight_h, draw)


class ProbeCheck:
    """The probe's independent check: its cap and its revenue, from the raw scenario."""

    NAME = "probe"
    FLOWS = {"probe_mw": DRAW}
    LINES = {"probe_usd": 50}

    @staticmethod
    def check_site(ctx: SiteContext) -> None:
        spec = ctx.site.probe
        probe = ctx.flow("probe_mw")
        cap = 0.0 if spec is None else spec.mw
        ctx.hourly("probe_cap", probe - cap, cap)
        if spec is not None:
            ctx.cash("probe_usd", ctx.time.by_month(spec.rate_usd_per_mwh * probe))


PROBE = Option(name="probe", build=_build, check=ProbeCheck,
               site_fields={"probe": (ProbeTable | None, None)}, site_spec=_site_spec,
               lines={"probe_usd": ("Probe revenue", 4.5)}, flows={"probe_mw": "probe"})


@pytest.fixture
def with_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optim.models, "OPTIONS", (*optim.models.OPTIONS, PROBE))


def test_a_test_only_option_is_validated_built_solved_verified_written_reported(
        tmp_path: Path, with_probe: None) -> None:
    """The probe pays 120 $/MWh against the 30 $/MWh import: a margin of 90 beats mining's
    70, so it takes its 5 MW of the 10 MW import and mining keeps 5 MW:
    NPV = 744 * (5 * 90 + 5 * 70) = 595,200 (mining alone: 744 * 10 * 70 = 520,800)."""
    path = write_case(tmp_path, SITE + "probe = { mw = 5.0, rate_usd_per_mwh = 120.0 }\n")
    result = solve(path)
    assert result.npv_usd == pytest.approx(HOURS * (5 * 90.0 + 5 * MINING_MARGIN))
    assert result.summary["verified"] is True
    assert result.summary["npv_lines_usd"]["probe_usd"] == pytest.approx(HOURS * 5 * 120.0)
    out = result.write(tmp_path / "out")
    monthly = pd.read_parquet(out / "monthly.parquet")
    assert monthly.loc[0, "probe_mw"] == pytest.approx(5.0)
    assert monthly.loc[0, "probe_usd"] == pytest.approx(HOURS * 5 * 120.0)
    lines = report.npv_lines(result).set_index("line")["npv_usd"]
    assert lines["Probe revenue"] == pytest.approx(HOURS * 5 * 120.0)


def test_a_test_only_option_is_validated(tmp_path: Path, with_probe: None) -> None:
    from optim.errors import InputError

    path = write_case(tmp_path, SITE + "probe = { mw = -1.0, rate_usd_per_mwh = 120.0 }\n")
    with pytest.raises(InputError, match=r"site\[0\] \(alpha\)\.probe\.mw"):
        load_scenario(path)


def test_the_checker_of_a_test_only_option_catches_its_violations(
        tmp_path: Path, with_probe: None) -> None:
    """A plan drawing more than the probe's cap fails its own check."""
    from optim.verify import verify

    path = write_case(tmp_path, SITE + "probe = { mw = 5.0, rate_usd_per_mwh = 120.0 }\n")
    result = solve(path)
    scenario = load_scenario(path)
    dispatch = {s: dict(f) for s, f in result.dispatch.items()}
    dispatch["alpha"]["probe_mw"] = dispatch["alpha"]["probe_mw"] + 1.0
    dispatch["alpha"]["import_mw"] = dispatch["alpha"]["import_mw"] + 1.0
    check = verify(scenario, read_series(scenario), result.investments, dispatch,
                   result.npv_usd)
    assert not check.verified
    assert check.max_violation.constraint == "probe_cap"  # 1 MW over a 5 MW cap ranks first
    assert check.max_violation.amount == pytest.approx(1.0)


@pytest.mark.parametrize("commit_months", [0, 2])
def test_two_identical_futures_give_the_deterministic_npv(tmp_path: Path,
                                                          commit_months: int) -> None:
    """Two futures with the same series, each with probability 1/2, have the same optimum
    as one: the expected NPV is the deterministic NPV, whether no decision is shared
    (commit 0) or all of them are (commit 2 = the horizon). A block of S21 costs 500,000 $
    over 36 months (13,889 $/month) and earns 70 * 672..744 per month: buying pays."""
    path = write_case(tmp_path, SITE.replace("mining_infra_mw = 10.0", "mining_infra_mw = 20.0")
                      .replace("firm_import_mw = 10.0", "firm_import_mw = 20.0")
                      + "max_new_asic_mw = 5.0\n", months=2)
    scenario = load_scenario(path)
    series = read_series(scenario)
    one = build_problem(scenario, series)
    deterministic = build_model(one)
    first = solve_model(deterministic.m, 0.0, None, {}, deterministic.objective_unit_usd)
    futures = tuple(build_problem(scenario, series, future=name, probability=0.5)
                    for name in ("low", "high"))
    two = build_model(futures, commit_months=commit_months)
    second = solve_model(two.m, 0.0, None, {}, two.objective_unit_usd)
    assert first.objective_usd == pytest.approx(solve(path).npv_usd)
    assert second.objective_usd == pytest.approx(first.objective_usd, rel=1e-9)
    shared = [inv for inv in two.investments if inv.keys[0].future == ""]
    assert bool(shared) == (commit_months > 0)
    if commit_months:
        assert len({id(two.vars[c]) for inv in shared for c in inv.col}) == \
            len(shared[0].col)  # one column per shared decision, used by both futures
    blocks = np.array([two.values()[inv.col].sum() for inv in two.investments])
    assert blocks.sum() == pytest.approx(2 * 5.0)  # every future buys the 5 blocks
