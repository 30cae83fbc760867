"""`optim headroom`: curtailment-enabled headroom of balancing authorities (issue 6).

A thin typer command: it parses options, calls `optim.headroom` for every number, prints
rich tables and writes its files by the output rule of `optim.outdir` (a new folder or
optim's own; an events file only new or optim's). Register it with `app.command()(headroom)`.

Like every command it keeps a run log: into the --out folder as `optim.log` once written,
else (an error) in $OPTIM_LOG_DIR, and it reports an error as `cli._fail` does:
`error (exit N): ...` then `log: PATH` (bad input and refused outputs exit 2). Every file
it writes gets the usual permissions (0666 less the umask).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from optim import headroom as hr
from optim.errors import InputError
from optim.log import LOG_NAME, RunLog
from optim.outdir import OutputError, check_folder, resolved, writing

_MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


HEADROOM_FILES = frozenset({"headroom.parquet", "headroom.png", LOG_NAME})
EVENTS_KEY = b"optim"  # Parquet schema metadata of an events file optim wrote


def _check_events_out(path: Path) -> None:
    """`--events-out` may be written: a new file, or an events file optim wrote before
    (never a folder, another file, or a read-only place)."""
    from optim.outdir import _writable

    if path.is_dir():
        raise OutputError(f"--events-out {path} is a folder: give a file path")
    if path.exists():
        try:
            ours = EVENTS_KEY in (pq.read_schema(path).metadata or {})
        except Exception:  # noqa: BLE001 (not Parquet: not ours)
            ours = False
        if not ours:
            raise OutputError(f"--events-out {path} exists and was not written by optim: "
                              "choose another path, or move the file away")
    ancestor = path.parent.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not _writable(ancestor):
        raise OutputError(f"--events-out {path}: {ancestor} is not a writable folder")


def _write_events(events: pd.DataFrame, path: Path) -> None:
    """The events Parquet, marked as optim's in its schema metadata."""
    table = pa.Table.from_pandas(events, preserve_index=False)
    meta = {**(table.schema.metadata or {}), EVENTS_KEY: b'{"kind": "events"}'}
    _atomic_write(path, lambda tmp: pq.write_table(table.replace_schema_metadata(meta), tmp))


def cli_module():  # noqa: ANN202 (the module of the running `optim` app)
    """The CLI module whose `_fail` reports errors: `__main__` when run as
    `python -m optim.cli` (its --debug flag lives there), else `optim.cli`. Also used by
    `optim futures`."""
    main = sys.modules.get("__main__")
    here = Path(__file__).with_name("cli.py").resolve()
    if getattr(main, "_fail", None) is not None and \
            Path(getattr(main, "__file__", "") or ".").resolve() == here:
        return main
    from optim import cli

    return cli


def _fail(exc: Exception, log: RunLog) -> typer.Exit:
    """Report `exc` as every command does (`error (exit N): ...`, then `log: ...`): a
    headroom input error is bad input (exit 2)."""
    if isinstance(exc, hr.HeadroomInputError):
        exc = InputError(str(exc), "headroom")
    return cli_module()._fail(exc, log)


def _missing_raw(path: Path) -> hr.HeadroomInputError:
    """The default demand file is absent: say where it was looked for and how to point
    optim at the raw data."""
    return hr.HeadroomInputError(
        f"raw data not found: {path} does not exist; set OPTIM_RAW_DIR to the folder holding "
        f"{hr.RAW_FILE_NAME} (the public raw data), or give the demand file as the argument")


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temp file in the target folder, then `os.replace` it into place.
    The temp file is created with mode 0666 less the umask (as `open` creates any other
    output, usually 0644), not `mkstemp`'s 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _season(months: str) -> str:
    """`6,7,8` -> `Jun-Aug`; `1,2,11,12` -> `Nov-Feb` (windows wrap over the year end)."""
    nums = [int(m) for m in months.split(",")]
    wrap = [m for m in nums if m >= 9] + [m for m in nums if m < 9] if 12 in nums else nums
    return f"{_MONTH_ABBR[wrap[0] - 1]}-{_MONTH_ABBR[wrap[-1] - 1]}"


