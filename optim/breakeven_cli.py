"""`optim breakeven`: the values of one parameter at which the plan changes (docs/breakeven.md).

A thin typer command: it checks the request (`optim.breakeven.load_request`) and the
output folder before anything runs, runs the search, and prints one row per threshold:
the two values solved on either side of it, both NPVs and what changes. Register it with
`app.command()(breakeven)`.

Errors are reported as every command does (`cli._fail`: `error (exit N): ...`, then the
log): bad input or a refused folder exit 2 with nothing written; Ctrl-C stops the running
cases and keeps the finished ones (a re-run resumes). Some case failed: exit 6, as a sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from optim import breakeven as be
from optim.headroom_cli import cli_module


def _value(v: float) -> str:
    return f"{v:.6g}"


def _thresholds(outcome: be.Outcome) -> pd.DataFrame:
    """The thresholds as the terminal shows them."""
    t = outcome.thresholds
    return pd.DataFrame({"below": t["value_below"].map(_value),
                         "above": t["value_above"].map(_value),
                         "NPV below (USD)": t["npv_below_usd"],
                         "NPV above (USD)": t["npv_above_usd"], "what changes": t["changes"]})


def _report(outcome: be.Outcome) -> int:
    """Print the outcome; return the exit code (6 when some case failed)."""
    cli = cli_module()
    r = outcome.request
    span = f"[{_value(r.low)}, {_value(r.high)}]"
    cli.out_console.print(
        f"{r.param} in {span}: {len(outcome.points)} values solved ({outcome.resumed} "
        f"resumed, {outcome.solved} new, {outcome.rounds} rounds), tolerance {_value(r.tol)}",
        markup=False, highlight=False, soft_wrap=True)
    if len(outcome.thresholds):
        caption = (f"Each row: the two values solved on either side of a change, never "
                   f"extrapolated. Limit of the method: {be.HIDDEN_CHANGES}.")
        cli.out_console.print(cli._table(f"Thresholds of {r.param}", _thresholds(outcome),
                                         {"NPV below (USD)", "NPV above (USD)"},
                                         caption=caption))
        if outcome.max_mip_gap > 0:
            cli.err_console.print(cli._text(
                f"warning: the solves stopped within a MIP gap of up to "
                f"{outcome.max_mip_gap:.3%} of the best plan: a change between plans whose "
                f"NPVs differ by less may be the solver's pick between near-equal plans, not "
                f"a break-even (--mip-gap 0 for exact thresholds)", "yellow"), soft_wrap=True)
        for note in outcome.thresholds.loc[outcome.thresholds["note"] != ""].itertuples():
            cli.err_console.print(cli._text(f"warning: {_value(note.value_below)} .. "
                                            f"{_value(note.value_above)}: {note.note}",
                                            "yellow"), soft_wrap=True)
    elif outcome.compared >= 2:
        cli.out_console.print(
            f"the plan is the same at every value solved in {span} ({outcome.compared} "
            f"solves): no threshold found ({be.HIDDEN_CHANGES})",
            markup=False, highlight=False, soft_wrap=True)
    else:
        cli.out_console.print(f"too few values solved to compare ({outcome.compared}): no "
                              f"threshold found", markup=False, highlight=False, soft_wrap=True)
    if outcome.budget_hit:
        cli.err_console.print(cli._text(
            f"warning: stopped at --max-solves {r.max_solves}; a re-run with the same "
            f"folder resumes and narrows further", "yellow"), soft_wrap=True)
    for p in outcome.failed:
        cli.err_console.print(cli._text(f"{r.param} = {_value(p.value)} ({p.case_id}): "
                                        f"{p.status}: {p.error}", "red"), soft_wrap=True)
    cli.out_console.print(f"results: {outcome.folder}", markup=False, highlight=False,
                          soft_wrap=True)
    return 6 if outcome.failed else 0


def breakeven(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.", dir_okay=False)],
    param: Annotated[str, typer.Option(
        "--param", help="The parameter varied: a sweep path, e.g. series.hashprice.scale or "
        "site.NAME.ai.lease_usd_per_kw_month.", show_default=False)],
    low: Annotated[float | None, typer.Option(
        help="Lowest value (default: 0.5 x the scenario's value; 0.5 for a .scale path).",
        show_default=False)] = None,
    high: Annotated[float | None, typer.Option(
        help="Highest value (default: 1.5 x the scenario's value; 1.5 for a .scale path).",
        show_default=False)] = None,
    tol: Annotated[float | None, typer.Option(
        help="Widest bracket reported as converged, in the parameter's units (default: 1 % "
        "of high - low; 1 for a whole-number field).", show_default=False)] = None,
    points: Annotated[int, typer.Option(help="Values of the first grid, low to high.")]
    = be.DEFAULT_POINTS,
    max_solves: Annotated[int, typer.Option(
        "--max-solves", help="New solves at most in this run (a re-run resumes).")]
    = be.DEFAULT_MAX_SOLVES,
    out: Annotated[Path | None, typer.Option(
        help="Folder of the cases and thresholds (default: breakevens/<scenario name>-"
        "<param>).", show_default=False)] = None,
    workers: Annotated[int | None, typer.Option(
        help="Parallel local case processes (default: CPU count).", show_default=False)]
    = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Run the cases on this Dask scheduler (tcp://host:port) instead.")] = None,
    timeout: Annotated[float, typer.Option(help="Wall-clock limit of one case, s.")]
    = be.DEFAULT_TIMEOUT_S,
    resolution: Annotated[str | None, typer.Option(
        help="Resolution of every solve: hourly or blocks:K (default: the scenario's).",
        show_default=False)] = None,
    mip_gap: Annotated[float | None, typer.Option(
        "--mip-gap", help="Relative MIP gap of every solve (default: the scenario's).",
        show_default=False)] = None,
    time_limit: Annotated[float | None, typer.Option(
        help="Solver time limit of every solve, s (default: the scenario's).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Solve every value anew (and write "
                                        "into a folder optim did not write).")] = False,
) -> None:
    """Find the values of one parameter at which the plan's decisions change.

    Solves a grid from --low to --high, then bisects every pair of neighbouring values whose
    plans differ until it is at most --tol wide; each threshold is shown with the values
    solved on either side, both NPVs and what changes (docs/breakeven.md). Writes
    breakeven.json, thresholds.parquet and cases.parquet (exit 6 if some case failed)."""
    from optim.log import RunLog

    cli = cli_module()
    log = RunLog("breakeven", scenario=scenario.resolve(), param=param, low=low, high=high,
                 tol=tol, points=points, out=out, workers=workers, scheduler=scheduler,
                 force=force)
    with log:
        try:
            request = be.load_request(scenario, param, low, high, tol, points, max_solves,
                                      timeout, resolution, mip_gap, time_limit)
            folder = out if out is not None else request.default_out()
            be.check_out(folder, force)
        except Exception as exc:  # noqa: BLE001
            raise cli._fail(exc, log) from None
        log.info(f"{request.param} in [{request.low:g}, {request.high:g}], tolerance "
                 f"{request.tol:g}, folder {folder.resolve()}")
        status = cli.err_console.status("starting")
        counts = {"done": 0}

        def on_round(number: int, values: int) -> None:
            log.info(f"round {number}: {values} values")
            status.update(f"round {number}: solving {values} values ({counts['done']} "
                          f"solved so far)")

        def on_case(row: dict) -> None:
            counts["done"] += 1
            log.info(f"case {row['case_id']}: {row['status']} in {row.get('wall_s', 0.0):.2f}"
                     f" s" + (f": {row['error']}" if row.get("error") else ""))

        try:
            with status:
                outcome = be.run_breakeven(request, folder, workers, scheduler, force,
                                           on_case, on_round)
        except KeyboardInterrupt as exc:
            raise cli._stopped(exc, f"the break-even search ({counts['done']} cases "
                               f"solved)", log, "finished cases are kept, a re-run resumes"
                               ) from None
        except Exception as exc:  # noqa: BLE001
            raise cli._fail(exc, log) from None
        log.info(f"outcome: {len(outcome.thresholds)} thresholds, {len(outcome.points)} "
                 f"values ({outcome.resumed} resumed), {len(outcome.failed)} failed")
        code = _report(outcome)
        log.finish(code, outcome.folder, append=True)
    if code:
        raise typer.Exit(code)
