"""The `optim` command line: solve, validate, sample (and more). No arithmetic here."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from optim.log import RunLog
    from optim.solver import MipProgress

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Plan a power portfolio: self-mining, hosting, AI colocation, generation.")
out_console = Console()
err_console = Console(stderr=True)


def _stdout_closed() -> None:
    """The reader of stdout went away (`optim solve ... | head -1`): the rest of the tables
    go nowhere and the run ends as it would have (rich's default exits 1)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


out_console.on_broken_pipe = _stdout_closed

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
        err_console.print(f"log: {where}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


PHASE_NAMES = {"read": "reading the inputs", "prepare": "preparing the problem",
               "build": "the model build",
               "warm start": "the warm start (a coarser MIP)", "solve": "the MIP solve",
               "solve by site": "the solve by site", "tables": "the result tables",
               "re-solve": "the hourly re-solve",
               "re-solve + baseline": "the hourly re-solve of the plan and its baseline",
               "results": "the result tables",
               "check": "the independent check", "write": "writing the results"}


class _Phases:
    """Shows the phases of a run on stderr, each with its duration, and logs them; within
    a phase, a running MIP's incumbent, bound and gap, or the site solves done, update the
    status line in place (`mip`, `sites`: see optim.engine.Progress)."""

    def __init__(self, quiet: bool, log: RunLog | None = None) -> None:
        self.quiet = quiet
        self.log = log
        self.current: str | None = None
        self.t0 = time.perf_counter()
        self.status = None if quiet else err_console.status("starting")
        self.detail = ""  # the latest progress within the current phase
        self.stopped: str | None = None  # what a KeyboardInterrupt stopped

    def __enter__(self) -> _Phases:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __call__(self, phase: str) -> None:
        self._close()
        self.current, self.t0, self.detail = phase, time.perf_counter(), ""
        if self.status is not None:
            self.status.update(self)

    def __rich__(self) -> Text:
        """The status line, drawn anew at each refresh: the phase, its elapsed time and
        its progress."""
        return _text(f"{self.current} ... {time.perf_counter() - self.t0:.0f} s"
                     f"{'  ' if self.detail else ''}{self.detail}")

    def mip(self, update: MipProgress) -> None:
        """A running MIP's state: incumbent NPV, bound and gap (USD)."""
        known = [f"{name} {_money(value)} USD" for name, value in
                 (("incumbent NPV", update.objective_usd), ("bound", update.bound_usd))
                 if value is not None]
        if update.gap is not None:
            known.append(f"gap {_percent(update.gap)}")
        self.detail = ", ".join(known)

    def sites(self, done: int, total: int) -> None:
        """Site solves done out of `total`."""
        self.detail = f"{done} of {total} sites done"

    def describe(self) -> str:
        """The current phase and its progress, as in "the hourly re-solve (3 of 5 sites
        done)"."""
        if self.current is None:
            return "the run"
        what = PHASE_NAMES.get(self.current, self.current)
        after = f"after {time.perf_counter() - self.t0:.1f} s"
        return f"{what} ({after}{'; ' if self.detail else ''}{self.detail})"

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
        else:
            if issubclass(kind, KeyboardInterrupt):
                self.stopped = self.describe()
            if self.current is not None and self.log is not None:
                self.log.info(f"phase {self.current}: stopped by {kind.__name__} after "
                              f"{time.perf_counter() - self.t0:.3f} s")
        if self.status is not None:
            try:
                self.status.__exit__(kind, *exc)
            except OSError:
                pass  # stderr closed: nothing to clear


def _output_closed(log: RunLog | None) -> typer.Exit:
    """The reader of stdout or stderr is gone (`optim solve ... 2>&1 | head -1`): stop
    quietly with 128 + SIGPIPE, as a tool killed by SIGPIPE does; the log records it. (Once
    the results are written, rich ends a closed stdout's printing with exit 1.)"""
    if log is not None:
        log.info("output closed (broken pipe): stopped")
        log.finish(128 + signal.SIGPIPE)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):
            pass
    if _exit_fast:
        os._exit(128 + signal.SIGPIPE)
    return typer.Exit(128 + signal.SIGPIPE)


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that a run stops and cleans up the same way."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise _Terminated(signum)


def _stopped(exc: KeyboardInterrupt, what: str, log: RunLog | None,
             outcome: str = "nothing written") -> typer.Exit:
    """Report an interrupted run in one line, record it in its log, and return the Exit
    with code 128 + the signal (130 for Ctrl-C). The command line (`main`) leaves at once:
    its workers are stopped already and freeing the model would only delay the exit."""
    signum = getattr(exc, "signum", signal.SIGINT)
    code = 128 + int(signum)
    verb = "interrupted" if signum == signal.SIGINT else \
        f"stopped by {signal.Signals(signum).name}"
    line = f"{verb} during {what}; {outcome}"
    if log is not None:
        log.info(line)
        where = log.finish(code)
        if where is not None:
            line += f" (log: {where})"
    try:
        err_console.print(_text(line, "yellow"), soft_wrap=True)
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, SystemExit):  # a closed pipe (rich exits on one)
        pass
    if _exit_fast:
        os._exit(code)
    return typer.Exit(code)


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
    """Whole dollars with thousands separators ("-" for none)."""
    return "-" if v is None or v != v else f"{v:,.0f}"


