"""Jobs: a spec run as a backtest or a forecast, its outputs written atomically under ``out/<spec>/<as-of>/``."""
