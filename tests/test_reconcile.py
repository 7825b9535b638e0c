"""Hierarchy-coherent forecasts (#9 item 5): the hierarchy, every level's frame, bottom-up and MinT-shrink
reconciliation (coherent to 1e-9, bounded, no look-ahead in backtests) and hierarchicalforecast's numbers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from features.contract import CUTOFF, DS, HOURS_PER_DAY, ID, MEAN, MODEL, Bounds, Y
from forecast.backtest import backtest
from forecast.frames import check_frame
from forecast.hierarchy import (
    Hierarchy,
    aggregate,
    coherence_gap,
    from_rules,
    make_rule,
    mint_matrix,
    reconcile,
    reconcile_backtest,
    residual_matrix,
    shrunk_covariance,
)
from forecast.models import SeasonalNaive
from forecast.settings import BacktestPlan, ForecastSettings

START = dt.date(2024, 1, 1)
CHAINS = {
    "1.1": ["1", "city"],
    "1.2": ["1", "city"],
    "2.1": ["2", "city"],
    "2.2": ["2", "city"],
    "3.1": ["3", "city"],
    "3.2": ["3", "city"],
}
LEVELS = ["city", "group", "queue"]


@pytest.fixture
def tree() -> Hierarchy:
    return Hierarchy.from_parents(CHAINS, LEVELS)


def days(n: int, start: dt.date = START) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def bottom_frame(n: int = 60, seed: int = 0) -> pl.DataFrame:
    """Six queues' hours off with a weekly pattern, correlated within a group, and a broadcast input."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = rng.normal(size=n)
    parts = []
    shocks = {g: rng.normal(0, 1.5, n) for g in "123"}
    for k, uid in enumerate(CHAINS):
        y = 11 + 4 * np.sin(2 * np.pi * t / 7 + k / 3) + shocks[uid[0]] + rng.normal(0, 1, n)
        parts.append(pl.DataFrame({ID: uid, DS: days(n), Y: np.clip(y, 0, 24), "x": x + k}))
    return pl.concat(parts)


def base_forecasts(h: Hierarchy, values: np.ndarray, model: str = "m") -> pl.DataFrame:
    """A forecast frame (rows: ids; columns of ``values``: periods) with interval columns to be dropped."""
    rows = [
        (node, d, model, float(values[i, t]), float(values[i, t]) - 1, float(values[i, t]) + 1)
        for i, node in enumerate(h.ids)
        for t, d in enumerate(days(values.shape[1], dt.date(2025, 1, 1)))
    ]
    return pl.DataFrame(
        rows, schema={ID: pl.String, DS: pl.Date, MODEL: pl.String, MEAN: pl.Float64, "lo-80": pl.Float64,
                      "hi-80": pl.Float64}, orient="row",
    )  # fmt: skip


def residual_frame(h: Hierarchy, errors: np.ndarray, model: str = "m") -> pl.DataFrame:
    """In-sample ``y`` and fitted ``mean`` whose differences are ``errors`` (observations × ids)."""
    rows = [
        (node, d, model, 10.0 + errors[t, i], 10.0)
        for i, node in enumerate(h.ids)
        for t, d in enumerate(days(errors.shape[0]))
    ]
    return pl.DataFrame(
        rows, schema={ID: pl.String, DS: pl.Date, MODEL: pl.String, Y: pl.Float64, MEAN: pl.Float64}, orient="row"
    )


