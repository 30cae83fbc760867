"""The `optim` command line: solve, validate, sample (and more). No arithmetic here."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from optim.log import RunLog

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Plan a power portfolio: self-mining, hosting, AI colocation, generation.")
out_console = Console()
err_console = Console(stderr=True)

ScenarioArg = Annotated[Path, typer.Argument(help="Scenario TOML file.", dir_okay=False)]


_debug = False


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", envvar="OPTIM_DEBUG",
        help="Show the full traceback of an error.")] = False) -> None:
    """Plan a power portfolio: self-mining, hosting, AI colocation, generation."""
    global _debug
    _debug = debug


def _fail(exc: Exception, log: RunLog | None = None) -> typer.Exit:
    """Report `exc` (one line; with --debug its traceback first), record it in the run's
    log, and return the Exit with its code (1 for an unexpected error)."""
    from optim.errors import OptimError

    expected = isinstance(exc, OptimError)
    code = exc.exit_code if expected else 1
    if _debug:
        err_console.print("".join(traceback.format_exception(exc)), highlight=False,
                          markup=False, soft_wrap=True, end="")
    hint = "" if expected or _debug else \
        " (a bug? run with --debug or OPTIM_DEBUG=1 for the traceback)"
    what = "" if expected else f"{type(exc).__name__}: "
    err_console.print(f"[bold red]error[/] (exit {code}): {escape(f'{what}{exc}{hint}')}",
                      highlight=False, markup=True, soft_wrap=True)
    if log is not None:
        log.error(exc, code, traceback=not expected or _debug)
        where = log.finish(code)
        err_console.print(f"log: {where}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


class _Phases:
    """Shows the phases of a run on stderr, each with its duration, and logs them."""

    def __init__(self, quiet: bool, log: RunLog | None = None) -> None:
        self.quiet = quiet
        self.log = log
        self.current: str | None = None
        self.t0 = time.perf_counter()
        self.status = None if quiet else err_console.status("starting")

    def __enter__(self) -> _Phases:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __call__(self, phase: str) -> None:
        self._close()
        self.current, self.t0 = phase, time.perf_counter()
        if self.status is not None:
            self.status.update(f"{phase} ...")

    def _close(self) -> None:
        if self.current is None:
            return
        seconds = time.perf_counter() - self.t0
        if self.log is not None:
            self.log.phase(self.current, seconds)
        if not self.quiet:
            err_console.print(f"  [green]✓[/] {self.current} {seconds:.2f} s", highlight=False)
        self.current = None

    def close(self) -> None:
        """End the current phase (recorded)."""
        self._close()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            self._close()
        elif self.current is not None and self.log is not None:
            self.log.info(f"phase {self.current}: stopped by {kind.__name__} after "
                          f"{time.perf_counter() - self.t0:.3f} s")
        if self.status is not None:
            self.status.__exit__(kind, *exc)


def _log_outcome(log: RunLog, s: dict) -> None:
    """The headline of a solved run, for its log."""
    hourly = "" if s.get("npv_hourly_usd") is None else \
        f", hourly re-solve {_money(s['npv_hourly_usd'])} USD"
    log.info(f"outcome: status {s['status']}, NPV {_money(s['npv_usd'])} USD "
             f"({s['resolution']}){hourly}, gap {s['mip_gap']}, bound "
             f"{_money(s['bound_usd'])} USD, solved by site {s.get('solved_by_site')}, "
             f"verified {s.get('verified', 'not checked')}")
    log.info(f"size: {s['variables']} variables ({s['integers']} integer), "
             f"{s['constraints']} constraints; total {s['total_s']} s")


def _money(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _table(title: str, frame, money: set[str] = frozenset()) -> Table:  # noqa: ANN001
    table = Table(title=title, title_justify="left")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(col, justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[_money(v) if c in money else (f"{v:,.2f}" if isinstance(v, float)
                                                     else str(v))
                        for c, v in zip(frame.columns, row, strict=True)])
    return table


def _show(result, out: Path) -> None:  # noqa: ANN001
    from optim import report

    s = result.summary
    head = Table.grid(padding=(0, 2))
    head.add_row("status", f"[bold]{s['status']}[/]")
    head.add_row("NPV (USD)", f"[bold]{_money(s['npv_usd'])}[/]  ({s['resolution']})")
    if s.get("npv_hourly_usd") is not None:
        head.add_row("NPV hourly re-solve (USD)",
                     f"{_money(s['npv_hourly_usd'])}  (difference "
                     f"{_money(s['npv_hourly_minus_blocks_usd'])})")
    gap = s["mip_gap"]
    head.add_row("MIP gap / bound (USD)",
                 f"{'-' if gap is None else f'{gap:.4%}'} / {_money(s['bound_usd'])}")
    if "verified" in s:
        head.add_row("independent check",
                     "passed" if s["verified"] else "[red]FAILED[/]")
    head.add_row("size", f"{s['variables']:,} variables ({s['integers']:,} integer), "
                         f"{s['constraints']:,} constraints")
    head.add_row("timings (s)", ", ".join(f"{k[:-2]} {s[k]}" for k in
                                          ("read_s", "build_s", "handoff_s", "solve_s",
                                           "resolve_s", "total_s")))
    out_console.print(head)
    out_console.print(_table("NPV lines (discounted USD)", report.npv_lines(result), {"npv_usd"}))
    out_console.print(_table("Average MW by use (start, middle, end of horizon)",
                             report.site_uses(result)))
    out_console.print(_table("Built per site", report.site_builds(result)))
    if len(result.investments):
        out_console.print(_table("Investments", result.investments, {"capex_usd"}))
    out_console.print(f"results: {out}")


@app.command()
def solve(
    scenario: ScenarioArg,
    out: Annotated[Path | None, typer.Option(help="Results folder [default: results/<name>].")]
    = None,
    resolution: Annotated[str | None, typer.Option(help="hourly or blocks:K.")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="Relative MIP gap.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Solver time limit, s.")] = None,
    hourly: Annotated[bool, typer.Option("--hourly", help="Also write hourly.parquet.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the results path.")]
    = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Re-check the plan "
                                         "independently (constraints and NPV).")] = True,
) -> None:
    """Solve a scenario and write its results folder (with its log, optim.log)."""
    from optim import load_scenario
    from optim import solve as run
    from optim.errors import InputError, VerificationError
    from optim.log import RunLog
    from optim.scenario import RESOLUTION_RE

    log = RunLog("solve", scenario=scenario.resolve(), out=out, resolution=resolution,
                 mip_gap=mip_gap, time_limit_s=time_limit, hourly=hourly, verify=verify)
    placed = False  # the log is already in the (written) results folder
    try:
        if resolution is not None and not RESOLUTION_RE.match(resolution):
            raise InputError(f"--resolution: must be 'hourly' or 'blocks:K', got {resolution!r}",
                             "command line")
        sc = load_scenario(scenario)
        target = out or Path("results") / sc.scenario.name
        log.info(f"results folder: {target.resolve()}")
        with _Phases(quiet, log) as phases:
            try:
                result = run(sc, resolution=resolution, mip_gap=mip_gap,
                             time_limit_s=time_limit, hourly=hourly, check=verify,
                             progress=phases)
            except VerificationError as exc:
                phases("write")
                log.error(exc, exc.exit_code, traceback=False)
                written = exc.result.write(target, extra_files=log.files())
                phases.close()
                log.finish(exc.exit_code, written)
                placed = True
                raise
            _log_outcome(log, result.summary)
            if result.status != "optimal":
                log.warning(f"stopped at the time limit; the plan is feasible but only within "
                            f"a gap of {result.summary['mip_gap']}")
            phases("write")
            written = result.write(target, extra_files=log.files())
        log.finish(0, written)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, None if placed else log) from None
    finally:
        log.close()
    if result.status != "optimal":
        err_console.print(f"[yellow]warning[/]: stopped at the time limit; the plan is feasible "
                          f"but only within a gap of {result.summary['mip_gap']}")
    if quiet:
        out_console.print(str(written / "summary.json"), highlight=False)
    else:
        _show(result, written)
    _leave()


@app.command()
def validate(scenario: ScenarioArg) -> None:
    """Read and check the scenario and its series, build the model, do not solve."""
    from optim.engine import build_model
    from optim.problem import build_problem
    from optim.scenario import load_scenario
    from optim.series import read_series
    from optim.solver import check_options
    from optim.tuning import Tuning

    try:
        sc = load_scenario(scenario)
        check_options(dict(sc.solver))
        core = build_model(build_problem(sc, read_series(sc),
                                         merge_hours=Tuning.from_env().merge_hours))
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from None
    out_console.print(f"{scenario}: valid ({len(sc.site)} sites, {sc.scenario.months} months, "
                      f"{len(core.vars):,} variables at {sc.scenario.resolution})")


@app.command()
def sample(
    raw: Annotated[Path | None, typer.Option(help="Raw data folder [default: ../shared/data/raw "
                                                  "or $OPTIM_RAW_DIR].")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder [default: "
                                                  "data/sample/generated].")] = None,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when the "
                                             "files are already there.")] = False,
    reserve_year: Annotated[int, typer.Option(
        "--reserve-year", help="ERCOT ancillary-service year replayed in reserve_prices.parquet:"
        " 2023 (scarcity regime) or 2024 (battery era); both are also written as "
        "reserve_prices_<year>.parquet.")] = 2023,
) -> None:
    """Build the sample portfolio's Parquet inputs from the public raw data."""
    from optim import sample as sample_data

    target = out or sample_data.default_out_dir()
    if if_missing and all((target / name).is_file() for name in sample_data.output_names()):
        out_console.print(f"sample data present in {target}", highlight=False)
        return
    try:
        written = sample_data.build_sample(raw or sample_data.default_raw_dir(), target,
                                           reserve_year=reserve_year)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from None
    for path in written:
        out_console.print(str(path), highlight=False)


