"""`optim futures`: hashprice futures generated from real history (docs/futures.md).

A thin typer command: it checks the options, calls `optim.futures_gen` for every number,
prints the fan table and writes three files: the futures Parquet (MODEL.md §9), a
`[futures]` TOML snippet and a PNG fan chart beside it (`<stem>.toml`, `<stem>.png`).
Register it with `app.command()(futures)`.

Errors are reported as every command does (`error (exit N): ...`, via `cli._fail`): bad
options, a missing raw file or an existing output without --force exit 2. Outputs are
written to temporary names beside the targets and moved into place with `os.replace`
once all three are complete, so no half-written file is ever left behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from optim import futures_gen as fg
from optim import sample
from optim.headroom_cli import cli_module


def output_paths(out: Path) -> dict[str, Path]:
    """The three files of a run: the Parquet, and `<stem>.toml`, `<stem>.png` beside it."""
    if out.suffix != ".parquet":
        raise fg.FuturesInputError(f"--out {out} must name a .parquet file")
    if out.is_dir():
        raise fg.FuturesInputError(f"--out {out} is a folder: give a .parquet file path")
    return {"parquet": out, "toml": out.with_suffix(".toml"), "png": out.with_suffix(".png")}


def _check_outputs(paths: dict[str, Path], force: bool) -> None:
    """Refuse to replace an existing output without --force (or any folder in the way)."""
    for path in paths.values():
        if path.is_dir():
            raise fg.FuturesInputError(f"--out: {path} is a folder, not a file")
        if path.exists() and not force:
            raise fg.FuturesInputError(
                f"--out: {path} exists; pass --force to overwrite it (or choose another --out)")


def _write_all(writers: dict[Path, Callable[[Path], None]]) -> None:
    """Write every file to a temporary name beside its target (mode 0666 less the umask),
    then move them all into place; on any failure remove the temporaries."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, write in writers.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            staged.append((tmp, path))
            write(tmp)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def _write_parquet(result: fg.Futures, path: Path) -> None:
    """Fixed schema, no pandas metadata, the sample's writer settings: byte-reproducible."""
    table = result.table().replace_schema_metadata(None)
    pq.write_table(table, path, **sample.PARQUET_OPTIONS)


