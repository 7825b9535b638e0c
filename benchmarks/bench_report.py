"""One report over every benchmark's results: ``benchmarks/results/latest.json`` and ``latest.md``.

Run from the repository root after the benchmarks (``make bench`` runs it last)::

    .venv/bin/python -m benchmarks.bench_report

Reads what the suite writes in ``benchmarks/results/`` (``features.json``, ``models.json``, ``tracking.json``,
``scenarios.json``, ``job.json``, ``scale.json``) and turns each measured goal into one row: the figure, the
baseline it is compared with, the ratio, the target, met or missed, the date of the measurement and the machine's
load average then. Rows come in the issue's order (the six speed goals of #11's table), then throughput and memory
at scale, ingestion, tracking overhead, the scenario forecast and the end-to-end demo job. A missing file gives
rows marked "not run"; result files of the accuracy benchmarks (``quality.json``, ``m4_hourly.json``…) are listed
with their dates, not scored here (``docs/results.md`` quotes them).

The date is the file's own timestamp where it has one (``features``: ``meta.started``, ``tracking``: ``when``,
``scale``: ``setup.date``), else the date of the last commit that changed the file, else its modification time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SUITE = ("features", "models", "tracking", "scenarios", "job", "scale")
OUTPUTS = ("latest.json", "latest.md")
Row = dict[str, Any]


def read_result(results: Path, name: str) -> tuple[Any, str | None]:
    """(contents, date) of ``results/<name>.json``; (None, None) when the file is not there."""
    path = results / f"{name}.json"
    if not path.exists():
        return None, None
    data = json.loads(path.read_text())
    own = {"features": ("meta", "started"), "tracking": ("when",), "scale": ("setup", "date")}.get(name)
    when = _get(data, *own) if own else None
    return data, str(when)[:16].replace("T", " ") if when else file_date(path)


def file_date(path: Path) -> str:
    """The date of the last commit that changed ``path``, else its modification time (``YYYY-MM-DD HH:MM``)."""
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%cI", "--", str(path)], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    if out and not _dirty(path):
        return out[:16].replace("T", " ")
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M")


def _dirty(path: Path) -> bool:
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", str(path)], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return True
    return bool(status.strip())


def _get(data: Any, *keys: Any) -> Any:
    for k in keys:
        if data is None:
            return None
        data = data.get(k) if isinstance(data, dict) else (data[k] if isinstance(k, int) and k < len(data) else None)
    return data


def _load1(value: Any) -> float | None:
    """The 1-minute load average from a stored triple or number."""
    if isinstance(value, list | tuple) and value:
        return round(float(value[0]), 2)
    return round(float(value), 2) if isinstance(value, int | float) else None


def row(
    group: str,
    name: str,
    figure: str,
    *,
    baseline: str = "",
    ratio: float | None = None,
    target: str = "",
    met: bool | None = None,
    date: str | None = None,
    load: float | None = None,
    source: str = "",
) -> Row:
    return {
        "group": group,
        "row": name,
        "figure": figure,
        "baseline": baseline,
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "met": met,
        "date": date,
        "load_1m": load,
        "source": source,
    }


def not_run(group: str, name: str, target: str, source: str) -> Row:
    return row(group, name, "not run", target=target, source=f"{source} (missing)")


# -- the issue's table ------------------------------------------------------------------------------------------
def issue_rows(results: Path) -> list[Row]:
    g, rows = "issue #11 speed goals", []
    feats, fdate = read_result(results, "features")
    src = "features.json"
    for key, label, section, timing in (
        ("rolling_mean_vs_coreforecast", "grouped rolling mean (w 28) vs coreforecast", "A", "rolling_mean_28"),
        ("ewm_vs_coreforecast", "grouped EWM (half-life 7) vs coreforecast", "A", "ewm_hl7"),
    ):
        fig = _get(feats, "figures", key)
        if fig is None:
            rows.append(not_run(g, label, "≤ 1.2×", src))
            continue
        t = _get(feats, section, timing, "timings") or {}
        ours, theirs = _get(t, "ours", "wall_median_s"), _get(t, "coreforecast", "wall_median_s")
        figure = f"{1000 * ours:.2f} ms (median; best-of ratio {fig['best_of']:.2f})" if ours else str(fig["value"])
        base = f"coreforecast {1000 * theirs:.2f} ms" if theirs else "coreforecast"
        la = _load1(_get(feats, section, "load_before"))
        rows.append(
            row(
                g,
                label,
                figure,
                baseline=base,
                ratio=fig["value"],
                target="≤ 1.2×",
                met=fig["met"],
                date=fdate,
                load=la,
                source=f"{src} figures.{key}",
            )
        )
    fig = _get(feats, "figures", "full_set_polars_over_ours")
    if fig is None:
        rows.append(not_run(g, "full indicator set vs Polars", "≥ 10×", src))
    else:
        t = _get(feats, "B", "timings") or {}
        ours, pol = _get(t, "ours", "wall_median_s"), _get(t, "polars_without_damage", "wall_median_s")
        fresh = _get(t, "ours_fresh_memory", "wall_median_s")
        fresh_note = f"; fresh memory each call {fresh:.2f} s = {pol / fresh:.1f}×" if fresh else ""
        rows.append(
            row(
                g,
                "full indicator set (17, 10M rows) vs Polars",
                f"{ours:.2f} s (median, output buffers reused{fresh_note})",
                baseline=f"Polars expressions w/o damage stock {pol:.2f} s",
                ratio=fig["value"],
                target="Polars/ours ≥ 10×",
                met=fig["met"],
                date=fdate,
                load=_load1(_get(feats, "B", "load_before")),
                source=f"{src} figures.{fig and 'full_set_polars_over_ours'}",
            )
        )
    fig = _get(feats, "figures", "fresh_process_first_result_s")
    if fig is None:
        rows.append(not_run(g, "fresh process to first indicator", "≤ 0.5 s", src))
    else:
        floor = _get(feats, "C", "bytecode_cache", "numba_floor", "first_cached_call_s")
        rows.append(
            row(
                g,
                "fresh process to first indicator (after imports)",
                f"{fig['value']:.3f} s (median)",
                baseline=f"numba floor {floor:.3f} s" if floor else "",
                target="≤ 0.5 s",
                met=fig["met"],
                date=fdate,
                load=_load1(_get(feats, "C", "load_before")),
                source=f"{src} figures.fresh_process_first_result_s",
            )
        )
    models, mdate = read_result(results, "models")
    race = _get(models, "backtest") or {}
    mload = _load1(_get(models, "setup", "load_average_at_start"))
    found = False
    for key, r in race.items():
        if not key.startswith("ours") or "backend=" in key or "ratio" not in str(r):
            continue
        found = True
        init = "estimated" if "estimated" in key else "heuristic"
        subset = key.split("[", 1)[1].rstrip("]") if "[" in key else f"{_get(models, 'setup', 'n_series')} series"
        diff = r["mase_rel_diff_vs_statsforecast"]
        ratio = r["wall_ratio_vs_statsforecast"]
        rows.append(
            row(
                g,
                f"ETS ANA backtest ({init} initial states, {subset}) vs statsforecast AutoETS",
                f"{r['wall_s']:.1f} s, MASE {r['mase']:.4f} ({100 * diff:+.1f} %)",
                baseline=f"AutoETS {r['wall_s'] / ratio:.1f} s",
                ratio=ratio,
                target="≤ 1.0× at MASE ±2 %",
                met=ratio <= 1.0 and abs(diff) <= 0.02,
                date=mdate,
                load=mload,
                source=f"models.json backtest['{key}']",
            )
        )
    if not found:
        rows.append(not_run(g, "ETS backtest vs statsforecast AutoETS", "≤ 1.0×", "models.json"))
    scale, sdate = read_result(results, "scale")
    runs = [r for r in (scale or {}).get("runs", []) if r["model"] == "ets" and r["engine"] == "processes"]
    if runs:
        r = max(runs, key=lambda x: x["n_series"])
        diff = r["mase_rel_diff_vs_statsforecast"]
        sf_wall = r["wall_s"] / r["wall_ratio_vs_statsforecast"]
        rows.append(
            row(
                g,
                f"ETS ANA backtest at {r['n_series']:,} series, 2 processes (estimated states) vs AutoETS n_jobs=2",
                f"{r['wall_s']:.1f} s, MASE {r['mase']:.4f} ({100 * diff:+.1f} %)",
                baseline=f"AutoETS {sf_wall:.1f} s",
                ratio=r["wall_ratio_vs_statsforecast"],
                target="≤ 1.0× at MASE ±2 %",
                met=r["wall_ratio_vs_statsforecast"] <= 1.0 and abs(diff) <= 0.02,
                date=sdate,
                load=_load1(r.get("load_1m")),
                source="scale.json runs",
            )
        )
    job, jdate = read_result(results, "job")
    if job is None:
        rows.append(not_run(g, "second `make forecast`", "≤ 20 s", "job.json"))
    else:
        wall = job["median_wall_s"]
        optimiser = job.get("statsmodels_optimiser") or {}
        rows.append(
            row(
                g,
                "second `make forecast` (demo job, fresh process)",
                f"{wall:.1f} s (median of {len(job.get('runs', []))})",
                baseline=f"SARIMAX by statsmodels' optimiser {optimiser['median_wall_s']:.1f} s" if optimiser else "",
                ratio=optimiser.get("ratio"),
                target="≤ 20 s",
                met=wall <= 20,
                date=jdate,
                load=_load1(job.get("load_before")),
                source="job.json median_wall_s",
            )
        )
    return rows


# -- scale, ingestion, tracking, scenarios, job -----------------------------------------------------------------
SPEEDUP_TARGET = {"processes": 1.8, "dask": 1.6}  # issue #11: × serial throughput on 2 cores
WALL_VS_STATSFORECAST = 1.1  # within 10 % of statsforecast's own parallel cross_validation


def _throughput_target(engine: str) -> str:
    if engine not in SPEEDUP_TARGET:
        return "MASE within ±2 % (wall ratio reported)"
    return f"≥ {SPEEDUP_TARGET[engine]}× serial, wall ≤ {WALL_VS_STATSFORECAST}× statsforecast, MASE ±2 %"


def _throughput_met(r: dict[str, Any]) -> bool:
    ok = abs(r["mase_rel_diff_vs_statsforecast"]) <= 0.02
    if r["engine"] in SPEEDUP_TARGET:
        ok = ok and (r.get("speedup_vs_serial") or 0.0) >= SPEEDUP_TARGET[r["engine"]]
        ok = ok and r["wall_ratio_vs_statsforecast"] <= WALL_VS_STATSFORECAST
    return ok


def scale_rows(results: Path) -> list[Row]:
    scale, sdate = read_result(results, "scale")
    if scale is None:
        return [not_run("throughput", "backtest throughput at scale", "MASE ±2 %", "scale.json")]
    setup, rows = scale["setup"], []
    plan = f"h={setup['h']}, {setup['n_windows']} window"
    for r in scale["runs"]:
        g = f"throughput ({plan})"
        name = f"{r['n_series']:,} series · {r['model']} · {r['engine']}"
        up = f", {r['speedup_vs_serial']:.2f}× serial" if r.get("speedup_vs_serial") is not None else ""
        figure = (
            f"{r['series_per_s']:.1f} series/s{up}, MASE {r['mase']:.4f} "
            f"({100 * r['mase_rel_diff_vs_statsforecast']:+.1f} %), peak RSS {r['rss_peak_mb']:.0f} MB"
            + (f", CPU {r['cpu_ms_per_series']:.1f} ms/series" if "cpu_ms_per_series" in r else "")
            + (f", median over {len(r['round_walls_s'])} rounds" if len(r.get("round_walls_s", ())) > 1 else "")
        )
        is_sf = r["engine"] == "statsforecast"
        sf_rate = r["n_series"] / (r["wall_s"] / r["wall_ratio_vs_statsforecast"])
        rows.append(
            row(
                g,
                name,
                figure,
                baseline="" if is_sf else f"statsforecast {sf_rate:.1f} series/s (MASE {r['mase_statsforecast']:.4f})",
                ratio=None if is_sf else r["wall_ratio_vs_statsforecast"],
                target="" if is_sf else _throughput_target(r["engine"]),
                met=None if is_sf else _throughput_met(r),
                date=sdate,
                load=_load1(r.get("load_1m")),
                source="scale.json runs",
            )
        )
    load0 = _load1(setup.get("load_average_at_start"))
    for key, m in scale.get("memory", {}).items():
        slopes = ", ".join(f"{k}: {v:.0f}" for k, v in m["marginal_mb_per_1000"].items())
        spread = m.get("max_rel_spread")
        figure = f"{slopes} MB per 1,000 series (fixed ≈ {m['fixed_mb']:.0f} MB)" if m.get("fixed_mb") else slopes
        theirs = key.startswith("statsforecast")  # the reference, shown for comparison: the target is ours
        rows.append(
            row(
                "memory",
                f"peak tree RSS per 1,000 series · {key}",
                figure,
                baseline="the same between sizes",
                ratio=None if spread is None else 1 + spread,
                target="" if theirs else "constant ±20 %",
                met=None if theirs else m.get("met"),
                date=sdate,
                load=load0,
                source="scale.json memory",
            )
        )
    ing = scale.get("ingestion")
    if ing:
        rows.append(
            row(
                "ingestion",
                f"{ing['rows']:,}-row Parquet through the job's target reader",
                f"{ing['reader_path_s']:.2f} s ({ing['reader_rows_per_s'] / 1e6:.1f}M rows/s), peak RSS "
                f"{ing['reader_path_peak_rss_mb']:.0f} MB",
                baseline=f"pl.read_parquet {ing['read_parquet_s']:.2f} s ({ing['read_parquet_peak_rss_mb']:.0f} MB)",
                ratio=ing["reader_over_read_parquet"],
                target="",
                date=sdate,
                load=load0,
                source="scale.json ingestion",
            )
        )
    return rows


def other_rows(results: Path) -> list[Row]:
    rows = []
    tr, tdate = read_result(results, "tracking")
    if tr is None:
        rows.append(not_run("tracking", "tracking overhead", "≤ 5 %", "tracking.json"))
    else:
        rows.append(
            row(
                "tracking",
                f"tracking overhead ({tr.get('job', 'demo backtest')})",
                f"tracking phase {tr['tracking_phase_s']:.2f} s = {100 * tr['tracking_phase_share']:.1f} % "
                f"(walls {tr['tracked_s']:.1f} vs {tr['untracked_s']:.1f} s)",
                baseline="the job without tracking",
                ratio=tr["ratio"],
                target=f"≤ {100 * tr['target_share']:.0f} %",
                met=tr["met"],
                date=tdate,
                load=_load1(_get(tr, "load_avg_1m", "start")),
                source="tracking.json",
            )
        )
    sc, scdate = read_result(results, "scenarios")
    for s in sc or []:
        rows.append(
            row(
                "scenarios",
                f"scenario forecast, {s['spec']} ({len(s['scenarios'])} scenarios × "
                f"{len(s['models'])} models × {s['series']} series)",
                f"{s['once_s']:.2f} s fitted once",
                baseline=f"refit per scenario {s['refit_s']:.2f} s",
                ratio=s["once_s"] / s["refit_s"],
                target="",
                date=scdate,
                source="scenarios.json",
            )
        )
    job, jdate = read_result(results, "job")
    if job is not None:
        stages = _get(job, "runs", 0, "stages_s") or {}
        parts = ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
        rows.append(
            row(
                "end-to-end",
                f"demo job (`{job.get('spec', '')}`, scenarios {', '.join(job.get('scenarios', []))})",
                f"{job['median_wall_s']:.1f} s; stages s: {parts}",
                baseline="stage times from the job's log",
                date=jdate,
                load=_load1(job.get("load_before")),
                source="job.json",
            )
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    """The report as one Markdown table (plus the list of files not scored)."""
    lines = [
        "# Benchmark report",
        "",
        f"Generated {report['generated']} from `benchmarks/results/*.json` by `python -m benchmarks.bench_report`. "
        "Ratios are side by side in one run of their benchmark; the load is the 1-minute load average of the "
        "2-core machine when that benchmark ran (other sessions share it).",
        "",
        "| group | row | figure | baseline | ratio | target | met | date | load |",
        "| --- | --- | --- | --- | ---: | --- | --- | --- | ---: |",
    ]
    mark = {True: "met", False: "**missed**", None: ""}
    for r in report["rows"]:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        load_cell = "" if r["load_1m"] is None else f"{r['load_1m']:.1f}"
        cells = [r["group"], r["row"], r["figure"], r["baseline"], ratio, r["target"], mark[r["met"]]]
        cells += [r["date"] or "", load_cell]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    if report["other_files"]:
        lines += ["", "Not scored here (accuracy and calibration, quoted in `docs/results.md`): "]
        lines[-1] += ", ".join(f"`{f['file']}` ({f['date']})" for f in report["other_files"]) + "."
    return "\n".join(lines) + "\n"


def build(results: Path) -> dict[str, Any]:
    rows = issue_rows(results) + scale_rows(results) + other_rows(results)
    known = {f"{n}.json" for n in SUITE} | set(OUTPUTS)
    others = [{"file": p.name, "date": file_date(p)} for p in sorted(results.glob("*.json")) if p.name not in known]
    scored = [r for r in rows if r["met"] is not None]
    return {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "summary": {"rows": len(rows), "met": sum(bool(r["met"]) for r in scored), "scored": len(scored)},
        "rows": rows,
        "other_files": others,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the benchmark JSON files")
    args = ap.parse_args(argv)
    report = build(args.results)
    for name, text in (("latest.json", json.dumps(report, indent=1) + "\n"), ("latest.md", markdown(report))):
        tmp = args.results / f"{name}.tmp"
        tmp.write_text(text)
        tmp.replace(args.results / name)
    print(markdown(report))
    s = report["summary"]
    print(f"{s['met']} of {s['scored']} scored rows met; written to {args.results / 'latest.json'} and latest.md")


if __name__ == "__main__":
    main()
