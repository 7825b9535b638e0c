"""Probe: does the rolling-mean kernel's time depend on *which* arrays it reads and writes?

Runs the window driver single-threaded (no thread pool, no allocation in the timed call) on the same 3M values,
copied into several input arrays, each paired with several pre-faulted output arrays; prints the median
milliseconds per (input copy, output array) pair beside coreforecast's single-threaded time on the first copy.
Identical code and data at different addresses: any spread between pairs is memory placement, not the kernel.

    .venv/bin/python -m benchmarks.probe_rolling_placement [--copies 4] [--outs 3] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from features.indicators.kernels import window as wi


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--outs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    n_series, length, window = 2000, 1500, 28
    values = np.random.default_rng(0).normal(size=n_series * length)
    indptr = np.arange(0, values.size + 1, length, dtype=np.int64)
    params = np.array([window, window, 1.0, 0.0])  # p[2] = 1: the mean (0: the sum)
    rows = []
    for c in range(args.copies):
        x = values.copy()
        x.flags.writeable = False
        for o in range(args.outs):
            out = np.zeros_like(values)  # pre-faulted: no page faults in the timed call
            ms = median_ms(
                lambda x=x, out=out: wi.window_driver(wi.OP_ROLLING_MEAN, x, x, indptr, 0, n_series, params, out),
                args.repeat,
            )
            rows.append((c, o, ms))
    try:
        from coreforecast.grouped_array import GroupedArray
        from coreforecast.lag_transforms import RollingMean

        grouped = GroupedArray(values, indptr.astype(np.int32), num_threads=1)
        transform = RollingMean(lag=1, window_size=window)
        cf_ms = median_ms(lambda: transform.transform(grouped), args.repeat)
    except ImportError:  # pragma: no cover - coreforecast is a test dependency
        cf_ms = float("nan")
    print("| input copy | output array | ours ms (1 thread) |\n| --- | --- | --- |")
    for c, o, ms in rows:
        print(f"| {c} | {o} | {ms:.1f} |")
    times = [ms for *_, ms in rows]
    print(f"\nours: min {min(times):.1f} ms, max {max(times):.1f} ms; coreforecast 1 thread: {cf_ms:.1f} ms")


if __name__ == "__main__":
    main()
