"""Where a job computes its series: the spec's ``[executor]``, the command line's ``--executor``, or the default.

```toml
[executor]
kind = "processes"    # "serial", "processes" (the default) or "dask"
workers = 4           # processes, or a local Dask cluster's workers (default: every core the job may use)
address = "tcp://scheduler:8786"   # dask only: a running scheduler (default: a local cluster)
chunk_size = 50       # series per work item (default: ⌈series / (4 · workers)⌉)
```

Precedence: ``gridcast forecast --executor … --workers … --address …`` over the spec's ``[executor]`` over the
environment's ``GRIDCAST_EXECUTOR`` (a machine-wide default, e.g. ``serial`` on a host that runs many jobs at once)
over ``processes``. The executor never changes the numbers (:mod:`forecast.parallel`), so it is not part of the
spec's evaluation hash: runs made with different executors compare.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forecast.parallel import EXECUTORS, Executor, make_executor

ENV = "GRIDCAST_EXECUTOR"
DEFAULT = "processes"
ExecutorKind = Literal["serial", "processes", "dask"]


class ExecutorSpec(BaseModel):
    """The spec's ``[executor]`` (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: ExecutorKind | None = None
    workers: int | None = Field(default=None, gt=0, le=4096)
    address: str | None = Field(default=None, pattern=r"^(tcp|tls|inproc|ucx)://\S+$")
    chunk_size: int | None = Field(default=None, gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _address_for_dask(self) -> ExecutorSpec:
        if self.address is not None and self.kind not in ("dask", None):
            raise ValueError(f"address is for the dask executor, not {self.kind!r}")
        return self


@dataclass(frozen=True)
class ExecutorChoice:
    """The command line's overrides (``None``: not given)."""

    kind: str | None = None
    workers: int | None = None
    address: str | None = None


def chosen(spec: ExecutorSpec, override: ExecutorChoice | None = None) -> tuple[str, int | None, str | None]:
    """``(kind, workers, address)`` after the precedence of the module docstring; ``ValueError`` naming the key."""
    o = override or ExecutorChoice()
    env = os.environ.get(ENV) or None
    if env is not None and env not in EXECUTORS:
        raise ValueError(f"{ENV}: expected one of {', '.join(EXECUTORS)}, got {env!r}")
    address = o.address or spec.address
    kind = o.kind or spec.kind or ("dask" if address else None) or env or DEFAULT
    if address is not None and kind != "dask":
        raise ValueError(f"executor address: only the dask executor takes an address (the executor is {kind})")
    return kind, o.workers or spec.workers, address


def job_executor(spec: ExecutorSpec, override: ExecutorChoice | None = None) -> Executor:
    """The executor a job runs on (not started yet: workers start at the first chunked work)."""
    kind, workers, address = chosen(spec, override)
    return make_executor(kind, workers=workers, address=address)