SOLVE_FLAGS = {"resolution": "--resolution", "mip_gap": "--mip-gap",
               "time_limit_s": "--time-limit"}
HOURLY_DEPRECATED = ("--hourly is deprecated: it only writes hourly.parquet, use --write-hourly "
                     "(the resolution of the solve is --resolution hourly or blocks:K)")


def _percent(gap: float | None) -> str:
    """A relative gap as a percentage ("-" for none)."""
    if gap is None:
        return "-"
    return f"{gap:.1%}" if gap >= 0.01 else f"{gap:.4%}"


def _time_limit_warning(s: dict, time_limit_s: float | None) -> str:
    """What a time-limit stop means for the plan: how far from proven it is."""
    limit = "" if time_limit_s is None else f" ({time_limit_s:g} s)"
    npv, bound, gap = s.get("npv_usd"), s.get("bound_usd"), s.get("mip_gap")
    if gap is None or npv is None or bound is None:
        return (f"stopped at the time limit{limit} with a feasible plan that is not proven "
                f"optimal (no bound known)")
    far = " The plan may be far from the best one." if gap > 0.1 else ""
    return (f"stopped at the time limit{limit} before proving the plan optimal: a plan may "
            f"exist that is up to {_money(abs(bound - npv))} USD better than its NPV "
            f"{_money(npv)} USD (gap {_percent(gap)}, bound {_money(bound)} USD; requested "
            f"{_percent(s.get('mip_gap_requested'))}).{far} Give a longer --time-limit, or "
            f"solve at --resolution blocks:K.")


def _text(value: object, style: str = "") -> Text:
    """User-controlled text (names, paths) as plain text: never read as rich markup."""
    return Text(str(value), style=style)


def _cell(value: object, money: bool) -> Text:
    if money:
        return _text(_money(value))  # type: ignore[arg-type]
    if isinstance(value, float):
        return _text(f"{value:,.2f}")
    return _text(value)


def _table(title: str, frame, money: set[str] = frozenset(),  # noqa: ANN001
           total: int | None = None, caption: str | None = None) -> Table:
    """A frame as a rich table of plain text (no markup) that fits the terminal without
    cutting a value: numbers keep their width, headers wrap at spaces, long names fold
    onto more lines. With `total`, a rule is drawn above that row (a total)."""
    table = Table(title=_text(title), title_justify="left",
                  caption=None if caption is None else _text(caption), caption_justify="left")
    rows = [[_cell(v, c in money) for c, v in zip(frame.columns, row, strict=True)]
            for row in frame.itertuples(index=False)]
    for j, col in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame.dtypes.iloc[j])
        widest = max((len(r[j]) for r in rows), default=1)
        table.add_column(_text(col), justify="right" if numeric else "left", overflow="fold",
                         min_width=widest if numeric else min(widest, 12))
    for i, cells in enumerate(rows):
        table.add_row(*cells, end_section=total is not None and i == total - 1,
                      style="bold" if i == total else None)
    return table


def _solve_rows(head: Table, s: dict) -> None:
    """The headline rows every solve shows: gap and bound, the independent check, size."""
    head.add_row("MIP gap / bound (USD)",
                 _text(f"{_percent(s['mip_gap'])} / {_money(s['bound_usd'])}"))
    if "verified" in s:
        head.add_row("independent check",
                     _text("passed") if s["verified"] else _text("FAILED", "red"))
    head.add_row("size", f"{s['variables']:,} variables ({s['integers']:,} integer), "
                         f"{s['constraints']:,} constraints")


