"""The random streams of the demo, and the AR(1) path both temperature and outage noise draw.

Every random component draws from its own child of ``SeedSequence(seed)``, spawned in the fixed order of
:data:`STREAMS`, so changing one component never shifts another. Appending a stream keeps the others; reordering
or removing one changes every dataset (bump ``GENERATOR_VERSION`` then).
"""

from __future__ import annotations

import math

import numpy as np

STREAMS: tuple[str, ...] = ("strikes", "events", "weather", "snaps", "outage_noise", "gaps")


def spawn_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """One child ``SeedSequence`` per name of :data:`STREAMS`, spawned in that order from ``SeedSequence(seed)``."""
    return dict(zip(STREAMS, np.random.SeedSequence(seed).spawn(len(STREAMS)), strict=True))


def ar1(rng: np.random.Generator, n: int, k: int, phi: float, sigma: float, common: float) -> np.ndarray:
    """AR(1) paths (n, k) from a stationary start; innovations mix a shared and an own normal draw."""
    z = common * rng.standard_normal((n, 1)) + math.sqrt(1.0 - common**2) * rng.standard_normal((n, k))
    out = np.empty((n, k))
    state = z[0] * sigma / math.sqrt(1.0 - phi**2)
    for t in range(n):
        state = state if t == 0 else phi * state + sigma * z[t]
        out[t] = state
    return out
