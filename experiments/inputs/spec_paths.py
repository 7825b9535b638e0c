"""Where a spec may read files from: its own folder, the project folder, and the folders it lists.

A relative path in a spec is resolved against the working directory the job runs in (a cron line ``cd``-s to the
project first), as every file a spec names always was. After resolving it, symbolic links included, the file must
lie inside one of:

- the folder of the spec file itself;
- the **project folder**, which is the current working directory: the folder a job is started from and against
  which its relative paths resolve (for the shipped specs, the repository root). A job started from the
  filesystem root or the home folder has no project folder (that would allow everything below it): only the
  spec's folder and the listed folders count then;
- a folder the spec lists under ``[paths] allow = ["../shared/data"]`` (relative entries resolve against the
  working directory too, links followed).

Anything else (``path = "../../../../etc/passwd"``, an absolute path elsewhere, a link inside the project pointing
out of it) is refused before it is opened: the message names the spec key and the path as written, never a byte
of the file. A link loop is named as such.

``allow`` shares the ``[paths]`` table with the raw inputs' future paths (``temp_mean_c = "climatology"``); it is a
reserved key, split off before validation (:func:`split_allow`), so it never turns a spec into one with scenario
paths.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ALLOW = "allow"
"""The reserved key of ``[paths]`` listing extra folders a spec may read from."""

ALLOW_FIELD = "allow_paths"
"""The spec model's field holding ``[paths] allow``."""


class PathRefused(ValueError):
    """A file named in a spec lies outside the folders it may read from, or cannot be resolved."""

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(f"{key}: {problem}")


def split_allow(data: Any) -> Any:
    """Move ``paths.allow`` of a raw spec mapping into its own field (:data:`ALLOW_FIELD`); other values pass."""
    if not isinstance(data, Mapping):
        return data
    paths = data.get("paths")
    if not isinstance(paths, Mapping) or ALLOW not in paths:
        return data
    out = dict(data)
    if ALLOW_FIELD in out:
        raise PathRefused(f"paths.{ALLOW}", f"given twice (also as {ALLOW_FIELD})")
    out["paths"] = {k: v for k, v in paths.items() if k != ALLOW}
    out[ALLOW_FIELD] = paths[ALLOW]
    return out


def _resolve(path: Path, key: str, shown: str) -> Path:
    """``path`` made absolute against the working directory with every link followed."""
    try:
        return path.resolve()
    except RuntimeError:  # Python < 3.13 reports a link loop this way
        raise PathRefused(key, f"{shown!r}: a symbolic link loop (the link points back at itself)") from None
    except OSError as exc:
        raise PathRefused(key, f"{shown!r}: cannot be resolved ({exc.strerror or type(exc).__name__})") from None
    except ValueError:
        raise PathRefused(key, f"{shown!r}: not a usable path") from None


def allowed_roots(spec_file: str | Path, allow: Sequence[Path]) -> list[Path]:
    """The folders a spec loaded from ``spec_file`` may read from (module docstring), resolved."""
    roots = [_resolve(Path(spec_file).parent, "(file)", str(Path(spec_file).parent))]
    cwd = _resolve(Path.cwd(), "(file)", ".")
    if cwd != Path(cwd.anchor) and cwd != _resolve(Path.home(), "(file)", "~"):
        roots.append(cwd)
    for i, folder in enumerate(allow):
        roots.append(_resolve(folder, f"paths.{ALLOW}[{i}]", str(folder)))
    return roots


def named_files(
    sources: Mapping[str, Any], paths: Mapping[str, Any], scenarios: Mapping[str, Any]
) -> Iterator[tuple[str, Path]]:
    """Every file a spec names, with its key: each source's path fields, and a ``file`` of a future path in
    ``[paths]`` or a scenario."""
    for name, src in sources.items():
        for field, value in src.file_keys().items():
            yield f"sources.{name}.{field}", value
    for column, path in paths.items():
        if isinstance(path, Mapping) and isinstance(path.get("file"), str):
            yield f"paths.{column}.file", Path(path["file"])
    for scenario, overrides in scenarios.items():
        for column, path in overrides.items():
            if isinstance(path, Mapping) and isinstance(path.get("file"), str):
                yield f"scenarios.{scenario}.{column}.file", Path(path["file"])


def check_paths(spec_file: str | Path, files: Iterator[tuple[str, Path]], allow: Sequence[Path]) -> None:
    """Raise :class:`PathRefused` for the first file that resolves outside the allowed folders (nothing is read)."""
    roots = allowed_roots(spec_file, allow)
    for key, path in files:
        resolved = _resolve(path, key, str(path))
        if not any(resolved.is_relative_to(root) for root in roots):
            raise PathRefused(
                key,
                f"{str(path)!r} lies outside the spec's folder and the project folder (the working directory); "
                f"list its folder under [paths] {ALLOW} = [...] to read it",
            )