def _cash_flow_rows(head: Table, c: dict) -> None:
    """The plan against its no-investment baseline (MODEL.md §2 cash view, optim.cashflow)."""
    if "baseline_error" in c:
        head.add_row("baseline (no new investment)", _text(c["baseline_error"], "yellow"))
    if "incremental_npv_usd" not in c:
        return
    irr = "none (no sign change)" if c["irr"] is None else f"{100 * c['irr']:.1f} %"
    head.add_row("vs no new investment (USD)",
                 _text(f"baseline NPV {_money(c['baseline_npv_usd'])}; incremental NPV "
                       f"{_money(c['incremental_npv_usd'])} on "
                       f"{_money(c['incremental_capex_usd'])} capex"))
    head.add_row("incremental IRR / payback",
                 _text(f"{irr} / {c['payback_month'] or 'not within the horizon'}"))


def _show(result, out: Path) -> None:  # noqa: ANN001
    """The solved run on stdout: the headline, the NPV lines of the plan that is run (with
    their total, equal to that plan's NPV above), uses, builds, investments."""
    from optim import report

    s = result.summary
    if s.get("futures"):
        _show_futures(result, out)
        return
    resolution = s["resolution"]
    head = Table.grid(padding=(0, 2))
    head.add_row("status", _text(s["status"], "bold"))
    head.add_row(f"NPV, {resolution} solve (USD)", _text(_money(s["npv_usd"]), "bold"))
    if s.get("npv_hourly_usd") is not None:
        head.add_row("NPV, hourly re-solve (USD)",
                     _text(f"{_money(s['npv_hourly_usd'])}  (the plan that is run; "
                           f"{_money(s['npv_hourly_minus_blocks_usd'])} vs blocks)"))
    _solve_rows(head, s)
    _cash_flow_rows(head, s.get("cash_flow", {}))
    head.add_row("timings (s)", ", ".join(f"{k[:-2]} {s[k]}" for k in
                                          ("read_s", "build_s", "handoff_s", "solve_s",
                                           "resolve_s", "total_s")))
    out_console.print(head)
    plan, _ = report.npv_plan(result)
    lines = report.npv_lines(result, total=True)
    out_console.print(_table(f"NPV lines of the {plan} (discounted USD)", lines, {"npv_usd"},
                             total=len(lines) - 1))
    out_console.print(_table("Average MW by use (start, middle, end of horizon)",
                             report.site_uses(result)))
    out_console.print(_table("Built per site (totals over the horizon)",
                             report.site_builds(result)))
    if len(result.investments):
        out_console.print(_table("Investments", result.investments, {"capex_usd"}))
    out_console.print(f"results: {out}", markup=False, highlight=False, soft_wrap=True)


