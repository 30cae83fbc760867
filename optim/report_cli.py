"""`optim report`: the HTML report (and optionally the Excel workbook) of a results folder
or a sweep folder (docs/report.md). Register it with `app.command()(report)`.

A thin typer command: `optim.report_html` renders and writes, `optim.workbook` writes the
workbook. Errors are reported as every command does (`error (exit N): ...`, via
`cli._fail`): a folder that is not optim's results or sweep folder, or one from an
incompatible version, and a refused output path exit 2. Both outputs are checked and the
page rendered before anything is written; the page is staged beside its target and moved
into place only once the workbook (if asked for) is written, so a failure leaves no
half-written file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from optim.headroom_cli import cli_module


def report(
    results_dir: Annotated[Path, typer.Argument(
        help="Results folder of `optim solve`, or a sweep folder (sweeps/NAME).")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="HTML file to write (default: RESULTS_DIR/report.html).",
        show_default=False)] = None,
    xlsx: Annotated[Path | None, typer.Option(
        "--xlsx", help="Also write the Excel workbook to this .xlsx file.",
        show_default=False)] = None,
) -> None:
    """Write a self-contained HTML report of a results or sweep folder (opens offline).

    With --xlsx, also the Excel workbook of the same folder.
    """
    from optim import report_html
    from optim.results_folder import load

    console = Console(markup=False, highlight=False, soft_wrap=True)
    written: list[Path] = []
    try:
        folder = load(results_dir)
        page = report_html.check_report_path(
            out if out is not None else folder.path / report_html.REPORT_NAME)
        if xlsx is not None and xlsx.resolve() == page.resolve():
            raise report_html.OutputError(f"--xlsx {xlsx} and --out {page} are the same file")
        text = report_html.render(folder)
        tmp = report_html.stage_html(text, page)
        try:
            if xlsx is not None:
                from optim.workbook import write_workbook

                written.append(Path(write_workbook(folder, xlsx)))
            written.insert(0, report_html.place(tmp, page))
        finally:
            tmp.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001
        raise cli_module()._fail(exc) from None
    for path in written:
        console.print(f"wrote {path}")
