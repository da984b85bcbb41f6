"""Fixtures for alert tests: a settable clock and engines over a temporary state dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sysmond.alerts import AlertEngine
from sysmond.config import AlertsConfig
from tests.alerts.helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_engine(tmp_path: Path, clock: Clock) -> Callable[..., AlertEngine]:
    def make(cfg: AlertsConfig, state_dir: Path | None = None, **kw) -> AlertEngine:
        return AlertEngine(cfg, state_dir or tmp_path, "web1", clock=clock, **kw)

    return make