def _show_futures(result, out: Path) -> None:  # noqa: ANN001
    """A futures run (MODEL.md §9): the objective and its parts, the NPV distribution, the
    here-and-now decisions and how the later ones spread across futures."""
    from optim import report

    s = result.summary
    hourly = s.get("npv_hourly_usd") is not None
    head = Table.grid(padding=(0, 2))
    head.add_row("status", _text(s["status"], "bold"))
    head.add_row("futures", f"{s['futures']}, decisions shared before month "
                            f"{s['commit_months']}; objective (1 - {s['risk_weight']:g}) E[NPV] "
                            f"+ {s['risk_weight']:g} CVaR {s['risk_alpha']:g}")
    head.add_row(f"objective, {s['resolution']} solve (USD)", _text(_money(s["npv_usd"]), "bold"))
    if hourly:
        head.add_row("objective, hourly re-solve (USD)", _money(s["npv_hourly_usd"]))
    for key, label in (("vss_usd", "value of the stochastic solution (USD)"),
                       ("evpi_usd", "expected value of perfect information (USD)")):
        if key in s:
            head.add_row(label, _money(s[key]))
    _solve_rows(head, s)
    out_console.print(head)
    plan = "hourly re-solve" if hourly else f"{s['resolution']} solve"
    out_console.print(_table(f"NPV over the futures ({plan}, USD)", report.futures_npvs(result),
                             {"npv_usd"}))
    lines = report.npv_lines(result, total=False)
    out_console.print(_table("Expected NPV lines (probability-weighted, discounted USD)", lines,
                             {"npv_usd"}))
    now = report.here_and_now(result)
    if len(now):
        out_console.print(_table("Here and now: decisions shared by every future", now,
                                 {"capex_usd"}))
    spread = report.later_spread(result)
    if len(spread):
        out_console.print(_table("Later decisions across futures", spread))
    out_console.print(f"results: {out}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def solve(
    scenario: ScenarioArg,
    out: Annotated[Path | None, typer.Option(help="Results folder [default: results/<name>].")]
    = None,
    resolution: Annotated[str | None, typer.Option(
        help="Resolution of the investment solve: hourly or blocks:K.")] = None,
    mip_gap: Annotated[float | None, typer.Option("--mip-gap", help="Relative MIP gap.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Solver time limit, s.")] = None,
    write_hourly: Annotated[bool, typer.Option(
        "--write-hourly", help="Also write hourly.parquet (the hourly dispatch; the "
        "resolution is --resolution).")] = False,
    hourly: Annotated[bool, typer.Option("--hourly", hidden=True,
                                         help="Deprecated alias of --write-hourly.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the results path.")]
    = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Re-check the plan "
                                         "independently (constraints and NPV).")] = True,
    force: Annotated[bool, typer.Option("--force", help="Write into an existing folder optim "
                                        "did not write (nothing there is deleted).")] = False,
    value: Annotated[bool, typer.Option("--value", help="With [futures]: also the value of "
                                        "the stochastic solution and of perfect information "
                                        "(vss_usd, evpi_usd).")] = False,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Also solve the "
                                           "scenario with no new investment and compare: "
                                           "incremental NPV, IRR, payback (not with "
                                           "[futures]).")] = True,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html into the "
                                         "results folder (optim report).")] = False,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Also write the results as an "
                                              "Excel workbook to this file.")] = None,
) -> None:
    """Solve a scenario and write its results folder (with its log, optim.log).

    optim writes only into a new folder or one it wrote before, and replaces only its own
    files there (README, Safety)."""
    from optim import load_scenario
    from optim import solve as run
    from optim.errors import VerificationError
    from optim.log import RunLog
    from optim.outdir import check_folder_name
    from optim.results import check_results_folder, write_result
    from optim.scenario import with_overrides

    if hourly:
        err_console.print(_text(f"warning: {HOURLY_DEPRECATED}", "yellow"))
        write_hourly = True
    log = RunLog("solve", scenario=scenario.resolve(), out=out, resolution=resolution,
                 mip_gap=mip_gap, time_limit_s=time_limit, write_hourly=write_hourly,
                 verify=verify)
    placed = False  # the log is already in the (written) results folder
    phases = _Phases(quiet, log)
    written = None
    try:
        if hourly:
            log.warning(HOURLY_DEPRECATED)
        sc = with_overrides(load_scenario(scenario), SOLVE_FLAGS, resolution=resolution,
                            mip_gap=mip_gap, time_limit_s=time_limit)
        if out is None:
            check_folder_name(sc.scenario.name, "scenario.name", str(scenario),
                              " (or give --out)")
        target = out or Path("results") / sc.scenario.name
        check_results_folder(target, force)
        if xlsx is not None and xlsx.suffix.lower() != ".xlsx":
            from optim.workbook import check_target

            check_target(xlsx)
        log.info(f"results folder: {target.resolve()}")
        with phases:
            try:
                result = run(sc, hourly=write_hourly, check=verify, progress=phases,
                             value=value, baseline=baseline)
            except VerificationError as exc:
                phases("write")
                log.error(exc, exc.exit_code, traceback=False)
                written = write_result(exc.result, target, log.files(), force)
                phases.close()
                log.finish(exc.exit_code, written)
                placed = True
                raise
            _log_outcome(log, result.summary)
            if result.status != "optimal":
                log.warning(_time_limit_warning(result.summary, sc.scenario.time_limit_s))
            phases("write")
            written = write_result(result, target, log.files(), force)
            extras = _extras(written, report, xlsx)
        log.finish(0, written)
    except KeyboardInterrupt as exc:
        raise _stopped(exc, phases.stopped or "the run", None if placed or log.exit_code
                       is not None else log,
                       "nothing written" if written is None else f"results in {written}"
                       ) from None
    except (BrokenPipeError, SystemExit):  # rich exits on a closed pipe
        raise _output_closed(None if placed or log.exit_code is not None else log) from None
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc, None if placed else log) from None
    finally:
        log.close()
    if result.status != "optimal":
        err_console.print(Text.assemble(("warning", "yellow"), ": ", _time_limit_warning(
            result.summary, sc.scenario.time_limit_s)), soft_wrap=True)
    if quiet:
        out_console.print(str(written / "summary.json"), markup=False, highlight=False,
                          soft_wrap=True)
    else:
        _show(result, written)
    for path in extras:
        out_console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    _leave()


