"""Checks of the command line's path arguments, run by click while it parses them (before any work is done).

``--config``: remembered for messages that come from below the spec layer (a backtest plan that does not fit the
data names the spec file and its ``backtest`` key). ``--out-root``: refused when it is a file, lies under a file or
is a symbolic link to nothing (click's usage error, exit 2), so a job never computes for minutes and then fails to
write.
"""

from __future__ import annotations

from pathlib import Path

import click

CONFIG_META = "gridcast.config"
"""The key of ``ctx.meta`` holding the ``--config`` path."""


def remember_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Keep the spec's path in ``ctx.meta`` (shared by every context of the invocation)."""
    if value is not None:
        ctx.meta[CONFIG_META] = value
    return value


def check_out_root(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """Refuse an output root that is a file (or lies under one, or is a dangling link)."""
    for folder in (value, *value.parents):
        if folder.is_symlink() and not folder.exists():
            raise click.BadParameter(f"{folder}: a symbolic link to nothing", ctx=ctx, param=param)
        if folder.exists():
            if not folder.is_dir():
                where = "exists and is not a folder" if folder == value else f"lies under {folder}, which is a file"
                raise click.BadParameter(f"{value}: {where}", ctx=ctx, param=param)
            break
    return value
