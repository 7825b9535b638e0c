"""Plain-text tables for the terminal (leaderboards)."""

from __future__ import annotations

import polars as pl


def table(frame: pl.DataFrame) -> str:
    """Left-aligned columns, floats to 4 decimals, two-space indent."""
    cols = frame.columns
    rows = [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in r] for r in frame.iter_rows()]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(["  " + fmt.format(*cols)] + ["  " + fmt.format(*r).rstrip() for r in rows])