def _print_tables(console: Console, summary: pd.DataFrame) -> None:
    """One table per BA: a row per limit; ceilings and cleaning counts in the caption."""
    for ba, rows in summary.groupby("ba", sort=False):
        first = rows.iloc[0]
        mode = "every year within the limit" if first["every_year"] else "average of yearly rates"
        table = Table(
            title=f"{ba}: curtailment-enabled headroom, {first['first_year']}-"
            f"{first['last_year']} ({mode})",
            caption=(
                f"ceiling: summer {first['summer_peak_mw']:,.0f} MW "
                f"(peak {_season(first['summer_peak_months'])}, applied Apr-Oct), "
                f"winter {first['winter_peak_mw']:,.0f} MW "
                f"(peak {_season(first['winter_peak_months'])}, applied Nov-Mar)\n"
                f"cleaning: {first['hours']:,} h, {first['missing_hours']:,} missing, "
                f"{first['nonpositive_hours']:,} <= 0, {first['outlier_hours']:,} > 15 % off "
                f"the 7-h median; {first['filled_hours']:,} filled by linear interpolation"
            ),
        )
        table.add_column("limit %", justify="right")
        table.add_column("headroom MW", justify="right")
        table.add_column("curtailed h/yr", justify="right")
        table.add_column(">=50 % served", justify="right")
        table.add_column("rate % mean/max yr", justify="right")
        for _, row in rows.iterrows():
            share = row["half_served_share"]
            table.add_row(
                f"{row['limit_pct']:g}",
                f"{row['headroom_mw']:,}",
                f"{row['curtailed_hours_per_year']:,.1f}",
                "-" if pd.isna(share) else f"{share:.0%}",
                f"{row['curtailment_pct_mean']:.3f}/{row['curtailment_pct_max_year']:.3f}",
            )
        console.print(table)


