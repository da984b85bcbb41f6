"""Fixtures for the browser tests: a real daemon with the dashboard, and Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.daemon_helpers import DaemonProcess as Dashboard
from tests.web.cdp import Browser, chromium_path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

__all__ = ["ARTIFACTS", "Dashboard"]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (scripts/apt-packages.txt)")
    d = Dashboard(tmp_path_factory.mktemp("dash") / "state")
    try:
        d.wait_ready()
        yield d
    finally:
        d.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if chromium_path() is None:
        pytest.skip("chromium is not installed (scripts/apt-packages.txt)")
    async with Browser() as b:
        yield b