def _extras(results: Path, report: bool, xlsx: Path | None) -> list[Path]:
    """`solve --report` and `--xlsx`: the HTML report and the workbook of the results."""
    written = []
    if report:
        from optim.report_html import write_report

        written.append(write_report(results))
    if xlsx is not None:
        from optim.workbook import write_workbook

        written.append(write_workbook(results, xlsx))
    return written


@app.command()
def validate(scenario: ScenarioArg) -> None:
    """Read and check the scenario and its series, build the model, do not solve.

    Exits like `optim solve` would before solving: 2 for bad input, 3 when the data
    conflict (e.g. halls under construction above max_halls)."""
    from optim.diagnose import raise_if_conflicts
    from optim.engine import build_model
    from optim.problem import build_problem
    from optim.scenario import load_scenario
    from optim.series import read_series
    from optim.solver import check_options
    from optim.tuning import Tuning

    try:
        sc = load_scenario(scenario)
        check_options(dict(sc.solver))
        series = read_series(sc)
        if sc.futures is not None:  # the futures file, and the first future's model
            from optim.futures import read_futures, series_of

            series = series_of(series, read_futures(sc, series.horizon), 0)
        problem = build_problem(sc, series, merge_hours=Tuning.from_env().merge_hours)
        raise_if_conflicts(problem)
        core = build_model(problem)
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from None
    out_console.print(f"{scenario}: valid ({len(sc.site)} sites, {sc.scenario.months} months, "
                      f"{len(core.vars):,} variables at {sc.scenario.resolution})",
                      markup=False, highlight=False, soft_wrap=True)


