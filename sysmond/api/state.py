"""What the HTTP API is given by the daemon: built objects and callables, nothing global.

`create_app(AppState(...))` is the whole contract between the daemon and the API, so a
test builds an `AppState` from a small store and a fake `latest` and needs no daemon.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from sysmond.collectors import ProcessTable, Sample
    from sysmond.config import Config
    from sysmond.store import Store


class Latest(NamedTuple):
    """The newest tick, as the daemon publishes it once per tick.

    `current_json` is the PRD-shaped `/api/v1/metrics/current` body, encoded once by the
    daemon and served as is. `stored_at` is the wall time the tick finished. `processes`
    is the newest top-N table (carried over the ticks where processes were not sampled,
    since `Sample.processes` is None on those); None falls back to `sample.processes`.
    """

    sample: Sample
    current_json: bytes
    stored_at: float
    processes: ProcessTable | None = None


class AlertSource(Protocol):
    """What the API reads from `sysmond.alerts`' engine."""

    def states(self) -> Sequence[Any]: ...  # AlertState records (with .to_json())

    def history(self, start: float | None, end: float | None, rule: str | None = None,
                limit: int = 100) -> Sequence[Any]: ...  # HistoryRecord, newest first


class ProcessSource(Protocol):
    """What the API reads from `sysmond.store.processes`' history."""

    def at(self, t: float) -> ProcessTable | None: ...  # the table in force at `t`


@dataclass
class AppState:
    """Everything the API serves from. Only `latest`, `health` and the store change.

    `health()` returns the daemon's own facts; the API reads these keys when present
    (all optional, anything else is passed through into `/api/v1/health`):
      interval (s), last_sample (wall s), tick_lag (s, the last tick),
      tick_lag_max (s, since start), collectors ({name: {ok, duration, error}}),
      store ({state: "ok"|"failing", error, pending, writes, dropped}), series (count).
    """

    config: Config
    store: Store  # the writer's Store; queried from worker threads only
    hostname: str
    started_at: float  # wall time the daemon started
    clock: Callable[[], float] = time.time
    latest: Callable[[], Latest | None] = lambda: None
    health: Callable[[], Mapping[str, Any]] = dict
    alerts: AlertSource | None = None
    processes: ProcessSource | None = None
    # Not part of the daemon's contract: knobs for tests and the benchmark.
    query_workers: int = field(default=2, repr=False)


STATE = web.AppKey("sysmond_state", AppState)
