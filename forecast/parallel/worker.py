"""What the worker processes hold before their first item: the forecasting code, imported once.

:class:`~forecast.parallel.executors.ProcessExecutor`'s fork server imports this module (by name, before any worker
exists); every worker is a fork of that server, so it starts with numpy, Polars, statsmodels and the model code
already in memory, and the numba kernels load from their on-disk cache at first use.
"""

from __future__ import annotations

import forecast.backtest
import forecast.models.registry
import forecast.scenarios

PRELOADED = (forecast.backtest.__name__, forecast.models.registry.__name__, forecast.scenarios.__name__)
