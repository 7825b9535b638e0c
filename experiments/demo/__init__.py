"""The built-in demo dataset: deterministic synthetic data in the raw shapes of the real sources.

Not real data: it exists so that ``make forecast`` runs on a fresh machine, and for property tests. Its generating
process is documented in ``docs/demo-data.md``.
"""

from experiments.demo.generate import *  # noqa: F403  (split into parts by the architecture pass)
