"""Build the sample portfolio's Parquet inputs from the raw data.

Usage: python data/build_sample.py [--raw DIR] [--out DIR]
Defaults: --raw from optim.sample.default_raw_dir() ($OPTIM_RAW_DIR or
../shared/data/raw), --out data/sample/generated (git-ignored).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from optim.sample import build_sample, default_out_dir, default_raw_dir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, build the sample, print the written files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=None, help="raw-data folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (created if missing)",
    )
    args = parser.parse_args(argv)
    raw = args.raw if args.raw is not None else default_raw_dir()
    out = args.out if args.out is not None else default_out_dir()
    try:
        written = build_sample(raw, out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