def correlated_errors(h: Hierarchy, t_obs: int = 50, seed: int = 1) -> np.ndarray:
    """Errors that are nearly coherent (bottom errors summed) plus independent noise: a shrinkage inside (0, 1)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (t_obs, len(h.bottom))) @ h.S.T + 0.5 * rng.normal(0, 1, (t_obs, len(h.ids)))


def incoherent(h: Hierarchy, horizon: int = 5, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bottom = rng.uniform(4, 20, (len(h.bottom), horizon))
    return h.S @ bottom + rng.normal(0, 2, (len(h.ids), horizon))


# --- the hierarchy -------------------------------------------------------------------------------------------------


def test_summing_matrix_ids_and_levels(tree: Hierarchy) -> None:
    assert tree.ids == ("city", "1", "2", "3", "1.1", "1.2", "2.1", "2.2", "3.1", "3.2")
    assert tree.aggregates == ("city", "1", "2", "3") and tree.bottom == tuple(CHAINS)
    expected = np.vstack([np.ones(6), np.kron(np.eye(3), np.ones(2)), np.eye(6)])
    np.testing.assert_array_equal(tree.S, expected)
    assert tree.level_of["city"] == "city" and tree.level_of["2"] == "group" and tree.level_of["2.2"] == "queue"
    assert tree.tags == {"city": ["city"], "group": ["1", "2", "3"], "queue": list(CHAINS)}
    assert tree.level_frame().filter(pl.col(ID) == "city").row(0) == ("city", "city", 6)


def test_from_levels_and_from_rules_build_the_same_tree(tree: Hierarchy) -> None:
    tags = pl.DataFrame({"city": "city", "group": [q[0] for q in CHAINS], "queue": list(CHAINS)})
    assert Hierarchy.from_levels(tags, [["city"], ["group"], ["queue"]]) == tree
    rules = {"city": {"name": "city"}, "group": {"before_last": "."}}
    assert from_rules(CHAINS, LEVELS, rules) == tree
    nested = Hierarchy.from_levels(tags, [["city"], ["city", "group"], ["queue"]])
    assert nested.levels == ("city", "city/group", "queue") and nested.nodes[1] == ("city/1", "city/2", "city/3")


@pytest.mark.parametrize(
    ("chains", "levels", "match"),
    [
        ({"a": ["g1", "top"], "b": ["g1", "other"]}, LEVELS, "'g1' is in two parents"),
        ({"a": ["g1", "g2"], "b": ["g2", "g1"]}, LEVELS, "cycle"),
        ({"a": ["a", "top"]}, LEVELS, "cycle"),
        ({"a": ["g1", "top"], "b": ["c", "g1"]}, LEVELS, "'g1' is on two levels"),
        ({"a": ["g1", "top"]}, [], "levels must be non-empty"),
        ({"a": ["g1", "top"]}, ["city", "", "queue"], "levels must be non-empty"),
        ({}, LEVELS, "no bottom series"),
        ({"a": ["g1"]}, LEVELS, "has 1 ancestors"),
        ({"a": ["", "top"]}, LEVELS, "empty or non-text id"),
    ],
)
def test_bad_hierarchies_raise(chains: dict, levels: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Hierarchy.from_parents(chains, levels)


def test_bad_level_definitions_and_rules_raise() -> None:
    tags = pl.DataFrame({"city": ["c", "c"], "queue": ["a", "a"]})
    with pytest.raises(ValueError, match="empty level definition"):
        Hierarchy.from_levels(tags, [["city"], []])
    with pytest.raises(ValueError, match="'a' appears in two rows"):
        Hierarchy.from_levels(tags, [["city"], ["queue"]])
    with pytest.raises(ValueError, match="no column group"):
        Hierarchy.from_levels(tags, [["group"], ["queue"]])
    with pytest.raises(ValueError, match="empty level 'group'"):
        Hierarchy(("city", "group"), (("c",), ()), {})
    with pytest.raises(ValueError, match="rules needed"):
        from_rules(["a.1"], LEVELS, {"city": "c"})
    with pytest.raises(ValueError, match=r"has no '\.' to cut at"):
        from_rules(["a1"], LEVELS, {"city": "c", "group": {"before_last": "."}})
    with pytest.raises(ValueError, match="no entry for bottom series 'b'"):
        make_rule({"map": {"a": "g"}})("b")
    with pytest.raises(ValueError, match="one of name, before_last, map"):
        make_rule({"prefix": "."})


# --- every level's frame -------------------------------------------------------------------------------------------


def test_aggregate_sums_targets_averages_inputs_and_keeps_nulls(tree: Hierarchy) -> None:
    df = bottom_frame(20).with_columns(
        pl.when((pl.col(ID) == "2.1") & (pl.col(DS) == START)).then(None).otherwise(pl.col(Y)).alias(Y)
    )
    out = aggregate(df, tree)
    check_frame(out, "1d", ["x"])
    assert out.get_column(ID).unique(maintain_order=True).to_list() == list(tree.ids)
    day = out.filter(pl.col(DS) == START + dt.timedelta(days=3))
    bottom = df.filter(pl.col(DS) == START + dt.timedelta(days=3))
    assert day.filter(pl.col(ID) == "city")[Y].item() == pytest.approx(bottom[Y].sum(), abs=1e-12)
    assert day.filter(pl.col(ID) == "1")[Y].item() == pytest.approx(
        bottom.filter(pl.col(ID).is_in(["1.1", "1.2"]))[Y].sum(), abs=1e-12
    )
    assert day.filter(pl.col(ID) == "3")["x"].item() == pytest.approx(
        bottom.filter(pl.col(ID).is_in(["3.1", "3.2"]))["x"].mean()
    )
    first = out.filter(pl.col(DS) == START)
    nulls = first.filter(pl.col(Y).is_null()).get_column(ID).to_list()
    assert sorted(nulls) == ["2", "2.1", "city"]  # a missing member makes its ancestors missing, not smaller
    assert out.filter(pl.col(ID).is_in(tree.bottom)).drop(ID).equals(df.drop(ID))


def test_aggregate_checks_the_series(tree: Hierarchy) -> None:
    df = bottom_frame(10)
    with pytest.raises(ValueError, match=r"1 series of the hierarchy missing \('3\.2'\)"):
        aggregate(df.filter(pl.col(ID) != "3.2"), tree)
    with pytest.raises(ValueError, match=r"not in the hierarchy \('9\.9'\)"):
        aggregate(pl.concat([df, df.filter(pl.col(ID) == "1.1").with_columns(pl.lit("9.9").alias(ID))]), tree)


# --- reconciliation ------------------------------------------------------------------------------------------------


def level_sums_gap(frame: pl.DataFrame, h: Hierarchy) -> float:
    """Largest |aggregate − sum of its children| over every aggregate and period, level by level."""
    wide = frame.pivot(on=ID, index=[c for c in (MODEL, DS) if c in frame.columns], values=MEAN)
    gap = 0.0
    for node in h.aggregates:
        children = [c for c, p in h.parent.items() if p == node]
        total = wide.select(pl.sum_horizontal(children)).to_series().to_numpy()
        gap = max(gap, float(np.max(np.abs(wide[node].to_numpy() - total))))
    return gap


@pytest.mark.parametrize("method", ["bottom_up", "mint_shrink"])
def test_every_level_sums_to_1e_9(tree: Hierarchy, method: str) -> None:
    base = base_forecasts(tree, incoherent(tree) * 1e3)  # large values: rounding would show
    out = reconcile(base, tree, method, residuals=residual_frame(tree, correlated_errors(tree)))
    assert level_sums_gap(out, tree) < 1e-9
    assert coherence_gap(out, tree) < 1e-9
    assert coherence_gap(base, tree) > 1.0
    assert out.columns == [ID, DS, MODEL, MEAN] and set(out[MODEL]) == {f"m/{method}"}
    assert out.select(ID, DS).equals(base.select(ID, DS))


def test_bottom_up_is_the_sum_of_the_bottom_forecasts(tree: Hierarchy) -> None:
    values = incoherent(tree)
    out = reconcile(base_forecasts(tree, values), tree, "bottom_up", rename=False)
    wide = out.pivot(on=ID, index=DS, values=MEAN)
    bottom = values[len(tree.aggregates) :]
    np.testing.assert_array_equal(wide.select(tree.bottom).to_numpy().T, bottom)
    for i, node in enumerate(tree.aggregates):
        assert np.array_equal(wide[node].to_numpy(), tree.S[i] @ bottom)
    assert set(out[MODEL]) == {"m"}


def test_mint_shrink_moves_bottom_forecasts_towards_the_aggregates(tree: Hierarchy) -> None:
    values = incoherent(tree)
    values[0] += 30.0  # the city's base forecast well above the sum of the queues
    out = reconcile(
        base_forecasts(tree, values), tree, "mint_shrink", residuals=residual_frame(tree, correlated_errors(tree))
    )
    up = reconcile(base_forecasts(tree, values), tree, "bottom_up")
    city = out.filter(pl.col(ID) == "city")[MEAN].to_numpy()
    assert np.all(city > up.filter(pl.col(ID) == "city")[MEAN].to_numpy()) and np.all(city < values[0])


def test_bounds_are_respected_and_the_aggregates_resummed(tree: Hierarchy) -> None:
    values = incoherent(tree)
    values[len(tree.aggregates) :] = np.array([[0.2], [0.1], [23.9], [23.8], [5], [6]]) * np.ones(5)
    values[0] = 20.0  # the city far below its queues: MinT pushes some queues below 0
    values[2] = 60.0  # group 2 far above its two queues: MinT pushes them above 24
    base = base_forecasts(tree, values)
    residuals = residual_frame(tree, correlated_errors(tree))
    free = reconcile(base, tree, "mint_shrink", residuals=residuals)
    assert free[MEAN].min() < 0 and free.filter(pl.col(ID).is_in(tree.bottom))[MEAN].max() > 24
    out = reconcile(base, tree, "mint_shrink", residuals=residuals, bounds=HOURS_PER_DAY)
    sizes = dict(tree.level_frame().select(ID, "n_bottom").iter_rows())
    assert out.select((pl.col(MEAN) >= 0).all()).item()
    assert all(v <= 24 * sizes[i] + 1e-12 for i, v in out.select(ID, MEAN).iter_rows())
    assert coherence_gap(out, tree) < 1e-9
    assert level_sums_gap(out, tree) < 1e-9


def test_reconcile_errors(tree: Hierarchy) -> None:
    base = base_forecasts(tree, incoherent(tree))
    with pytest.raises(ValueError, match="unknown method 'ols'"):
        reconcile(base, tree, "ols")
    with pytest.raises(ValueError, match="mint_shrink needs residuals"):
        reconcile(base, tree, "mint_shrink")
    with pytest.raises(ValueError, match=r"1 series of the hierarchy missing \('2'\)"):
        reconcile(base.filter(pl.col(ID) != "2"), tree, "bottom_up")
    holes = base.with_columns(pl.when(pl.col(ID) == "1.2").then(None).otherwise(pl.col(MEAN)).alias(MEAN))
    with pytest.raises(ValueError, match=r"no base mean for '1\.2' at ds=2025-01-01"):
        reconcile(holes, tree, "bottom_up")
    with pytest.raises(ValueError, match="no residuals for model 'm'"):
        reconcile(base, tree, "mint_shrink", residuals=residual_frame(tree, correlated_errors(tree), model="x"))


def test_shrinkage_handles_missing_residuals(tree: Hierarchy) -> None:
    errors = correlated_errors(tree)
    w_full, lam = shrunk_covariance(errors)
    assert 0 < lam < 1 and np.allclose(w_full, w_full.T)
    gappy = errors.copy()
    gappy[::7, 3] = np.nan
    w, _ = shrunk_covariance(gappy)
    assert np.isfinite(w).all() and np.all(np.linalg.eigvalsh(w) > 0)
    p = mint_matrix(tree.S, w)
    np.testing.assert_allclose(p @ tree.S, np.eye(len(tree.bottom)), atol=1e-10)  # unbiased: P S = I
    frame = residual_frame(tree, gappy).with_columns(pl.col(MEAN).fill_nan(None))
    assert np.isnan(residual_matrix(frame, tree, "m")).sum() == np.isnan(gappy).sum()
    with pytest.raises(ValueError, match="at least 2 known residuals"):
        shrunk_covariance(errors[:1])


def test_reconcile_backtest_is_coherent_and_does_not_look_ahead(tree: Hierarchy) -> None:
    full = aggregate(bottom_frame(70).drop("x"), tree)
    plan = BacktestPlan(h=7, n_windows=6, step=3)
    parts = []
    for (n,), part in full.join(tree.level_frame(), on=ID).partition_by("n_bottom", as_dict=True).items():
        settings = ForecastSettings(bounds=Bounds(0.0, 24.0 * n), backtest=plan)  # an aggregate of n queues
        parts.append(backtest(part.drop("level", "n_bottom"), {"snaive": lambda: SeasonalNaive(7)}, settings))
    bt = pl.concat(parts)
    for method in ("bottom_up", "mint_shrink"):
        out = reconcile_backtest(bt, tree, method, min_windows=2, bounds=HOURS_PER_DAY)
        assert coherence_gap(out, tree) < 1e-9
        assert not any(c.startswith(("lo-", "hi-", "q-")) for c in out.columns)
    out = reconcile_backtest(bt, tree, "mint_shrink", min_windows=2)
    cutoffs = sorted(bt[CUTOFF].unique())
    assert sorted(out[CUTOFF].unique()) == cutoffs[2:]
    # change the truth after window 3's cutoff: windows up to 3 must not move
    late = bt.with_columns(pl.when(pl.col(DS) > cutoffs[3]).then(pl.col(Y) + 100).otherwise(pl.col(Y)).alias(Y))
    moved = reconcile_backtest(late, tree, "mint_shrink", min_windows=2)
    keep = pl.col(CUTOFF) <= cutoffs[3]
    assert out.filter(keep)[MEAN].equals(moved.filter(keep)[MEAN])
    assert not out.filter(~keep)[MEAN].equals(moved.filter(~keep)[MEAN])


# --- hierarchicalforecast's numbers --------------------------------------------------------------------------------


def test_same_numbers_as_hierarchicalforecast(tree: Hierarchy) -> None:
    hf_core = pytest.importorskip("hierarchicalforecast.core")
    hf_methods = pytest.importorskip("hierarchicalforecast.methods")
    pd = pytest.importorskip("pandas")
    errors = correlated_errors(tree, t_obs=60)
    values = incoherent(tree, horizon=7)
    base = base_forecasts(tree, values)
    residuals = residual_frame(tree, errors)
    assert 0.05 < shrunk_covariance(errors)[1] < 0.95  # the shrinkage is exercised, not at a bound

    s_df = pd.DataFrame(tree.S, columns=list(tree.bottom))
    s_df.insert(0, ID, list(tree.ids))
    y_hat = base.select(ID, pl.col(DS).cast(pl.Datetime("ns")), pl.col(MEAN).alias("m")).to_pandas()
    y_df = residuals.select(ID, pl.col(DS).cast(pl.Datetime("ns")), Y, pl.col(MEAN).alias("m")).to_pandas()
    tags = {level: np.array(ids) for level, ids in tree.tags.items()}
    hrec = hf_core.HierarchicalReconciliation([hf_methods.BottomUp(), hf_methods.MinTrace(method="mint_shrink")])
    ref = pl.from_pandas(hrec.reconcile(Y_hat_df=y_hat, Y_df=y_df, S_df=s_df, tags=tags)).with_columns(
        pl.col(DS).cast(pl.Date)
    )
    for method, column in (("bottom_up", "m/BottomUp"), ("mint_shrink", "m/MinTrace_method-mint_shrink")):
        ours = reconcile(base, tree, method, residuals=residuals, bounds=Bounds(-1e6, 1e6))  # no clipping occurs
        both = ours.join(ref.select(ID, DS, column), on=[ID, DS], how="inner")
        assert both.height == base.height
        np.testing.assert_allclose(both[MEAN].to_numpy(), both[column].to_numpy(), rtol=0, atol=1e-6)
