"""Deterministic synthetic demo data, written in the raw shapes of the real sources.

``generate_demo`` simulates a national strike log, regional weather and regional outage hours from a seeded,
documented process (docs/demo-data.md); ``write_demo_data`` writes them as the files the real readers parse:

- ``strikes/missile_attacks_daily.csv``: the 22 columns of the real Air Force event log, newest first;
- ``strikes/missiles_and_uavs.csv``: the 12 columns of the real weapon lookup, one row per model used;
- ``weather/derived_daily_24_cities.csv``: ``date, city, n_hours, t_mean, t_min, t_max`` (Kyiv dates);
- ``outages/outage_hours_daily.csv``: ``date, region, hours_off`` with a fixed number of region-days absent;
- ``manifest.json`` (generator, seed, span, per-file rows and sha256) and the ``.complete`` marker, last.

Synthetic data serve the demo and property tests only; real files stay in ``../shared/data``. The same seed and span
give byte-identical files. Every random component draws from its own child stream of ``SeedSequence(seed)``, so
changing one component never shifts another.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from experiments.demo.calendar import kyiv_day_hours
from experiments.demo.layout import (
    COMPLETE_MARKER,
    MANIFEST_FILE,
    OUTAGES_FILE,
    STRIKES_FILE,
    WEAPONS_FILE,
    WEATHER_COLUMNS,
    WEATHER_FILE,
)
from experiments.demo.outages import damage_stock, gap_mask, outage_hours, outage_noise
from experiments.demo.params import (
    DEFAULT_END,
    DEFAULT_SEED,
    DEFAULT_START,
    MIN_SPAN_DAYS,
)
from experiments.demo.regions import REGION_NAMES, REGIONS
from experiments.demo.streams import spawn_streams
from experiments.demo.strikes import simulate_strikes
from experiments.demo.weapons import weapons_frame
from experiments.demo.weather import heating_degree_days, simulate_weather

GENERATOR = "gridcast.experiments.demo"
GENERATOR_VERSION = "1"


# --------------------------------------------------------------------------------------------------------------
# Public results
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoFrames:
    """Everything ``generate_demo`` produces: the four raw tables as written plus the hidden truth.

    - ``events``: the strike event log, 22 String columns in the real order (nulls are empty cells), newest first;
    - ``weapons``: the weapon lookup, 12 String columns;
    - ``weather``: ``date`` (Date), ``city``, ``n_hours`` (Int64), ``t_mean``/``t_min``/``t_max`` (Float64, °C);
    - ``outages``: ``date`` (Date), ``region``, ``hours_off`` (Float64) — observed rows only;
    - ``strikes_daily``: per date, ``launched_uav``, ``destroyed_uav``, ``launched_missile``,
      ``destroyed_missile`` (Int64), ``strike_units`` s_t (Float64), ``burst`` (Boolean);
    - ``truth``: per (region, date), ``strike_units``, ``damage`` D_t, ``t_mean``, ``hdd``, ``hours_off``
      (complete, before gaps) and ``observed`` (False for the absent rows);
    - ``cold_snaps``: ``start``, ``end`` (Date, inclusive), ``depth_c``.
    """

    events: pl.DataFrame
    weapons: pl.DataFrame
    weather: pl.DataFrame
    outages: pl.DataFrame
    strikes_daily: pl.DataFrame
    truth: pl.DataFrame
    cold_snaps: pl.DataFrame


@dataclass(frozen=True)
class FileEntry:
    """One written file: data rows (header excluded), byte size and sha256 hex digest."""

    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class DemoManifest:
    """What ``write_demo_data`` wrote; equal manifests mean byte-identical datasets."""

    seed: int
    start: date
    end: date
    files: dict[str, FileEntry]
    missing_region_days: int
    regions: tuple[str, ...] = REGION_NAMES
    generator: str = GENERATOR
    version: str = GENERATOR_VERSION
    out_dir: Path | None = field(default=None, compare=False)

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, trailing newline); no timestamps, so it is reproducible."""
        doc = {
            "generator": self.generator,
            "version": self.version,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "regions": list(self.regions),
            "missing_region_days": self.missing_region_days,
            "files": {name: {"rows": e.rows, "bytes": e.bytes, "sha256": e.sha256} for name, e in self.files.items()},
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, out_dir: Path | None = None) -> DemoManifest:
        """Parse ``to_json`` output; raises ``ValueError``/``KeyError``/``TypeError`` on a malformed document."""
        doc = json.loads(text)
        files = {name: FileEntry(int(e["rows"]), int(e["bytes"]), str(e["sha256"])) for name, e in doc["files"].items()}
        return cls(
            seed=int(doc["seed"]),
            start=date.fromisoformat(doc["start"]),
            end=date.fromisoformat(doc["end"]),
            files=files,
            missing_region_days=int(doc["missing_region_days"]),
            regions=tuple(doc["regions"]),
            generator=str(doc["generator"]),
            version=str(doc["version"]),
            out_dir=out_dir,
        )