def _save_plot(result: fg.Futures, path: Path) -> None:
    """Fan chart: the 5-95 % and 25-75 % bands and the median of the daily hashprice over
    every generated path, the written futures as thin lines, the halving marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dates = result.dates.to_numpy()
    pct = result.daily_percentiles()
    fig = Figure(figsize=(9, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.fill_between(dates, pct[0], pct[4], color="tab:blue", alpha=0.18, lw=0,
                    label="5-95 % of paths")
    ax.fill_between(dates, pct[1], pct[3], color="tab:blue", alpha=0.35, lw=0,
                    label="25-75 % of paths")
    ax.plot(dates, pct[2], color="tab:blue", lw=1.8, label="median")
    if len(result.kept) < len(result.names) or len(result.kept) <= 20:
        for j, i in enumerate(result.kept):
            ax.plot(dates, result.hashprice[i], color="0.35", lw=0.5, alpha=0.6,
                    label="futures written" if j == 0 else None)
    halving = sample.HALVING_2028
    if result.dates[0] <= halving <= result.dates[-1]:
        ax.axvline(halving.to_datetime64(), color="tab:red", ls="--", lw=1.2,
                   label=f"halving {halving:%Y-%m-%d}")
    s = result.settings
    ax.set_title(f"Hashprice futures: {s['futures']} paths, seed {s['seed']}, "
                 f"{s['start']} + {s['months']} months (a model of uncertainty, not a forecast)",
                 fontsize="medium")
    ax.set_xlabel("date (UTC)")
    ax.set_ylabel("hashprice, USD per PH/s per day")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper right")
    fig.savefig(path, format="png", dpi=110)


def _fan_table(result: fg.Futures) -> Table:
    n = len(result.names)
    table = Table(title=f"Hashprice futures (USD per PH/s per day): percentiles over {n} "
                  "paths of the quarterly mean", title_justify="left")
    table.add_column("quarter")
    for p in fg.PERCENTILES:
        table.add_column(f"p{p}", justify="right")
    for row in result.fan().itertuples(index=False):
        table.add_row(row[0], *[f"{v:,.2f}" for v in row[1:]])
    return table


def _kept_table(result: fg.Futures) -> Table:
    years = sorted(set(result.dates.year))
    table = Table(title=f"{len(result.kept)} futures kept by k-medoids (of "
                  f"{len(result.names)})", title_justify="left")
    table.add_column("future")
    table.add_column("probability", justify="right")
    for y in years:
        table.add_column(f"mean {y}", justify="right")
    for j, i in enumerate(result.kept):
        means = [result.hashprice[i, result.dates.year == y].mean() for y in years]
        table.add_row(result.names[i], f"{result.probability[j]:.3f}",
                      *[f"{m:,.2f}" for m in means])
    return table


def _calibration_table(result: fg.Futures) -> Table:
    cal = result.calibration
    start = result.dates[0]
    table = Table(title="Calibration (docs/futures.md)", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("growth months fitted", f"{cal.window[0]} .. {cal.window[1]} ({cal.n_months})"),
        ("lag L (months)", f"{cal.lag_months}"),
        ("elasticity b (per month)", f"{cal.b_per_month:.5f}"),
        ("growth at reference a (per month)", f"{cal.a_per_month:.5f}"),
        ("reference decline kappa (per year)", f"{cal.kappa_per_year:.5f}"),
        ("regression intercept alpha", f"{cal.alpha:.5f}"),
        ("R^2 / residual sd (per month)", f"{cal.r2:.3f} / {cal.resid_sd:.4f}"),
        ("SSE by lag 1..12", " ".join(f"{s:.3f}" for s in cal.sse_by_lag)),
        (f"hp_ref {sample.BASE_DATE:%Y-%m-%d} (subsidy only)", f"{cal.hp_ref_base:.2f}"),
        (f"hp_ref {start:%Y-%m-%d} (subsidy only)", f"{cal.hp_ref(start):.2f}"),
        ("fee share of rewards (2023-24 mean)", f"{cal.fee_share:.4f}"),
        ("P0 (USD/BTC) / H0 (PH/s)", f"{cal.p0:,.2f} / {cal.h0:,.0f}"),
        ("real log-return mean / vol (per year)",
         f"{cal.return_mean_per_year:.4f} / {cal.return_vol_per_year:.4f} "
         f"({cal.n_returns} days)"),
        ("BTC start / drift / vol used", f"{result.settings['btc_price']:,.2f} / "
         f"{result.settings['btc_drift']:g} / {result.settings['btc_vol']:.4f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def futures(
    n: Annotated[int, typer.Option("--futures", help="Number of paths generated.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed of numpy's default_rng: the "
                                      "same seed writes the same file.")] = 0,
    start: Annotated[str, typer.Option("--start", help="First month of the horizon, "
                                       "YYYY-MM (2024-05 or later).")] = "2027-01",
    months: Annotated[int, typer.Option("--months", help="Horizon length in calendar "
                                        "months.")] = 36,
    out: Annotated[Path, typer.Option("--out", help="Futures Parquet; <stem>.toml and "
                                      "<stem>.png are written beside it.")]
    = Path("futures.parquet"),
    gpu_price: Annotated[float | None, typer.Option(
        "--gpu-price", help="Add GPU-hour price paths starting at this USD/GPU-hour.")] = None,
    gpu_drift: Annotated[float, typer.Option(
        "--gpu-drift", help="Median yearly change of the GPU-hour price.")]
    = fg.GPU_DRIFT_PER_YEAR,
    gpu_vol: Annotated[float, typer.Option(
        "--gpu-vol", help="Lognormal volatility of the GPU-hour price, per sqrt(year).")]
    = fg.GPU_VOL_PER_YEAR,
    btc_price: Annotated[float | None, typer.Option(
        "--btc-price", help="BTC price (USD) at the horizon start (default: the sample's P0, "
        "the 2024-04-21..27 mean).", show_default=False)] = None,
    btc_drift: Annotated[float, typer.Option(
        "--btc-drift", help="Log drift of the BTC price per year after de-meaning the real "
        "returns (0: the median stays at the start price).")] = fg.BTC_DRIFT_PER_YEAR,
    btc_vol: Annotated[float | None, typer.Option(
        "--btc-vol", help="Rescale the real returns to this yearly volatility (default: "
        "the real 2013-2023 one, about 0.91).", show_default=False)] = None,
    reduce: Annotated[int | None, typer.Option(
        "--reduce", help="Keep K representative futures (k-medoids) with probabilities.")]
    = None,
    raw: Annotated[Path | None, typer.Option(
        "--raw", help="Raw data folder (default: $OPTIM_RAW_DIR or ../shared/data/raw).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing output "
                                        "files.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Print the calibrated "
                                          "numbers.")] = False,
) -> None:
    """Hashprice futures from real history (a model of uncertainty, not a forecast).

    Writes the Parquet, a futures TOML snippet and a fan chart (see docs/futures.md).
    """
    console = Console(markup=False, highlight=False)
    try:
        fg.check_request(n, start, months, reduce, gpu_price, btc_price, btc_vol, gpu_vol,
                         gpu_drift, btc_drift, seed)
        paths = output_paths(out)
        raw_dir = raw if raw is not None else sample.default_raw_dir()
        fg.raw_paths(raw_dir)
        _check_outputs(paths, force)
        result = fg.generate(raw_dir, n=n, seed=seed, start=start, months=months,
                             gpu_price=gpu_price, reduce=reduce, btc_price=btc_price,
                             btc_drift=btc_drift, btc_vol=btc_vol, gpu_drift=gpu_drift,
                             gpu_vol=gpu_vol)
        toml_text = result.toml(paths["parquet"].name)
        _write_all({
            paths["parquet"]: lambda tmp: _write_parquet(result, tmp),
            paths["toml"]: lambda tmp: tmp.write_text(toml_text, encoding="utf-8"),
            paths["png"]: lambda tmp: _save_plot(result, tmp),
        })
    except Exception as exc:  # noqa: BLE001
        raise cli_module()._fail(exc) from None

    console.print(_fan_table(result))
    if len(result.kept) < len(result.names):
        console.print(_kept_table(result))
    cal = result.calibration
    console.print(
        f"hashrate response: L = {cal.lag_months} month(s), b = {cal.b_per_month:.4f}/month, "
        f"a = {cal.a_per_month:.4f}/month (kappa {cal.kappa_per_year:.3f}/year); fee share "
        f"{cal.fee_share:.3f}; commit_months {result.commit_months}")
    if verbose:
        console.print(_calibration_table(result))
        median_end = float(np.median(result.btc_price[:, -1]))
        console.print(f"BTC price on {result.dates[-1]:%Y-%m-%d}: median {median_end:,.0f} "
                      f"USD; hashrate median {np.median(result.hashrate[:, -1]) / 1e3:,.0f} "
                      "EH/s")
    for path in paths.values():
        console.print(f"wrote {path}")

