"""Where the project's folders are: a checkout (editable install or working directory) or
an installed package used from any folder."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SAMPLE_SCENARIO = Path("data") / "sample" / "scenario.toml"
PACKAGED_SCENARIO = "sample_scenario.toml"  # optim/sample_scenario.toml: the same file
OUTSIDE_SAMPLE_DIR = "optim-sample"  # `optim sample`'s folder outside a checkout
PACKAGE_DIR = Path(__file__).resolve().parent  # an editable install: inside the checkout


def checkout_root() -> Path | None:
    """The checkout holding data/sample/scenario.toml: the working directory or a parent
    of it, else the folder above this package (an editable install); None for an
    installed package used outside a checkout."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / SAMPLE_SCENARIO).is_file():
            return folder
    above = PACKAGE_DIR.parent
    return above if (above / SAMPLE_SCENARIO).is_file() else None


def repo_root() -> Path:
    """The checkout (see `checkout_root`), else the working directory."""
    return checkout_root() or Path.cwd().resolve()


def default_raw_dir() -> Path:
    """Public raw data: `$OPTIM_RAW_DIR`, else `<checkout>/../shared/data/raw` (outside a
    checkout: `../shared/data/raw` of the working directory)."""
    env = os.environ.get("OPTIM_RAW_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return (repo_root().parent / "shared" / "data" / "raw").resolve()


def default_sample_dir() -> Path:
    """Where `optim sample` writes by default: the checkout's data/sample/generated
    (git-ignored), else `./optim-sample` (never inside the installed package)."""
    root = checkout_root()
    if root is None:
        return (Path.cwd() / OUTSIDE_SAMPLE_DIR).resolve()
    return root / "data" / "sample" / "generated"


def checkout_sample_dir() -> Path | None:
    """The checkout's data/sample/generated (its scenario.toml is one folder up)."""
    root = checkout_root()
    return None if root is None else (root / "data" / "sample" / "generated").resolve()


def sample_scenario_text() -> str:
    """The bundled sample scenario (package data; in a checkout a link to
    data/sample/scenario.toml, so there is one copy)."""
    return resources.files("optim").joinpath(PACKAGED_SCENARIO).read_text(encoding="utf-8")
