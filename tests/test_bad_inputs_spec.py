"""Bad specs through the CLI: strict types (no text read as a number), limits that name themselves, ranges,
unknown keys and values; each exit 2 with the spec file and the key named, and nothing written.

Each case sets one key of the small demo spec (tests/_bad_input.py ``set_key``) and runs ``gridcast forecast``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _bad_input import assert_refused, run, set_key, spec_edit

TYPES = [  # (section, key, TOML value, key named, problem fragment)
    ("backtest", "h", '"7"', "backtest.h", "got str '7'"),
    ("backtest", "h", "7.0", "backtest.h", "valid integer, got float 7.0"),
    ("backtest", "n_windows", '"2"', "backtest.n_windows", "got str '2'"),
    ("backtest", "step", "true", "backtest.step", "valid integer, got bool True"),
    ("backtest", "oracle_exog", '"true"', "backtest.oracle_exog", "valid boolean, got str 'true'"),
    ("forecast", "h", '"14"', "forecast.h", "got str '14'"),
    ("", "season_length", "7.5", "season_length", "valid integer"),
    ("", "as_of", "20250101", "as_of", "expected a date such as 2025-01-31, got int 20250101"),
    ("sources.strikes", "complete_from", "1", "sources.strikes.complete_from", "got int 1"),
    ("", "description", "3", "description", "valid string"),
    ("target", "lower", '"0"', "target.lower", "got str '0'"),
    ("target", "upper", '"24"', "target.upper", "got str '24'"),
    ("forecast", "level", '["80", 95]', "forecast.level[0]", "got str '80'"),
    ("forecast", "quantiles", '["0.5"]', "forecast.quantiles[0]", "got str '0.5'"),
    ("forecast", "thresholds", '["12"]', "forecast.thresholds[0]", "got str '12'"),
    ("forecast", "calibration_windows", "4.0", "forecast.calibration_windows", "valid integer"),
    ("tracking", "log_models", '"yes"', "tracking.log_models", "got str 'yes'"),
    ("tracking", "max_fan_charts", '"6"', "tracking.max_fan_charts", "got str '6'"),
    ("tracking", "promote_margin", '"0.1"', "tracking.promote_margin", "got str '0.1'"),
    ("tracking", "uri", "5", "tracking.uri", "valid string"),
    ("models.seasonal_naive", "season_length", '"7"', "models.seasonal_naive.season_length", "integer"),
    ("sources.strikes", "max_age", "3", "sources.strikes.max_age", "valid string, got int 3"),
    ("sources.weather", "id_map", "{ kyiv = 1 }", "sources.weather.id_map.kyiv", "valid string"),
    ("sources.outages", "values", '"hours_off"', "sources.outages.values", "hours_off"),
]

LIMITS = [
    ("forecast", "h", "100000", "forecast.h", "100000 is above the limit: at most 1000"),
    ("backtest", "h", "5000", "backtest.h", "at most 1000"),
    ("backtest", "n_windows", "100000", "backtest.n_windows", "at most 500"),
    ("backtest", "step", "5000", "backtest.step", "at most 1000"),
    ("backtest", "input_size", "10000000", "backtest.input_size", "at most 1000000"),
    ("backtest", "refit_every", "501", "backtest.refit_every", "at most 500"),
    ("", "season_length", "100000", "season_length", "at most 10000"),
    ("forecast", "calibration_windows", "1000", "forecast.calibration_windows", "at most 500"),
    ("tracking", "max_fan_charts", "5000", "tracking.max_fan_charts", "at most 1000"),
    ("tracking", "promote_margin", "1.0", "tracking.promote_margin", "less than 1.0"),
    ("forecast", "quantiles", str([round(0.001 * i, 3) for i in range(1, 102)]), "forecast.quantiles", "101 entries"),
    ("", "exog", str([f"c{i}" for i in range(101)]).replace("'", '"'), "exog", "above the limit of 100"),
]

RANGES = [
    ("forecast", "h", "0", "forecast.h", "greater than 0"),
    ("tracking", "uri", '"http://ops:s3cret@127.0.0.1:5000"', "tracking.uri", "MLFLOW_TRACKING_PASSWORD"),
    ("backtest", "h", "-1", "backtest.h", "greater than 0"),
    ("forecast", "level", "[100]", "forecast.level", "strictly between 0 and 100"),
    ("forecast", "quantiles", "[1.5]", "forecast.quantiles", "strictly between 0 and 1"),
    ("target", "lower", "30.0", "target", "lower (30.0) must be below upper (24.0)"),
    ("", "freq", '"1w"', "freq", "'1d' or '1h'"),
    ("", "freq", '"1h"', "(top level)", "daily-only sources"),
    ("", "name", '"de mo"', "name", "pattern"),
    ("target", "transform", '"sqrt"', "target.transform", "'none', 'log1p' or 'logit'"),
    ("forecast", "intervals", '"both"', "forecast.intervals", "'conformal' or 'model'"),
    ("sources.weather", "join", '"both"', "sources.weather.join", "'broadcast' or 'match'"),
    ("sources.weather", "collapse", '"max"', "sources.weather.collapse", "'sum' or 'mean'"),
    ("sources.outages", "format", '"xlsx"', "sources.outages.format", "'csv', 'parquet', 'ndjson' or 'json'"),
    ("sources.strikes", "complete_through", '"never"', "sources.strikes.complete_through", "'never'"),
    ("sources.strikes", "max_age", '"3 days"', "sources.strikes.max_age", 'such as "3d"'),
    ("sources.strikes", "stale", '"abort"', "sources.strikes.stale", "'warn' or 'fail'"),
    ("sources.outages", "reader", '"excel"', "sources.outages", "unknown or missing 'reader'"),
    ("target", "source", '"nope"', "target.source", "'nope' is not one of sources"),
    ("", "exog_providers", '{ wind = "last_value" }', "exog_providers", "'wind', which is not in exog"),
    ("", "fallback", '"prophet_typo"', "fallback", "prophet_typo"),
    ("paths", "temp_mean_c", '"tomorrow"', "paths.temp_mean_c", "tomorrow"),
    ("paths", "allow", '"../elsewhere"', "paths.allow", "valid list"),
    ("paths", "allow", "[3]", "paths.allow[0]", "not a valid path"),
    ("models.sarimax", "trend", "3", "models.sarimax.trend", ""),
    ("sources.weather", "use", '["wind_chill"]', "sources.weather.use", "'wind_chill' is not a column"),
]

UNKNOWN = [
    ("", "foo", "1", "foo", "unknown key"),
    ("sources.outages", "sep", '";"', "sources.outages.sep", "unknown key"),
    ("target", "bounds", "[0, 24]", "target.bounds", "unknown key"),
    ("forecast", "horizon", "14", "forecast.horizon", "unknown key"),
    ("tracking", "url", '"http://x"', "tracking.url", "unknown key"),
    ("backtest", "window", "3", "backtest.window", "unknown key"),
    ("models.sarimax", "orders", "[1, 0, 0]", "models.sarimax.orders", "unknown parameter"),
    (
        "sources.outages",
        "columns",
        '{ id = "region", ds = "date" }',
        "sources.outages.columns.id",
        "'unique_id' or 'ds'",
    ),
]


def _ids(cases: list[tuple[str, ...]]) -> list[str]:
    return [f"{s or 'top'}.{k}={v[:20]}" for s, k, v, *_ in cases]


@pytest.mark.parametrize(
    ("section", "key", "value", "named", "problem"),
    TYPES + LIMITS + RANGES + UNKNOWN,
    ids=_ids(TYPES) + _ids(LIMITS) + _ids(RANGES) + _ids(UNKNOWN),
)
def test_a_bad_key_is_refused_naming_the_spec_and_the_key(
    workdir: Path, section: str, key: str, value: str, named: str, problem: str
) -> None:
    set_key(section, key, value)(workdir)
    assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, [f"spec.toml: key '{named}'", problem])


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        ('name = "demo"\n', "", ["key 'name'", "Field required"]),
        ("[forecast]\nh = 14\n", "[forecast]\n", ["key 'forecast.h'", "Field required"]),
        ('column = "hours_off"\n', "", ["key 'target.column'", "Field required"]),
        (
            '[models.sarimax]\norder = [1, 0, 0]\ntrend = "c"\n',
            '[models.sarimax]\nkind = "no_such_model"\n',
            ["key 'models.sarimax'", "unknown model"],
        ),
        (
            "weight = 0.01\n",
            'weight = "0.01"\n',
            ["key 'features[1].weight'", "expected a number, got str '0.01'"],
        ),
        ("\n[paths]\n", '\nallow_paths = ["b"]\n[paths]\nallow = ["a"]\n', ["key 'paths.allow'", "twice"]),
        ('freq = "1d"\n', 'freq = "1d"\nstart = 2025-01-10\nend = 2025-01-05\n', ["key 'start'", "before end"]),
        ("[paths]\n", '[scenarios.Bad]\nlaunched_uav = "zero"\n\n[paths]\n', ["key 'scenarios.Bad'", "lower-case"]),
    ],
    ids=[
        "no name",
        "no forecast.h",
        "no target.column",
        "unknown model kind",
        "indicator text number",
        "allow twice",
        "scenario name",
        "start after end",
    ],
)
def test_missing_and_nested_keys_are_named(workdir: Path, old: str, new: str, fragments: list[str]) -> None:
    spec_edit(old, new)(workdir)
    assert_refused(run(["forecast", "--config", "spec.toml"]), workdir, ["spec.toml", *fragments])