@app.command()
def sample(
    raw: Annotated[Path | None, typer.Option(help="Raw data folder [default: ../shared/data/raw "
                                                  "or $OPTIM_RAW_DIR].")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder [default: the checkout's "
                                                  "data/sample/generated, else ./optim-sample]"
                                                  "; any folder but the checkout's also gets "
                                                  "the scenario.toml reading the series.")]
    = None,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when the "
                                             "files are already there.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Write into an existing folder optim "
                                        "did not write (nothing there is deleted).")] = False,
    reserve_year: Annotated[int, typer.Option(
        "--reserve-year", help="ERCOT ancillary-service year replayed in reserve_prices.parquet:"
        " 2023 (scarcity regime) or 2024 (battery era); both are also written as "
        "reserve_prices_<year>.parquet.")] = 2023,
) -> None:
    """Build the sample portfolio's Parquet inputs from the public raw data (and, in any
    folder but the checkout's data/sample/generated, the sample scenario.toml)."""
    from optim import paths
    from optim import sample as sample_data
    from optim.errors import InputError
    from optim.outdir import resolved

    target = out or sample_data.default_out_dir()
    scenario = resolved(target) != paths.checkout_sample_dir()
    names = [*sample_data.output_names(), *(["scenario.toml"] if scenario else [])]
    if if_missing and all((target / name).is_file() for name in names):
        out_console.print(f"sample data present in {target}", markup=False, highlight=False)
        return
    try:
        try:
            written = sample_data.build_sample(raw or sample_data.default_raw_dir(), target,
                                               reserve_year=reserve_year, force=force,
                                               scenario=scenario)
        except sample_data.RawDataMissingError as exc:
            raise InputError(str(exc), "raw data") from None
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from None
    for path in written:
        out_console.print(str(path), markup=False, highlight=False)


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
                          f"under {folder}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    try:
        harness.check_fixtures(fixtures, update)  # every expected.json, before any solve
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from None
    if update and not reason:
        reason = typer.prompt("Reason for updating the baselines")
    table = Table(title=_text(f"Fixtures under {folder}"), title_justify="left")
    for col in ("fixture", "result", "status", "NPV (USD)", "expected (USD)", "differences"):
        table.add_column(col, justify="right" if "USD" in col else "left")
    failed = 0
    for path in fixtures:
        outcome = harness.run_fixture(path)
        failed += not outcome.passed
        if update and not outcome.passed:
            harness.update_fixture(path, outcome, reason or "")
        table.add_row(_text(outcome.name), "[green]pass[/]" if outcome.passed else
                      ("[yellow]updated[/]" if update else "[red]FAIL[/]"), outcome.status,
                      _money(outcome.npv_usd), _money(outcome.expected_npv_usd),
                      _text("\n".join(outcome.differences)))
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
        except KeyboardInterrupt as exc:
            what = (getattr(exc, "__notes__", None) or ["the sweep"])[-1]
            raise _stopped(exc, what, log, "finished cases are kept, a re-run resumes"
                           ) from None
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
    sweeps.check_sweep_root(spec, out, force)  # a refused folder: exit 2 before any progress
    counts = {"done": 0, "failed": 0}
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"),
                        TextColumn("[green]{task.fields[done]} done[/] "
                                   "[red]{task.fields[failed]} failed[/] "
                                   "{task.fields[running]} running"),
                        TimeRemainingColumn(), console=err_console)
    bar = progress.add_task(escape(spec.name), total=len(spec.cases), done=0, failed=0, running=0)

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

    try:
        with progress:
            outcome = sweeps.run_sweep(spec, out, workers=workers, scheduler=scheduler,
                                       force=force, on_case=finished, on_start=started)
    except KeyboardInterrupt as exc:
        exc.add_note(f"the sweep ({progress.tasks[0].completed} of {len(spec.cases)} cases "
                     f"done; the running cases were stopped)")
        raise
    log.info(f"outcome: {len(spec.cases) - outcome.failed} solved ({outcome.skipped} resumed), "
             f"{outcome.failed} failed; summary {outcome.path}")
    ranked = outcome.summary.sort_values("npv_usd", ascending=False, na_position="last")
    shown = ranked[["case", "status", "npv_usd", *(c for c in ("npv_hourly_usd",)
                                                    if c in ranked)]]
    out_console.print(_table(f"Cases ranked by NPV ({outcome.skipped} resumed)", shown,
                             {"npv_usd", "npv_hourly_usd"}))
    spans = sweeps.tornado(outcome.summary, spec.axes)
    if len(spans):
        width = 40 if out_console.width >= 120 else 12  # the bar; the axis folds to fit
        top = float(spans["range_usd"].max()) or 1.0
        tornado_table = Table(title="NPV range per axis", title_justify="left")
        for col in ("axis", "low", "high", "range (USD)", ""):
            tornado_table.add_column(col, overflow="fold", no_wrap=col != "axis",
                                     justify="right" if col == "range (USD)" else "left")
        for r in spans.itertuples(index=False):
            tornado_table.add_row(_text(r.axis), _text(r.value_low), _text(r.value_high),
                                  _money(r.range_usd), "█" * max(1, round(width * r.range_usd
                                                                          / top)))
        out_console.print(tornado_table)
    failures = outcome.summary[outcome.summary["status"].isin(sweeps.SOLVED) == False]  # noqa: E712
    for r in failures.itertuples(index=False):
        err_console.print(f"[red]{escape(str(r.case))}[/] ({r.case_id}): {r.status}: "
                          f"{escape(str(r.error))}",
                          highlight=False)
    out_console.print(f"summary: {outcome.path}", markup=False, highlight=False,
                      soft_wrap=True)
    return (6 if outcome.failed else 0), outcome.path.parent


def _register(commands: tuple[tuple[str, str], ...]) -> None:
    """Add the commands that live in modules of their own: (module, function) pairs."""
    import importlib

    for module, name in commands:
        app.command()(getattr(importlib.import_module(module), name))


_register((("optim.headroom_cli", "headroom"), ("optim.futures_cli", "futures"),
           ("optim.breakeven_cli", "breakeven"), ("optim.report_cli", "report")))

_exit_fast = False


def main() -> None:
    """The `optim` command. Unlike `app()` called in-process (tests), a finished `solve` exits
    without freeing its model object by object (see `_leave`), and SIGTERM or SIGHUP stop
    a run as Ctrl-C does (workers stopped, nothing half-written, exit 128 + signal)."""
    global _exit_fast
    _exit_fast = True
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)
    try:
        app()
    except SystemExit as exc:  # every exit, success or error: skip tearing the heap down
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    except OSError as exc:  # the terminal or a redirect failed us (disk full, closed pipe)
        with contextlib.suppress(OSError):
            sys.stderr.write(f"error (exit 1): cannot write the output: {exc}\n")
            sys.stderr.flush()
        os._exit(1)


def _leave() -> None:
    """End the process once a solve's results are written and printed: tearing down the
    heap of Pyomo objects at exit took 1.5 s of the 5 x 12 hourly benchmark's 26 s."""
    if _exit_fast:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()  # results are written: a closed pipe changes nothing
        os._exit(0)


if __name__ == "__main__":
    main()
