"""Where optim may write: the one rule every command's output folder follows.

* optim writes only into a folder that is new (or empty), or that optim wrote before: it
  carries the marker file `.optim-results` (JSON: tool, version, kind, created, updated,
  the files optim wrote), or (written before the marker existed) holds nothing but the
  files that command writes *and* its signature file shows they are optim's
  (`LEGACY_SIGNATURES`: results -> summary.json, a JSON object with the keys "scenario",
  "status" and "npv_usd"; sweep -> summary.parquet with columns case_id, case, status;
  sample -> prices.parquet with columns timestamp, node, price_usd_per_mwh; headroom ->
  headroom.parquet with columns ba, limit_pct, headroom_mw; any other kind: never). A
  folder holding only, say, a user's `summary.json` or `optim.log` is therefore foreign;
* there it replaces only its own files (the marker's list) and leaves everything else;
* any other existing folder is refused (exit 2) unless `--force`, which writes optim's
  files into it, deletes nothing and still refuses to overwrite a file optim did not write;
* a regular file where a folder should be, or a location that is not writable (a folder
  whose write bits are off counts as read-only, even for root), is refused (exit 2);
* results are staged in a hidden sibling `.NAME.tmp-XXXXXXXX` (marked first, so a killed
  run's leftover is recognisable) and moved into place: a folder holding only optim's files
  is swapped whole (old -> `.NAME.old-XXXXXXXX`, stage -> NAME), otherwise each file is
  `os.replace`d, so a failed run leaves the earlier results as they were;
* hidden `.NAME.tmp-*` / `.NAME.old-*` folders of earlier killed runs are removed when
  their marker says optim wrote them and their process is gone; anything else is kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from optim.errors import InputError, OptimError

MARKER = ".optim-results"
TOOL = "optim"
RESULTS_FILES = frozenset({"summary.json", "investments.parquet", "monthly.parquet",
                           "cashflow.parquet", "report.html", "report.xlsx",
                           "futures.parquet",
                           "hourly.parquet", "optim.log"})
_HEX = r"[0-9a-f]{8}"
# kind -> (signature file, keys or columns it must carry): how a folder written before the
# marker existed is recognised as optim's (see the module's rule)
LEGACY_SIGNATURES: dict[str, tuple[str, frozenset[str]]] = {
    "results": ("summary.json", frozenset({"scenario", "status", "npv_usd"})),
    "sweep": ("summary.parquet", frozenset({"case_id", "case", "status"})),
    "sample": ("prices.parquet", frozenset({"timestamp", "node", "price_usd_per_mwh"})),
    "headroom": ("headroom.parquet", frozenset({"ba", "limit_pct", "headroom_mw"})),
}
_LEGACY_JSON_MAX_BYTES = 16 * 1024 * 1024
_STALE_TEMP_FILE_S = 3600.0  # an in-folder `.FILE.tmp-*` older than this is a leftover


class OutputError(OptimError):
    """The output location is refused: nothing was solved or written (exit 2)."""

    exit_code = 2


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("optim")
    except Exception:  # noqa: BLE001 (not installed: run from a checkout)
        return "unknown"


# ------------------------------------------------------------------------ folder names


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a single folder name (None when it can)."""
    if not name or not name.strip():
        return "is empty"
    if name in (".", ".."):
        return f"{name!r} is not a folder name"
    seps = {"/", "\\", os.sep, *([os.altsep] if os.altsep else [])}
    if any(s in name for s in seps):
        return f"{name!r} contains a path separator ('/' or '\\')"
    if name.startswith("."):
        return f"{name!r} starts with '.' (a hidden folder)"
    if name != name.strip():
        return f"{name!r} starts or ends with white space"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"{name!r} contains a control character"
    if len(name.encode()) > 200:
        return "is longer than 200 bytes"
    return None


def check_folder_name(name: str, field_name: str, source: str, hint: str = "") -> None:
    """Raise InputError (exit 2) naming `field_name` when `name` cannot name a folder."""
    problem = name_problem(name)
    if problem is not None:
        raise InputError(f"{field_name}: {problem}: it names the output folder, so it must "
                         f"be one plain folder name{hint}", source)


# ---------------------------------------------------------------------------- markers


def read_marker(folder: Path) -> dict | None:
    """The marker of `folder` when it is a valid optim marker, else None."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        return None
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        data["files"] = []
    return data


def _marker_payload(kind: str, files: Iterable[str], created: str | None = None,
                    stage: bool = False) -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    payload = {"tool": TOOL, "version": _version(), "kind": kind, "created": created or now,
               "updated": now, "files": sorted(set(files))}
    if stage:
        payload.update(pid=os.getpid(), host=socket.gethostname())
    return payload


def write_marker(folder: Path, kind: str, files: Iterable[str],
                 created: str | None = None, stage: bool = False) -> None:
    """Write the marker of `folder` atomically."""
    path = Path(folder) / MARKER
    tmp = path.with_name(f"{MARKER}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(json.dumps(_marker_payload(kind, files, created, stage), indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------- the check


def _writable(path: Path) -> bool:
    """`path` (an existing folder) may be written: permitted, and (even for root) not
    marked read-only by its mode."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if not os.access(path, os.W_OK | os.X_OK):
        return False
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return True


