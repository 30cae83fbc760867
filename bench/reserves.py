"""The cost of reserves: the sample portfolio solved with and without its reserve offers.

    python bench/reserves.py [--repeats 3] [--out bench/RESERVES.md]

"Without" is the sample scenario with every `[[reserve]]` product, every site's `reserves`
and `[data] reserve_prices` removed (the model of MODEL.md §1-6). Each variant runs the
real command `python cli.py solve SCENARIO --out DIR -q` in a subprocess (bench/run.py's
`measure`); the table gives medians over the repeats of the wall time and of each phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import re
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SAMPLE = BENCH.parent / "data" / "sample" / "scenario.toml"
PHASES = ("read_s", "prepare_s", "build_s", "solve_s", "resolve_s", "total_s")
TARGET_RATIO = 1.3
NOTES = [
    "Where the time goes (measured while writing this benchmark):",
    "",
    "* The hourly re-solve: one offer variable per (product, ASIC model, hour) and their rows "
    "took it from 3.4 s to 9.1 s. Pooling the offers of hours where no product of the site is "
    "deployed, and offering nothing where a product pays nothing (both exact; see "
    "models/reserves.py), brought it to about 5.9 s (ratio 1.46). The pooled offers (3 per "
    "hour at Pecos and Amarillo) and their backing row remain; what they cost was mostly "
    "Pyomo's: its standard-form compiler walked every row again (about 40 % of a site's "
    "re-solve), and the result tables compared every ledger entry's name once per flow.",
    "* General changes then cut both runs: HiGHS gets the rows the Core recorded while "
    "building them (optim/standard_form.py, the `direct_handoff` lever; Pecos's hand-off "
    "1.06 s -> 0.06 s), the tables sum the ledgers per segment (Pecos 0.54 s -> 0.10 s), "
    "the largest site (steps times flows) starts first, variable bounds are set in one pass "
    "and rows are built from plain lists (Pecos's build 1.8 s -> 1.4 s). On the five-site "
    "sample the ratio fell to 1.09-1.29 (three and five repeats).",
    "* The six-site sample (AI deals added: the same sites plus Abilene, a tenant profile, "
    "cloud and upgrade options) measures 1.28-1.39 over five runs: the reserve-specific work "
    "left is the offer variables and backing rows of Pecos and Amarillo (about +2 s of "
    "Pyomo build and +1 s of HiGHS in the re-solve's work, against 3.4 s of work without "
    "reserves), so the ratio depends on how the two workers share it. Meeting 1.3 reliably "
    "needs the re-solve reworked (issue 16: windows, or one model re-used), not more "
    "reserve-specific cuts: every remaining offer and row is needed.",
    "* The blocks:12 investment MIP: with reserves HiGHS spent about 5 s in its root cut "
    "loop before its heuristics met the 0.5 % gap (0.28 s with another random seed). A "
    "warm start from a blocks:2 plan (the `warm_start` lever, now for every blocks:K MIP "
    "with K > 2) brings it to about 0.3 s, as without reserves.",
    "* The re-solve reworked (issue 16) then took the reserve work off the critical path: "
    "rows as Pyomo MatrixConstraint components built from the recorded arrays (a site's "
    "build 2.4x faster), each site's LP solved block by block (its independent windows of "
    "hours: the offers' hours, months with a monthly commitment, hosting contract blocks) "
    "with HiGHS presolve off, and one process unless the work repays forking. Both runs got "
    "faster and with reserves is no longer slower: the variants' re-solves differ by how "
    "their blocks and workers fall, not by the offers.",
]


def _run_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


def without_reserves(text: str, data_dir: Path) -> str:
    """The sample scenario's text without reserves, its data paths made absolute."""
    text = re.sub(r"\n\[\[reserve\]\]\n(?:[^\n\[]+\n)*", "\n", text)
    text = re.sub(r"\nreserves = \[.*?\]\s*(#[^\n]*)?\n", "\n", text, flags=re.S)
    text = re.sub(r"\nreserve_prices = [^\n]*\n", "\n", text)
    return text.replace('"generated/', f'"{data_dir}/generated/')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "RESERVES.md")
    args = parser.parse_args()
    run = _run_module()
    work = BENCH / ".work" / "reserves"
    work.mkdir(parents=True, exist_ok=True)
    plain = work / "sample_without_reserves.toml"
    plain.write_text(without_reserves(SAMPLE.read_text(), SAMPLE.parent))
    rows = {}
    for label, scenario in (("with reserves", SAMPLE), ("without reserves", plain)):
        runs = [run.measure(scenario, work / f"out-{i}", timeout_s=600)
                for i in range(args.repeats)]
        failed = [r for r in runs if r["status"] != "ok"]
        if failed:
            sys.exit(f"{label}: {failed[0]['status']}: {failed[0]['stderr']}")
        rows[label] = {k: statistics.median(r[k] for r in runs)
                       for k in ("wall_s", *PHASES, "npv_usd", "variables", "constraints")}
        print(label, rows[label], flush=True)
    ratio = rows["with reserves"]["wall_s"] / rows["without reserves"]["wall_s"]
    lines = [
        "# Reserves: the sample with and without its offers",
        "",
        f"Written by `python bench/reserves.py` on {dt.date.today()} (medians of "
        f"{args.repeats}, whole command, 2 cores).",
        "",
        "| variant | wall s | " + " | ".join(PHASES) + " | variables | constraints | NPV (USD) |",
        "| --- " * (len(PHASES) + 5) + "|",
    ]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['wall_s']:.2f} | " +
                     " | ".join(f"{r[k]:.2f}" for k in PHASES) +
                     f" | {r['variables']:,.0f} | {r['constraints']:,.0f} | {r['npv_usd']:,.0f} |")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    lines += ["", f"Ratio with / without: {ratio:.2f} (target <= {TARGET_RATIO}): {verdict}.", "",
              *NOTES, ""]
    args.out.write_text("\n".join(lines))
    print(f"ratio {ratio:.2f}: {verdict}; wrote {args.out}")


if __name__ == "__main__":
    main()
