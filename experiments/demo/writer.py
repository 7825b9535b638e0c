"""Writing the demo dataset: the CSV files, then the manifest and ``.complete`` last, swapped in atomically.

See docs/demo-data.md, "Atomic, idempotent writing": an intact dataset of the same seed and span is kept as it
is; anything else that is ours is regenerated in a hidden sibling folder and renamed into place; a folder holding
anything that is not ours is refused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl

from experiments.atomic import publish_folder, sibling_pid, temp_sibling
from experiments.demo.generate import DemoFrames, generate_demo
from experiments.demo.layout import (
    COMPLETE_MARKER,
    DATA_FILES,
    MANIFEST_FILE,
    OUTAGES_FILE,
    STRIKES_FILE,
    WEAPONS_FILE,
    WEATHER_FILE,
)
from experiments.demo.manifest import DemoManifest, FileEntry, file_sha256, read_manifest
from experiments.demo.params import DEFAULT_END, DEFAULT_SEED, DEFAULT_START


def _write_csv(frame: pl.DataFrame, root: Path, name: str, float_precision: int | None = None) -> FileEntry:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, float_precision=float_precision, date_format="%Y-%m-%d")
    return FileEntry(rows=frame.height, bytes=path.stat().st_size, sha256=file_sha256(path))


def _write_all(frames: DemoFrames, root: Path, seed: int, start: date, end: date) -> DemoManifest:
    files = {
        STRIKES_FILE: _write_csv(frames.events, root, STRIKES_FILE),
        WEAPONS_FILE: _write_csv(frames.weapons, root, WEAPONS_FILE),
        WEATHER_FILE: _write_csv(frames.weather, root, WEATHER_FILE, float_precision=2),
        OUTAGES_FILE: _write_csv(frames.outages, root, OUTAGES_FILE),
    }
    n_missing = frames.truth.height - frames.outages.height
    manifest = DemoManifest(seed=seed, start=start, end=end, files=files, missing_region_days=n_missing)
    text = manifest.to_json()
    (root / MANIFEST_FILE).write_text(text, encoding="utf-8")
    (root / COMPLETE_MARKER).write_text(hashlib.sha256(text.encode()).hexdigest() + "\n", encoding="utf-8")
    return manifest


# Hidden sibling kinds of ``out_dir``: the folder being written, and the previous dataset while it is swapped out.
_TEMP_KINDS = ("partial", "old")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale_temps(root: Path) -> None:
    """Remove ``.<name>.partial-<pid>-<n>`` / ``.<name>.old-<pid>-<n>`` folders left by processes that are gone.

    Siblings of other names, and those of a live process (a concurrent writer), are left alone.
    """
    prefixes = tuple(f".{root.name}.{kind}-" for kind in _TEMP_KINDS)
    for sibling in root.parent.iterdir():
        pid = sibling_pid(sibling) if sibling.name.startswith(prefixes) else None
        if pid is not None and sibling.is_dir() and not _pid_alive(pid):
            shutil.rmtree(sibling, ignore_errors=True)


def _replaceable(root: Path) -> bool:
    """True when ``root`` is absent, empty, or an earlier demo dataset (never someone else's folder)."""
    if not root.exists():
        return True
    if not root.is_dir():
        return False
    ours = set(DATA_FILES) | {name.split("/")[0] for name in DATA_FILES}
    return all(p.relative_to(root).as_posix() in ours for p in root.rglob("*"))


def write_demo_data(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
) -> DemoManifest:
    """Write the demo dataset into ``out_dir`` atomically and return its manifest.

    The files are written into a hidden sibling ``.<name>.partial-<pid>-<n>`` and swapped into place by the
    shared helper :func:`experiments.atomic.publish_folder`, so an interrupted run never leaves a half-written
    ``out_dir`` (stale partial folders of dead processes are swept).
    If ``out_dir`` already holds an intact dataset of this generator version with the same seed and span, its
    manifest is returned and nothing is rewritten. An existing ``out_dir`` holding anything other than demo
    files is refused with ``FileExistsError`` rather than replaced.
    """
    root = Path(out_dir).absolute()
    existing = read_manifest(root)
    if existing is not None and (existing.seed, existing.start, existing.end) == (seed, start, end):
        return existing
    if not _replaceable(root):
        raise FileExistsError(f"{root}: exists and is not a gridcast demo dataset; refusing to replace it")
    frames = generate_demo(seed, start, end)
    root.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temps(root)
    tmp = temp_sibling(root, "partial")
    try:
        manifest = _write_all(frames, tmp, seed, start, end)
        publish_folder(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return replace(manifest, out_dir=root)