def _save_plot(curve: pd.DataFrame, summary: pd.DataFrame, path: Path) -> None:
    """Headroom (MW) against the curtailment limit (%), one line per BA (Agg backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for ba, rows in curve.groupby("ba", sort=False):
        (line,) = ax.plot(rows["limit_pct"], rows["headroom_mw"], label=str(ba))
        marks = summary[summary["ba"] == ba]
        ax.plot(marks["limit_pct"], marks["headroom_mw"], "o", color=line.get_color())
    ax.set_xscale("log")
    ax.set_xticks(sorted(summary["limit_pct"].unique()))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("curtailment limit, % of the new load's energy")
    ax.set_ylabel("headroom, MW")
    ax.set_title("Curtailment-enabled headroom")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", ncols=2)
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))


def headroom(
    demand: Annotated[
        Path | None,
        typer.Argument(
            help="Hourly BA demand Parquet (timestamp_utc, ba, demand_mw). Default: "
            "$OPTIM_RAW_DIR/eia930_demand_hourly_22ba_2016_2024.parquet, else "
            "<repo>/../shared/data/raw/.",
            show_default=False,
        ),
    ] = None,
    ba: Annotated[
        list[str] | None,
        typer.Option("--ba", help="Balancing authority code (EIA), repeatable. Default: all."),
    ] = None,
    limit: Annotated[
        list[float] | None,
        typer.Option(
            "--limit",
            help="Curtailment limit in % of the new load's energy, in (0, 100); repeatable. "
            "Default: 0.25, 0.5, 1.",
        ),
    ] = None,
    years: Annotated[
        str, typer.Option("--years", help="UTC calendar years used, YYYY-YYYY or YYYY.")
    ] = "2016-2024",
    every_year: Annotated[
        bool,
        typer.Option("--every-year", help="Each year's rate must be within the limit."),
    ] = False,
    widen: Annotated[
        list[str] | None,
        typer.Option(
            "--widen",
            help="Widen a BA's peak window by a month, BA:MON (May/Sep summer, Nov/Mar "
            "winter), repeatable; `report` = CISO:Sep, CISO:Nov, FPL:Nov.",
        ),
    ] = None,
    min_coverage: Annotated[
        float,
        typer.Option("--min-coverage", help="Minimum % of a year's hours with usable data."),
    ] = hr.DEFAULT_MIN_COVERAGE_PCT,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for headroom.parquet (and headroom.png).")
    ] = Path("results/headroom"),
    plot: Annotated[
        bool, typer.Option("--plot", help="Save headroom.png: headroom against the limit.")
    ] = False,
    events_out: Annotated[
        Path | None,
        typer.Option(
            "--events-out",
            help="Write the flexible load's curtailed hours as `stress` flags (MODEL.md "
            "events Parquet). Needs one --ba, --node, and one --limit or --flex-mw.",
        ),
    ] = None,
    node: Annotated[
        str | None, typer.Option("--node", help="Node name written in the events file.")
    ] = None,
    flex_mw: Annotated[
        float | None,
        typer.Option("--flex-mw", help="Flexible load MW for the events (default: headroom)."),
    ] = None,
    events_year: Annotated[
        int | None,
        typer.Option("--events-year", help="Source year of the events (default: last year)."),
    ] = None,
    events_start: Annotated[
        str | None,
        typer.Option(
            "--events-start",
            help="First month YYYY-MM of the horizon the source year is replayed onto "
            "(default: January of the source year, i.e. no remapping).",
        ),
    ] = None,
    events_months: Annotated[
        int, typer.Option("--events-months", help="Number of horizon months.")
    ] = 12,
    force: Annotated[
        bool, typer.Option("--force", help="Write into an existing --out folder optim did not "
                           "write (nothing there is deleted).")
    ] = False,
) -> None:
    """Curtailment-enabled headroom: how many MW of curtailable load a BA can take.

    Method of Norris et al., "Rethinking Load Growth" (Duke, 2025) on EIA-930 demand.
    """
    console = Console(markup=False)
    log = RunLog("headroom", demand=demand if demand is not None else "(default)",
                 out=resolved(out), events_out=events_out, force=force)
    with log:
        try:
            limits = hr.check_limits_pct(limit or hr.DEFAULT_LIMITS_PCT)
            first_year, last_year = hr.parse_years(years)
            widen_months = hr.parse_widen(widen or [])
            if events_out is not None:
                hr.check_events_request(
                    ba, limits, flex_mw, node, events_start, events_months,
                    (first_year, last_year), events_year,
                )  # fmt: skip
            if demand is None and not hr.default_demand_path().is_file():
                raise _missing_raw(hr.default_demand_path())
            frame = hr.read_demand(demand if demand is not None else hr.default_demand_path())
            profiles = hr.prepare_bas(frame, ba, (first_year, last_year), widen_months,
                                      min_coverage)
            summary = hr.headroom_summary(profiles, limits, every_year)
            events = None
            load_mw, source_year = 0.0, last_year
            if events_out is not None:
                (profile,) = profiles.values()
                load_mw = flex_mw if flex_mw is not None else \
                    float(summary["headroom_mw"].iloc[0])
                if not load_mw > 0:
                    raise hr.HeadroomInputError(
                        f"BA {profile.ba}: no load meets the {limits[0]:g} % limit, so there "
                        "are no curtailed hours to write; give --flex-mw or a larger --limit"
                    )
                source_year = events_year if events_year is not None else last_year
                events = hr.stress_events(
                    profile, load_mw, node or "", source_year, events_start, events_months
                )
            curve = hr.headroom_curve(profiles, limits, every_year) if plot else None
            check_folder(out, "headroom", HEADROOM_FILES, force)
            if events_out is not None:
                _check_events_out(events_out)
        except Exception as exc:  # noqa: BLE001
            raise _fail(exc, log) from None
        log.info(f"headroom of {summary['ba'].nunique()} BA(s) at {len(limits)} limit(s)")

        _print_tables(console, summary)
        try:
            with writing(out, "headroom", HEADROOM_FILES, force) as stage:
                summary.to_parquet(stage / "headroom.parquet", index=False)
                if curve is not None:
                    _save_plot(curve, summary, stage / "headroom.png")
                (stage / LOG_NAME).write_bytes(log.text())
            if events is not None and events_out is not None:
                _write_events(events, events_out)
                log.info(f"events: {len(events):,} stress hours written to {events_out}")
        except Exception as exc:  # noqa: BLE001
            raise _fail(exc, log) from None
        log.finish(0, resolved(out))
    console.print(f"wrote {out / 'headroom.parquet'}", highlight=False)
    if curve is not None:
        console.print(f"wrote {out / 'headroom.png'}", highlight=False)
    if events is not None and events_out is not None:
        span = (
            f"{events['timestamp'].min():%Y-%m-%d %H:%MZ} .. "
            f"{events['timestamp'].max():%Y-%m-%d %H:%MZ}"
            if len(events)
            else "none"
        )
        console.print(
            f"wrote {events_out}: {len(events):,} stress hours for node {node} ({span}), "
            f"the hours of {source_year} in which {load_mw:,.0f} MW of flexible load is "
            "curtailed, replayed by (month, day, hour) UTC",
            highlight=False,
        )
