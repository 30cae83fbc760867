"""Where the project's folders are, for an editable checkout or an installed package."""

from __future__ import annotations

import os
from pathlib import Path

SAMPLE_SCENARIO = Path("data") / "sample" / "scenario.toml"


def repo_root() -> Path:
    """The checkout holding data/sample: the working directory or a parent of it, else the
    folder above this package (an editable install)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / SAMPLE_SCENARIO).is_file():
            return folder
    return Path(__file__).resolve().parents[1]


def default_raw_dir() -> Path:
    """Public raw data: `$OPTIM_RAW_DIR`, else `<repo>/../shared/data/raw`."""
    env = os.environ.get("OPTIM_RAW_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return (repo_root().parent / "shared" / "data" / "raw").resolve()


def default_sample_dir() -> Path:
    """Where the sample's generated Parquet files go (git-ignored)."""
    return repo_root() / "data" / "sample" / "generated"
