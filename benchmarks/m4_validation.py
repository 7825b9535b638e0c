"""M4 Hourly: choose one ensemble on a validation split, then score it once on the test set (issue #9, item 4).

Run by hand from the repository root (not in CI: the member fits take about an hour on 2 busy cores)::

    nice -n 10 .venv/bin/python -m benchmarks.m4_validation              # fit, choose, then score once on test
    .venv/bin/python -m benchmarks.m4_validation --no-test              # stop after the choice (test never read)

Protocol. Each training series loses its last 48 hours, which become the validation target; every candidate
model in ``CANDIDATES`` (the keys of :data:`benchmarks.m4_hourly.MODELS`) is fitted to the shortened series and
forecasts those 48 hours, in the same process pool as the test runs (``--n-jobs``, default 2); forecasts are
cached in ``out/m4_hourly/validation/`` (apart from the test forecasts in ``out/m4_hourly/``). Validation scores
are M4's, with Naive2 and the MASE scale computed on the shortened training part.

Choice. The pool is the candidates that beat Naive2 on validation (OWA < 1). Every subset of 2..6 pool members
is combined step by step in four ways: ``mean``, ``median``, a mean weighted by the inverse of each member's
validation OWA (``inverse``), and a mean whose weights minimise the squared MASE-scaled validation error with
non-negative weights summing to 1 (``fitted``; kept only when every member gets weight). The candidate with the
lowest validation OWA (then the fewest members) is the choice; it is written to
``benchmarks/results/m4_hourly.json`` (key ``validation``) before the test set is read. Then its members' test
forecasts (fitted to the full training series; cached by ``benchmarks.m4_hourly`` or fitted here) are combined
with the chosen rule and weights and scored once. Nothing in the choice sees a test value.
"""

from __future__ import annotations

from benchmarks import _setup  # noqa: F401  first: one BLAS thread per process, set before numpy loads

# isort: split
import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from benchmarks.m4_hourly import CACHE, MODELS, RESULTS, H, M, load, run_model, smape

VALIDATION = CACHE / "validation"
CANDIDATES = [k for k in MODELS if k != "naive2"]
COMBINES = ("mean", "median", "inverse", "fitted")


# -- scoring ----------------------------------------------------------------------------------------------------
class Scorer:
    """M4 scores of (series, h) forecasts against one target, with the MASE scale and Naive2 fixed once."""

    def __init__(self, y: np.ndarray, train: list[np.ndarray], naive2: np.ndarray) -> None:
        self.y = y
        self.scale = np.array([np.mean(np.abs(x[M:] - x[:-M])) for x in train])
        self.base = (1.0, 1.0)
        n2 = self(naive2)
        self.base = (n2["smape"], n2["mase"])

    def __call__(self, f: np.ndarray) -> dict[str, float]:
        s = float(np.mean(smape(self.y, f)))
        m = float(np.mean(np.mean(np.abs(self.y - f), axis=1) / self.scale))
        return {"smape": s, "mase": m, "owa": 0.5 * (s / self.base[0] + m / self.base[1])}


def combine(stack: np.ndarray, how: str, weights: np.ndarray | None = None) -> np.ndarray:
    """Step-wise combination of a (members, series, h) stack, exactly as :class:`forecast.models.Ensemble`."""
    if how == "median":
        return np.median(stack, axis=0)
    if weights is None:
        return np.mean(stack, axis=0)
    return np.tensordot(weights / weights.sum(), stack, axes=1)


