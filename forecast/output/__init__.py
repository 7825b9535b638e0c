"""What a forecast reports besides its mean, and how it lands inside the target's bounds.

- :mod:`~forecast.output.request`: the :class:`OutputRequest` (interval levels, quantiles, exceedance thresholds)
  and the output columns it implies;
- :mod:`~forecast.output.quantiles`: quantile columns read off central intervals;
- :mod:`~forecast.output.exceedance`: P(y > c) per step;
- :mod:`~forecast.output.bounds`: transforms (``none``, ``log1p``, ``logit``) and clipping into the bounds;
- :mod:`~forecast.output.series`: one model's forecast of one series mapped back to the target scale;
- :mod:`~forecast.output.nixtla`: forecast and backtest frames to and from Nixtla's wide layout (``to_nixtla``,
  ``from_nixtla``) for statsforecast and utilsforecast.
"""
