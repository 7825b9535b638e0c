"""M4 Hourly as an external check: the project's Naive1, seasonal naive and Naive2 reproduce the organisers'.

All 414 hourly series, h = 48, m = 24 (see ../shared/data/m4/SOURCE.md). The forecasts are compared with the
organisers' submitted forecasts value by value, and sMAPE, MASE and OWA (computed with :mod:`forecast.metrics`)
with the published table to its 3 decimals. OWA is published as computed from the rounded sMAPE and MASE, so it
is compared that way (and, unrounded, to within 0.001).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from features.errors import DataError
from features.ingest.sources.m4 import M4_HOURLY_H, M4_HOURLY_M, read_m4, read_m4_split, split_last
from forecast.metrics import mase, owa, smape
from forecast.models import Naive, Naive2, SeasonalNaive

pytestmark = pytest.mark.realdata

H, M = M4_HOURLY_H, M4_HOURLY_M
OFFICIAL = {"Naive1": "Naive", "sNaive": "sNaive", "Naive2": "Naive2"}


@pytest.fixture(scope="module")
def m4(shared_data: Path) -> Path:
    path = shared_data / "m4"
    if not (path / "Hourly-train.csv").exists():
        pytest.skip("M4 Hourly files not found")
    return path


@pytest.fixture(scope="module")
def hourly(m4: Path) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    train, test = read_m4_split(m4 / "Hourly-train.csv", m4 / "Hourly-test.csv")
    tr = {k[0]: v.get_column("y").to_numpy() for k, v in train.partition_by("unique_id", as_dict=True).items()}
    te = {k[0]: v.get_column("y").to_numpy() for k, v in test.partition_by("unique_id", as_dict=True).items()}
    ids = sorted(tr, key=lambda s: int(s[1:]))
    return ids, [tr[i] for i in ids], [te[i] for i in ids]


@pytest.fixture(scope="module")
def forecasts(hourly) -> dict[str, list[np.ndarray]]:
    _, train, _ = hourly
    makers = {"Naive1": Naive, "sNaive": lambda: SeasonalNaive(M), "Naive2": lambda: Naive2(M)}
    return {name: [make().fit(y).predict(H, level=()).mean for y in train] for name, make in makers.items()}


def test_reader_shapes_and_grid(m4: Path, hourly):
    ids, train, test = hourly
    assert len(ids) == 414 and ids[0] == "H1" and ids[-1] == "H414"
    lengths = sorted({y.size for y in train})
    assert lengths == [700, 960] and sum(y.size == 960 for y in train) == 245
    assert all(y.size == H for y in test)
    full = read_m4(m4 / "Hourly-train.csv", m4 / "Hourly-test.csv")
    assert full.schema == pl.Schema({"unique_id": pl.String, "ds": pl.Datetime("us", "UTC"), "y": pl.Float64})
    h1 = full.filter(pl.col("unique_id") == "H1")
    assert h1.height == 748 and str(h1["ds"][0]) == "2000-01-01 00:00:00+00:00"
    assert h1["ds"].diff().drop_nulls().dt.total_hours().unique().to_list() == [1]
    tr, te = split_last(full, H)
    np.testing.assert_array_equal(te.filter(pl.col("unique_id") == "H1")["y"].to_numpy(), test[0])
    assert tr.height == sum(y.size for y in train)
    assert str(te.filter(pl.col("unique_id") == "H1")["ds"][0]) == "2000-01-30 04:00:00+00:00"  # 700 h later


@pytest.mark.parametrize("method", list(OFFICIAL))
def test_forecasts_equal_the_official_submissions(m4: Path, hourly, forecasts, method):
    ids, _, _ = hourly
    official = pl.read_csv(m4 / f"official_forecasts_hourly_{OFFICIAL[method]}.csv", infer_schema_length=None)
    rows = {r[0]: np.array(r[1:], dtype=np.float64) for r in official.iter_rows()}
    ours = np.stack(forecasts[method])
    theirs = np.stack([rows[i] for i in ids])
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)  # the CSVs carry ~10 significant digits


def test_scores_match_the_published_table(m4: Path, hourly, forecasts):
    _, train, test = hourly
    published = {r["method"]: r for r in pl.read_csv(m4 / "published_hourly.csv").iter_rows(named=True)}
    scores = {}
    for method, fc in forecasts.items():
        s = float(np.mean([smape(y, f) for y, f in zip(test, fc, strict=True)]))
        m = float(np.mean([mase(y, f, x, M) for y, f, x in zip(test, fc, train, strict=True)]))
        scores[method] = (s, m)
    s2, m2 = scores["Naive2"]
    for method, (s, m) in scores.items():
        pub = published[method]
        assert round(s, 3) == pytest.approx(pub["smape"], abs=1e-9), method
        assert round(m, 3) == pytest.approx(pub["mase"], abs=1e-9), method
        assert owa(round(s, 3), round(m, 3), round(s2, 3), round(m2, 3)) == pytest.approx(pub["owa"], abs=1e-6)
        assert owa(s, m, s2, m2) == pytest.approx(pub["owa"], abs=1e-3)


def test_naive2_seasonality_decisions(hourly):
    _, train, _ = hourly
    seasonal = [Naive2(M).fit(y).seasonal_ for y in train]
    assert 0 < sum(seasonal) < len(seasonal)  # the test matters: some hourly series are not seasonal at lag 24


def test_reader_rejects_bad_files(tmp_path: Path):
    bad = tmp_path / "train.csv"
    bad.write_text('"V1","V2","V3","V4"\n"H1","1","NA","3"\n')
    with pytest.raises(DataError, match="value after NA padding"):
        read_m4(bad)
    bad.write_text('"V1","V2","V3"\n"H1","1","x"\n')
    with pytest.raises(DataError, match="non-numeric value"):
        read_m4(bad)
    good = tmp_path / "ok.csv"
    good.write_text('"V1","V2","V3"\n"H1","1","2"\n"H2","5","NA"\n')
    test = tmp_path / "test.csv"
    test.write_text('"V1","V2"\n"H1","3"\n"H3","4"\n')
    with pytest.raises(DataError, match="ids differ from the train file"):
        read_m4_split(good, test)
    frame = read_m4(good)
    assert frame["y"].to_list() == [1.0, 2.0, 5.0] and frame["unique_id"].to_list() == ["H1", "H1", "H2"]
