"""The manifest of a written demo dataset: what was written, and whether a folder still holds it intact.

``manifest.json`` records the generator identity, seed, span and each file's rows, bytes and sha256, with no
timestamps, so equal manifests mean byte-identical datasets; :func:`read_manifest` accepts a folder only when the
manifest is this generator's, the ``.complete`` marker exists and every listed file matches its record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from experiments.demo.layout import COMPLETE_MARKER, MANIFEST_FILE
from experiments.demo.regions import REGION_NAMES

GENERATOR = "gridcast.experiments.demo"
GENERATOR_VERSION = "1"  # bump when a parameter or the output format changes, so old datasets are regenerated


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
        if not path.is_file() or path.stat().st_size != entry.bytes or file_sha256(path) != entry.sha256:
            return None
    return manifest