@app.command()
def regress(
    folder: Annotated[Path, typer.Argument(help="Folder searched for fixture folders.")],
    update: Annotated[bool, typer.Option("--update", help="Rewrite expected NPV and decisions "
                                                          "of failing fixtures.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why the baseline changes (asked for if "
                                                    "missing with --update).")] = None,
) -> None:
    """Solve every fixture folder under FOLDER and compare with its expected.json."""
    from optim import regress as harness

    fixtures = harness.find_fixtures(folder)
    if not fixtures:
        err_console.print(f"error (exit 2): no fixture folders (scenario.toml + expected.json) "
                          f"under {folder}")
        raise typer.Exit(2)
    if update and not reason:
        reason = typer.prompt("Reason for updating the baselines")
    table = Table(title=f"Fixtures under {folder}", title_justify="left")
    for col in ("fixture", "result", "status", "NPV (USD)", "expected (USD)", "differences"):
        table.add_column(col, justify="right" if "USD" in col else "left")
    failed = 0
    for path in fixtures:
        outcome = harness.run_fixture(path)
        failed += not outcome.passed
        if update and not outcome.passed:
            harness.update_fixture(path, outcome, reason or "")
        table.add_row(outcome.name, "[green]pass[/]" if outcome.passed else
                      ("[yellow]updated[/]" if update else "[red]FAIL[/]"), outcome.status,
                      _money(outcome.npv_usd), _money(outcome.expected_npv_usd),
                      "\n".join(outcome.differences))
    out_console.print(table)
    out_console.print(f"{len(fixtures) - failed} passed, {failed} failed")
    if failed and not update:
        raise typer.Exit(1)


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep TOML file.", dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Folder of all sweeps.")] = Path("sweeps"),
    workers: Annotated[int | None, typer.Option(help="Parallel local case processes "
                                                     "[default: CPU count].")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Run on this Dask scheduler "
                                                       "(tcp://host:port) instead.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-run cases already done.")] = False,
) -> None:
    """Run a batch of scenario cases and rank them (exit 6 if some case failed).

    The sweep folder's optim.log records every run of the sweep."""
    from optim.log import RunLog

    log = RunLog("sweep", sweep=sweep_file.resolve(), out=out.resolve(), workers=workers,
                 scheduler=scheduler, force=force)
    with log:
        try:
            code, folder = _sweep(sweep_file, out, workers, scheduler, force, log)
        except Exception as exc:  # noqa: BLE001
            raise _fail(exc, log) from None
        log.finish(code, folder, append=True)
    if code:
        raise typer.Exit(code)