def fitted_weights(stack: np.ndarray, y: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the squared scaled error Σ((y − Σ w·f)/scale)².

    The sum is enforced by one heavily weighted extra row (w·1 = 1) in a non-negative least squares problem,
    then made exact by normalising.
    """
    a = (stack / scale[None, :, None]).reshape(len(stack), -1).T
    b = (y / scale[:, None]).ravel()
    pen = 1e3 * np.linalg.norm(b)
    w, _ = nnls(np.vstack([a, np.full((1, a.shape[1]), pen)]), np.append(b, pen), maxiter=50 * a.shape[1])
    return w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))


def search(
    forecasts: dict[str, np.ndarray], singles: dict[str, dict[str, float]], scorer: Scorer, sizes: range
) -> list[dict[str, Any]]:
    """Every subset of the pool (validation OWA < 1) × every combination rule, best validation OWA first."""
    pool = sorted((k for k in singles if singles[k]["owa"] < 1.0 and k in forecasts), key=lambda k: singles[k]["owa"])
    rows = []
    for size in sizes:
        for members in itertools.combinations(pool, size):
            stack = np.stack([forecasts[m] for m in members])
            for how in COMBINES:
                weights = None
                if how == "inverse":
                    weights = np.array([1.0 / singles[m]["owa"] for m in members])
                    weights /= weights.sum()
                elif how == "fitted":
                    weights = fitted_weights(stack, scorer.y, scorer.scale)
                    if weights.min() < 5e-5:  # a member without weight: the same as a smaller subset's row
                        continue
                rows.append(
                    {
                        "members": list(members),
                        "combine": how,
                        "weights": None if weights is None else [round(float(w), 4) for w in weights],
                        **scorer(combine(stack, how, weights)),
                    }
                )
    rows.sort(key=lambda r: (r["owa"], len(r["members"])))
    return rows


# -- forecasts --------------------------------------------------------------------------------------------------
def forecasts_for(
    keys: list[str], train: list[np.ndarray], folder: Path, n_jobs: int, refit: bool
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """Each key's (series, h) forecasts from ``train``, from ``folder``'s cache or fitted (and cached)."""
    folder.mkdir(parents=True, exist_ok=True)
    out, meta = {}, {}
    for key in keys:
        name, params = MODELS[key]
        npz, info = folder / f"{key}.npz", folder / f"{key}.json"
        cached = json.loads(info.read_text()) if info.exists() else {}
        if npz.exists() and not refit and cached.get("model") == name and cached.get("params") == params:
            out[key], meta[key] = np.load(npz)["forecasts"], cached
            continue
        run = run_model(key, train, n_jobs)
        out[key] = run.pop("forecasts")
        meta[key] = {"model": name, "params": params, **run}
        np.savez(npz, forecasts=out[key])
        info.write_text(json.dumps(meta[key]) + "\n")
        print(f"{folder.name}/{key}: {run['wall_s']:.1f} s, {run['n_failed']} failed", flush=True)
    return out, meta


def ensemble_params(row: dict[str, Any]) -> dict[str, Any]:
    """The registry's ``ensemble`` params for a search row (``inverse`` and ``fitted`` are weighted means)."""
    params: dict[str, Any] = {
        "combine": "median" if row["combine"] == "median" else "mean",
        "members": [{"name": MODELS[m][0], "params": MODELS[m][1]} for m in row["members"]],
    }
    if row["weights"] is not None:
        params["weights"] = row["weights"]
    return params


# -- command line -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(CANDIDATES), help="comma-separated candidate keys of MODELS")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--max-size", type=int, default=6, help="largest ensemble searched (smallest: 2)")
    ap.add_argument("--refit", action="store_true", help="ignore cached validation forecasts")
    ap.add_argument("--no-test", action="store_true", help="stop after the choice; the test set is not scored")
    ap.add_argument("--top", type=int, default=15, help="candidates kept in the results and printed")
    args = ap.parse_args(argv)

    _, train, test = load()
    short = [x[:-H] for x in train]
    y_val = np.stack([x[-H:] for x in train])
    keys = ["naive2", *[k for k in args.models.split(",") if k and k != "naive2"]]
    val, val_meta = forecasts_for(keys, short, VALIDATION, args.n_jobs, args.refit)
    scorer = Scorer(y_val, short, val["naive2"])
    singles = {
        k: {**scorer(val[k]), "wall_s": val_meta[k].get("wall_s"), "n_failed": val_meta[k].get("n_failed")}
        for k in keys
    }
    t0 = time.perf_counter()
    rows = search(val, singles, scorer, range(2, args.max_size + 1))
    search_s = time.perf_counter() - t0
    choice = rows[0]
    record: dict[str, Any] = {
        "protocol": "fit on each training series minus its last 48 h, score those 48 h (Naive2 and MASE scale "
        "on the shortened part); pool = candidates with validation OWA < 1; subsets of 2.."
        f"{args.max_size} members x {list(COMBINES)}; lowest validation OWA chosen, then scored once on test",
        "n_series": len(train),
        "h": H,
        "naive2": {"smape": scorer.base[0], "mase": scorer.base[1]},
        "singles": dict(sorted(singles.items(), key=lambda kv: kv[1]["owa"])),
        "n_candidates": len(rows),
        "search_s": search_s,
        "top": rows[: args.top],
        "best_per_combine": {how: next(r for r in rows if r["combine"] == how) for how in COMBINES},
        "choice": {**choice, "params": ensemble_params(choice)},
    }
    _print_validation(record)
    _write(record)  # the choice is on disk before any test value is read
    if args.no_test:
        return

    full, full_meta = forecasts_for(["naive2", *choice["members"]], train, CACHE, args.n_jobs, refit=False)
    weights = None if choice["weights"] is None else np.array(choice["weights"])
    fc = combine(np.stack([full[m] for m in choice["members"]]), choice["combine"], weights)
    walls = [full_meta[m].get("wall_s", float("nan")) for m in choice["members"]]
    record["test"] = {
        **Scorer(test, train, full["naive2"])(fc),
        "wall_s": float(np.sum(walls)),
        "member_wall_s": dict(zip(choice["members"], walls, strict=True)),
    }
    _write(record)
    t = record["test"]
    print(
        f"\ntest (scored once): sMAPE {t['smape']:.3f}, MASE {t['mase']:.3f}, OWA {t['owa']:.3f}, "
        f"member fits {t['wall_s']:.0f} s"
    )


def _print_validation(record: dict[str, Any]) -> None:
    print("validation, single models:\n| key | sMAPE | MASE | OWA | wall s |\n| --- | ---: | ---: | ---: | ---: |")
    for key, r in record["singles"].items():
        print(f"| {key} | {r['smape']:.3f} | {r['mase']:.3f} | {r['owa']:.3f} | {r['wall_s'] or 0:.1f} |")
    print(f"\nvalidation, ensembles ({record['n_candidates']} candidates, searched in {record['search_s']:.1f} s):")
    print("| members | combine | weights | sMAPE | MASE | OWA |\n| --- | --- | --- | ---: | ---: | ---: |")
    for r in record["top"]:
        w = ", ".join(f"{x:.3f}" for x in r["weights"]) if r["weights"] else ""
        scores = f"{r['smape']:.3f} | {r['mase']:.3f} | {r['owa']:.3f}"
        print(f"| {', '.join(r['members'])} | {r['combine']} | {w} | {scores} |")
    print("\nbest of each combination rule:")
    for how, r in record["best_per_combine"].items():
        w = f" (weights {r['weights']})" if r["weights"] else ""
        print(f"  {how}: {', '.join(r['members'])}{w}: OWA {r['owa']:.3f}")
    c = record["choice"]
    print(
        f"\nchoice: {c['combine']} of {', '.join(c['members'])} (weights {c['weights']}), validation OWA {c['owa']:.3f}"
    )


def _write(record: dict[str, Any]) -> None:
    """Set the ``validation`` key of the results file, keeping the rest (``benchmarks.m4_hourly`` keeps it)."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["validation"] = record
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
