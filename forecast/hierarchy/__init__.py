"""Hierarchy-coherent forecasts: series that sum (queues → groups → city, regions → country), the frame of every
level, and reconciliation (bottom-up, MinT-shrink) with bounded, exactly coherent results (``docs/hierarchy.md``).

- :mod:`~forecast.hierarchy.structure`: :class:`Hierarchy` (levels, ids, summing matrix ``S``);
- :mod:`~forecast.hierarchy.rules`: a hierarchy from the bottom ids and one naming rule per level (the spec's shape);
- :mod:`~forecast.hierarchy.aggregate`: :func:`aggregate`, every level's series from the bottom ones;
- :mod:`~forecast.hierarchy.covariance`: the Schäfer–Strimmer shrunk error covariance;
- :mod:`~forecast.hierarchy.projection`: the bottom-up and MinT maps;
- :mod:`~forecast.hierarchy.reconcile`: :func:`reconcile` (forecast frames), :func:`reconcile_backtest`.
"""

from forecast.hierarchy.aggregate import aggregate
from forecast.hierarchy.covariance import shrunk_covariance
from forecast.hierarchy.projection import bottom_up_matrix, mint_matrix
from forecast.hierarchy.reconcile import METHODS, coherence_gap, reconcile, reconcile_backtest, residual_matrix
from forecast.hierarchy.rules import from_rules, make_rule
from forecast.hierarchy.structure import Hierarchy

__all__ = [
    "METHODS",
    "Hierarchy",
    "aggregate",
    "bottom_up_matrix",
    "coherence_gap",
    "from_rules",
    "make_rule",
    "mint_matrix",
    "reconcile",
    "reconcile_backtest",
    "residual_matrix",
    "shrunk_covariance",
]