# --------------------------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------------------------


def _long(dates: list[date], values: dict[str, np.ndarray]) -> pl.DataFrame:
    """Region-major long frame (sorted by region, date) from (days × regions) arrays."""
    n, k = len(dates), len(REGIONS)
    cols: dict[str, Any] = {
        "region": np.repeat(np.array(REGION_NAMES), n),
        "date": pl.Series("date", dates * k, dtype=pl.Date),
    }
    cols.update({name: arr.T.ravel() for name, arr in values.items()})
    return pl.DataFrame(cols)


def _check_span(seed: int, start: date, end: date) -> list[date]:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"demo seed must be a non-negative int, got {seed!r}")
    n = (end - start).days + 1
    if n < MIN_SPAN_DAYS:
        raise ValueError(f"demo span {start}..{end} has {n} days; need at least {MIN_SPAN_DAYS}")
    return [start + timedelta(days=i) for i in range(n)]


def generate_demo(seed: int = DEFAULT_SEED, start: date = DEFAULT_START, end: date = DEFAULT_END) -> DemoFrames:
    """Simulate the demo dataset for Kyiv dates ``start``..``end`` (inclusive); pure, no I/O, deterministic."""
    dates = _check_span(seed, start, end)
    seeds = spawn_streams(seed)
    events, strikes_daily = simulate_strikes(seeds, dates)

    units = strikes_daily["strike_units"].to_numpy()
    damage = damage_stock(units, np.array([r.exposure for r in REGIONS]))
    t_mean, t_min, t_max, snaps = simulate_weather(seeds, dates)
    hdd = heating_degree_days(t_mean)
    hours = outage_hours(damage, hdd, outage_noise(seeds["outage_noise"], len(dates)))
    missing = gap_mask(seeds["gaps"], len(dates))

    n_hours = np.array([kyiv_day_hours(d) for d in dates])[:, None].repeat(len(REGIONS), axis=1)
    weather = _long(dates, {"n_hours": n_hours, "t_mean": t_mean, "t_min": t_min, "t_max": t_max})
    weather = weather.rename({"region": "city"}).select(WEATHER_COLUMNS).with_columns(pl.col("n_hours").cast(pl.Int64))
    truth = _long(
        dates,
        {
            "strike_units": np.repeat(units[:, None], len(REGIONS), axis=1),
            "damage": damage,
            "t_mean": t_mean,
            "hdd": hdd,
            "hours_off": hours,
            "observed": ~missing,
        },
    )
    outages = (
        truth.filter(pl.col("observed"))
        .select("date", "region", "hours_off")
        .sort("date", "region", maintain_order=True)
    )
    cold_snaps = pl.DataFrame(
        {"start": [s[0] for s in snaps], "end": [s[1] for s in snaps], "depth_c": [s[2] for s in snaps]},
        schema={"start": pl.Date, "end": pl.Date, "depth_c": pl.Float64},
    )
    return DemoFrames(events, weapons_frame(), weather, outages, strikes_daily, truth, cold_snaps)


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_csv(frame: pl.DataFrame, root: Path, name: str, float_precision: int | None = None) -> FileEntry:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, float_precision=float_precision, date_format="%Y-%m-%d")
    return FileEntry(rows=frame.height, bytes=path.stat().st_size, sha256=_sha256(path))


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


def read_manifest(out_dir: str | Path) -> DemoManifest | None:
    """The manifest of a complete, intact demo dataset in ``out_dir``, or None (missing, foreign or corrupt)."""
    root = Path(out_dir)
    try:
        manifest = DemoManifest.from_json((root / MANIFEST_FILE).read_text(encoding="utf-8"), out_dir=root)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if manifest.generator != GENERATOR or manifest.version != GENERATOR_VERSION:
        return None
    if not (root / COMPLETE_MARKER).is_file():
        return None
    for name, entry in manifest.files.items():
        path = root / name
        if not path.is_file() or path.stat().st_size != entry.bytes or _sha256(path) != entry.sha256:
            return None
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
    files = (STRIKES_FILE, WEAPONS_FILE, WEATHER_FILE, OUTAGES_FILE, MANIFEST_FILE, COMPLETE_MARKER)
    ours = set(files) | {name.split("/")[0] for name in files}
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
