"""A time limit on one model's fit and predictions on one series, so a model that hangs falls back.

:class:`Deadline` is one model's time on one series (its fit and every prediction share it);
:func:`call_with_time_limit` runs one call under what is left. When the time is up the call is interrupted with
:class:`ModelTimeout`, and :mod:`forecast.engine` forecasts that series with the fallback, recording
``"<model> exceeded its 60 s time limit on this series"``; the other series and models are not touched.

Mechanism: ``SIGALRM`` from ``setitimer(ITIMER_REAL)``, whose handler raises in the main thread. Chosen because
    - it costs next to nothing when no model hangs (a few system calls per model and series: about 10 µs), and the
      engine, its fitted models and the backtest's state stay in one process;
    - a thread cannot be stopped: a fit given up on would keep running, holding memory and a share of the GIL,
      and could still write into state the engine has moved past;
    - a subprocess per fit can be killed, but each one costs a process start, the imports (statsmodels, Prophet:
      seconds) and pickling the series and the fitted model both ways, per model, series and backtest window:
      more than most fits themselves. A pool of workers restarted on a timeout is the next step if ever needed.
    The signal stops the Python-level loops where fits spin (scipy's optimisers call the Python objective every
    iteration; statsmodels' order searches, Prophet's wrapper and ensembles are Python): SARIMAX, ETS, MSTL and
    Prophet fits on 900 days, limited to 0.3 s, stopped within about 15 ms of it.

What it cannot do, said rather than hidden:
    - Code that never returns to Python (one long numba ``nopython`` kernel or LAPACK call) is interrupted only
      when it returns; the limit is then late, not lost.
    - Prophet's fit waits on a CmdStan child process; the wait is interrupted, but cmdstanpy does not stop the
      child, which finishes its optimisation on its own (or ends with the job).
    - No limit is applied, and this is logged once per process (never silently; a job also prints it as a
      ``warning:`` line, from :func:`limit_unavailable`), when the call is not in the main thread (signals are
      delivered there only), when the platform has no ``SIGALRM``/``setitimer`` (Windows), when another real-time
      timer is already armed (pytest-timeout's signal method, a caller's own alarm: the timer is one per process
      and is not taken from its owner), or when a non-Python ``SIGALRM`` handler is installed (it could not be
      restored).

:class:`ModelTimeout` derives from :class:`BaseException`, as :class:`KeyboardInterrupt` does, so a model's own
``except Exception:`` (an order search skipping a candidate that fails) does not swallow it; and the alarm repeats
every :data:`REPEAT_S` seconds after the limit until the call returns, so a bare ``except:`` in a retry loop is
interrupted again. The handler raises only while its call runs; the ``finally`` that ends every call first turns it
off, then disarms the timer, then puts the previous handler back, whatever happened inside.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

REPEAT_S = 1.0
"""Seconds between repeated alarms once the limit is reached, until the interrupted call returns (the limit itself
when shorter)."""

log = logging.getLogger(__name__)
_said: set[str] = set()


class ModelTimeout(BaseException):
    """A model's fit or prediction on one series ran past its time limit of ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"exceeded its {seconds:g} s time limit on this series")
        self.seconds = seconds


def check_time_limit(value: Any, key: str = "model_time_limit") -> float | None:
    """A validated limit in seconds: a finite number ``>= 0``; ``None`` or ``0`` (no limit) become ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{key}: expected seconds as a finite number >= 0 (0 or None: no limit), got {value!r}")
    return float(value) or None


def limit_unavailable() -> str | None:
    """Why no limit can be applied here and now (``None`` when it can)."""
    if not hasattr(signal, "setitimer") or not hasattr(signal, "SIGALRM"):
        return "this platform has no SIGALRM/setitimer"
    if threading.current_thread() is not threading.main_thread():
        return "the models run outside the main thread, where no signal is delivered"
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        return "another real-time timer (SIGALRM) is already armed in this process"
    if signal.getsignal(signal.SIGALRM) is None:
        return "a SIGALRM handler not installed from Python is in place"
    return None


def _say_once(reason: str) -> None:
    if reason not in _said:
        _said.add(reason)
        log.warning("model time limit not applied: %s; a model that hangs will hang the job", reason)


def call_with_time_limit(fn: Callable[[], T], seconds: float, *, limit: float | None = None) -> T:
    """``fn()`` interrupted by :class:`ModelTimeout` after ``seconds`` (see the module docstring for the mechanism
    and when no limit can be applied). ``limit`` is the limit the exception reports (default ``seconds``)."""
    reported = seconds if limit is None else limit
    if seconds <= 0:
        raise ModelTimeout(reported)
    why_not = limit_unavailable()
    if why_not is not None:
        _say_once(why_not)
        return fn()
    active = True

    def on_alarm(signum: int, frame: Any) -> None:
        if active:
            raise ModelTimeout(reported)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds, min(REPEAT_S, reported))
        return fn()
    finally:
        active = False  # first: from here the handler never raises, even if an alarm is already pending
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Deadline:
    """One model's time on one series: ``seconds`` from construction, shared by its fit and every prediction
    (``None``: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds or None
        self._end = None if self.seconds is None else time.monotonic() + self.seconds

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` under the time left (:class:`ModelTimeout` at once when none is)."""
        if self._end is None or self.seconds is None:
            return fn(*args, **kwargs)
        return call_with_time_limit(partial(fn, *args, **kwargs), self._end - time.monotonic(), limit=self.seconds)