def _is_temp_of(entry: str, names: Iterable[str]) -> bool:
    """`entry` is the hidden temp file optim writes beside one of `names`."""
    return any(re.fullmatch(rf"\.{re.escape(n)}\.tmp-{_HEX}", entry) for n in names)


def _legacy_optims(folder: Path, kind: str, entries: Iterable[str]) -> bool:
    """A folder without a marker holding `entries` (all named like `kind`'s own files) was
    written by optim before the marker existed: its signature file (`LEGACY_SIGNATURES`)
    is a regular file that parses and carries optim's keys or columns."""
    if kind not in LEGACY_SIGNATURES:
        return False
    name, keys = LEGACY_SIGNATURES[kind]
    path = Path(folder) / name
    if name not in entries or path.is_symlink() or not path.is_file():
        return False
    try:
        if name.endswith(".json"):
            if path.stat().st_size > _LEGACY_JSON_MAX_BYTES:
                return False
            data = json.loads(path.read_text(encoding="utf-8"))
            found = set(data) if isinstance(data, dict) else set()
        else:
            import pyarrow.parquet as pq

            found = set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 (unreadable, not JSON, not Parquet: not optim's)
        return False
    return keys <= found


@dataclass
class Claim:
    """A checked output folder: where it is and what in it is optim's."""

    target: Path  # absolute, symlinks resolved
    kind: str
    own: frozenset[str]  # the files this command writes
    exists: bool
    previous: set[str] = field(default_factory=set)  # optim's files there now
    foreign: list[str] = field(default_factory=list)  # everything else there (kept)
    created: str | None = None


def check_folder(path: Path, kind: str, own: Iterable[str], force: bool = False,
                 label: str = "--out") -> Claim:
    """Check that optim may write `own` files into the folder `path` (see the module's
    rule); raise OutputError (exit 2) with what to do otherwise. Writes nothing."""
    shown = str(path)
    own = frozenset(own)
    target = resolved(path)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{label} {shown} is a file, not a folder: give the path of a new "
                          f"folder (optim writes a folder there), or move the file away")
    if not target.exists():
        ancestor = target.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OutputError(f"{label} {shown}: cannot create the folder, {ancestor} is a "
                              f"file")
        if not _writable(ancestor):
            raise OutputError(f"{label} {shown}: cannot create the folder, {ancestor} is not "
                              f"writable; choose another {label}")
        return Claim(target, kind, own, exists=False)
    if not _writable(target):
        raise OutputError(f"{label} {shown}: the folder is not writable (read-only); choose "
                          f"another {label} or make it writable")
    marker = read_marker(target)
    entries = [e.name for e in target.iterdir() if not _leftover(e, target, own)]
    entries = [e for e in entries if e != MARKER]
    if marker is not None and marker.get("kind") == kind:
        listed = set(marker["files"])
        previous = {e for e in entries if e in listed}
        created = marker.get("created")
    elif marker is not None:
        if not force:
            raise OutputError(f"{label} {shown} holds optim {marker.get('kind')} output, not "
                              f"{kind} output: choose another {label}, or pass --force to "
                              f"write into it anyway (nothing there is deleted)")
        previous, created = set(), None
    elif not entries:  # new or empty
        previous, created = set(), None
    elif all(e in own for e in entries) and _legacy_optims(target, kind, entries):
        previous, created = set(entries), None  # written before markers existed
    else:
        foreign = sorted(e for e in entries if e not in own)
        if not force:
            if not foreign:  # only optim's file names, but not recognisably optim's
                listed = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
                raise OutputError(f"{label} {shown} exists and was not written by optim (it "
                                  f"holds {listed}, named like optim's files but without its "
                                  f"marker or content): choose a new folder, or move those "
                                  f"files away (optim never overwrites them, even with "
                                  f"--force)")
            shown_list = ", ".join(f"{e}/" if (target / e).is_dir() else e
                                   for e in foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise OutputError(f"{label} {shown} exists and was not written by optim (it holds "
                              f"{shown_list}): choose a new folder, or pass --force to write "
                              f"optim's files into it (nothing else there is changed or "
                              f"deleted)")
        previous, created = set(), None
    foreign = sorted(e for e in entries if e not in previous)
    clash = sorted(e for e in foreign if e in own)
    if clash:
        raise OutputError(f"{label} {shown}: {', '.join(clash)} would be overwritten but was "
                          f"not written by optim; move or rename it first")
    return Claim(target, kind, own, True, previous, foreign, created)


# ------------------------------------------------------------------------- leftovers


def _process_gone(marker: dict) -> bool:
    """The stage's writer is not running (same host, pid gone) or is another host's."""
    pid, host = marker.get("pid"), marker.get("host")
    if not isinstance(pid, int) or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _leftover(entry: Path, folder: Path, own: Iterable[str]) -> bool:
    """`entry` (inside `folder`) is named like a hidden temp file of optim's own files or
    marker, or a stage folder."""
    return bool(re.fullmatch(rf"{re.escape(MARKER)}\.tmp-{_HEX}", entry.name)) or \
        _is_temp_of(entry.name, [*own, folder.name])


def clean_leftovers(target: Path, own: Iterable[str] = ()) -> list[Path]:
    """Remove what killed runs left: `.NAME.tmp-*` / `.NAME.old-*` folders beside (or
    inside) `target` whose marker is optim's and whose process is gone, and hidden
    `.FILE.tmp-*` files of optim's own files inside `target` older than an hour. Returns
    what was removed; anything not recognisably optim's is kept."""
    target = Path(target)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(tmp|old)-{_HEX}")
    removed = []
    places = [target.parent, target] if target.is_dir() else [target.parent]
    for place in places:
        try:
            entries = list(place.iterdir())
        except OSError:
            continue
        for entry in entries:
            if not pattern.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
                continue
            marker = read_marker(entry)
            if marker is None or (entry.name.split(".")[-1].startswith("tmp")
                                  and not _process_gone(marker)):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    if target.is_dir() and read_marker(target) is not None:
        now = time.time()
        for entry in target.iterdir():
            if entry.is_file() and not entry.is_symlink() and _leftover(entry, target, own) \
                    and now - entry.stat().st_mtime > _STALE_TEMP_FILE_S:
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


# --------------------------------------------------------------------------- writing


def _stage(claim: Claim) -> Path:
    """A new hidden stage folder, marked first: beside the target when its parent is
    writable, else inside the (existing) target."""
    parent = claim.target.parent
    parent.mkdir(parents=True, exist_ok=True)
    where = parent if _writable(parent) else claim.target
    stage = where / f".{claim.target.name}.tmp-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    write_marker(stage, claim.kind, [], stage=True)
    return stage


def commit(stage: Path, claim: Claim) -> Path:
    """Move the staged files into the claimed folder (see the module's rule)."""
    target = claim.target
    files = sorted(e.name for e in stage.iterdir() if e.name != MARKER)
    unknown = [f for f in files if f not in claim.own]
    if unknown:
        raise ValueError(f"staged files not declared as {claim.kind} output: {unknown}")
    write_marker(stage, claim.kind, files, claim.created)
    if not target.exists() and stage.parent == target.parent:
        os.replace(stage, target)
        return target
    now = {e.name for e in target.iterdir()} if target.exists() else set()
    if target.exists() and now <= claim.previous | {MARKER} and stage.parent == target.parent:
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        if read_marker(target) is None:
            write_marker(target, claim.kind, claim.previous)  # the old folder is recognisable
        try:
            os.replace(target, old)
        except OSError:
            pass  # e.g. a mount point: move file by file below
        else:
            os.replace(stage, target)
            shutil.rmtree(old, ignore_errors=True)
            return target
    target.mkdir(parents=True, exist_ok=True)
    last = [f for f in ("summary.json", "summary.parquet") if f in files]
    for name in [*(f for f in files if f not in last), *last]:
        os.replace(stage / name, target / name)
    for name in claim.previous - set(files):
        stale = target / name
        if stale.is_file() and not stale.is_symlink():
            stale.unlink(missing_ok=True)
    os.replace(stage / MARKER, target / MARKER)
    shutil.rmtree(stage, ignore_errors=True)
    return target


@contextmanager
def writing(path: Path, kind: str, own: Iterable[str], force: bool = False,
            label: str = "--out") -> Iterator[Path]:
    """Check `path`, clean its leftovers, and yield a stage folder to write `own` files
    into; on a clean exit they are moved into place, on an error nothing changes."""
    claim = check_folder(path, kind, own, force, label)
    clean_leftovers(claim.target, claim.own)
    stage = _stage(claim)
    try:
        yield stage
        commit(stage, claim)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def write_folder(path: Path, kind: str, own: Iterable[str], write: Callable[[Path], None],
                 force: bool = False, label: str = "--out") -> Path:
    """`write(stage)` writes the files; they replace optim's own files of `path`."""
    with writing(path, kind, own, force, label) as stage:
        write(stage)
    return resolved(path)


def resolved(path: Path) -> Path:
    """`path` as an absolute path, symlinks resolved (the folder optim writes)."""
    return Path(os.path.abspath(Path(path).expanduser())).resolve()


def claim_folder(path: Path, kind: str, own: Iterable[str], force: bool = False,
                 label: str = "--out") -> Path:
    """For a long-lived folder (a sweep's): check it, create it and mark it as optim's
    `kind` folder now; returns the folder."""
    claim = check_folder(path, kind, own, force, label)
    clean_leftovers(claim.target, claim.own)
    claim.target.mkdir(parents=True, exist_ok=True)
    write_marker(claim.target, kind, claim.own, claim.created)
    return claim.target