def _sweep(sweep_file: Path, out: Path, workers: int | None, scheduler: str | None,
           force: bool, log: RunLog) -> tuple[int, Path]:
    """The sweep command's work; returns its exit code and the sweep folder."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from optim import sweep as sweeps

    spec = sweeps.load_sweep(sweep_file)
    names = {c.case_id: c.name for c in spec.cases}
    log.info(f"sweep {spec.name!r}: {len(spec.cases)} cases, timeout {spec.timeout_s:g} s per "
             f"case, folder {(out / spec.name).resolve()}")
    counts = {"done": 0, "failed": 0}
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"),
                        TextColumn("[green]{task.fields[done]} done[/] "
                                   "[red]{task.fields[failed]} failed[/] "
                                   "{task.fields[running]} running"),
                        TimeRemainingColumn(), console=err_console)
    bar = progress.add_task(spec.name, total=len(spec.cases), done=0, failed=0, running=0)

    def started(n: int) -> None:
        progress.update(bar, completed=len(spec.cases) - n, running=min(n, workers or 99))

    def finished(row: dict) -> None:
        counts["done" if row["status"] == "solved" else "failed"] += 1
        log.info(f"case {names.get(row['case_id'], '?')!r} ({row['case_id']}): "
                 f"{row['status']} in {row.get('wall_s', 0.0):.2f} s"
                 + (f": {row['error']}" if row.get("error") else ""))
        left = len(spec.cases) - progress.tasks[0].completed - 1
        progress.update(bar, advance=1, done=counts["done"], failed=counts["failed"],
                        running=max(0, min(left, workers or 99)))

    with progress:
        outcome = sweeps.run_sweep(spec, out, workers=workers, scheduler=scheduler,
                                   force=force, on_case=finished, on_start=started)
    log.info(f"outcome: {len(spec.cases) - outcome.failed} solved ({outcome.skipped} resumed), "
             f"{outcome.failed} failed; summary {outcome.path}")
    ranked = outcome.summary.sort_values("npv_usd", ascending=False, na_position="last")
    shown = ranked[["case", "status", "npv_usd", *(c for c in ("npv_hourly_usd",)
                                                    if c in ranked)]]
    out_console.print(_table(f"Cases ranked by NPV ({outcome.skipped} resumed)", shown,
                             {"npv_usd", "npv_hourly_usd"}))
    spans = sweeps.tornado(outcome.summary, spec.axes)
    if len(spans):
        width = 40
        top = float(spans["range_usd"].max()) or 1.0
        tornado_table = Table(title="NPV range per axis", title_justify="left")
        for col in ("axis", "low", "high", "range (USD)", ""):
            tornado_table.add_column(col)
        for r in spans.itertuples(index=False):
            tornado_table.add_row(r.axis, str(r.value_low), str(r.value_high),
                                  _money(r.range_usd), "█" * max(1, round(width * r.range_usd
                                                                          / top)))
        out_console.print(tornado_table)
    failures = outcome.summary[outcome.summary["status"].isin(sweeps.SOLVED) == False]  # noqa: E712
    for r in failures.itertuples(index=False):
        err_console.print(f"[red]{escape(str(r.case))}[/] ({r.case_id}): {r.status}: "
                          f"{escape(str(r.error))}",
                          highlight=False)
    out_console.print(f"summary: {outcome.path}", highlight=False)
    return (6 if outcome.failed else 0), outcome.path.parent


def _register_headroom() -> None:
    from optim.headroom_cli import headroom

    app.command()(headroom)


_register_headroom()

_exit_fast = False


def main() -> None:
    """The `optim` command. Unlike `app()` called in-process (tests), a finished `solve` exits
    without freeing its model object by object (see `_leave`)."""
    global _exit_fast
    _exit_fast = True
    app()


def _leave() -> None:
    """End the process once a solve's results are written and printed: tearing down the
    heap of Pyomo objects at exit took 1.5 s of the 5 x 12 hourly benchmark's 26 s."""
    if _exit_fast:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
