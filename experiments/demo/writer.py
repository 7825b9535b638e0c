"""Writing the demo dataset: the CSV files, then the manifest and ``.complete`` last, swapped in atomically.

See docs/demo-data.md, "Atomic, idempotent writing": an intact dataset of the same seed and span is kept as it
is; anything else that is ours is regenerated in a hidden sibling folder and renamed into place; a folder holding
anything that is not ours is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale_temps(root: Path) -> None:
    """Remove ``.<name>.partial-<pid>-*`` / ``.<name>.old-<pid>-*`` siblings left by processes that are gone."""
    pattern = re.compile(rf"^\.{re.escape(root.name)}\.(?:partial|old)-(\d+)-")
    for sibling in root.parent.glob(f".{root.name}.*"):
        match = pattern.match(sibling.name)
        if match and sibling.is_dir() and not _pid_alive(int(match.group(1))):
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

    The files are written into a hidden sibling ``.<name>.partial-<pid>-<n>`` and renamed into place, so an
    interrupted run never leaves a half-written ``out_dir`` (stale partial folders of dead processes are swept).
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
    tmp = _unique_sibling(root, "partial")
    try:
        manifest = _write_all(frames, tmp, seed, start, end)
        _swap_into_place(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return replace(manifest, out_dir=root)


def _unique_sibling(root: Path, kind: str) -> Path:
    for n in range(1000):
        candidate = root.parent / f".{root.name}.{kind}-{os.getpid()}-{n}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{root.parent}: could not create a temporary folder for {root.name}")


def _swap_into_place(tmp: Path, root: Path) -> None:
    """Rename ``tmp`` to ``root``; an old dataset at ``root`` is moved aside first and deleted after."""
    if root.exists() and any(root.iterdir()):
        old = _unique_sibling(root, "old")
        old.rmdir()
        os.replace(root, old)
        os.replace(tmp, root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, root)
