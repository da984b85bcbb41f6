"""Build the deb and rpm once per test session, with packaging/build.sh, into a temp dir."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest

from tests.packaging.machine import REPO


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if platform.machine() != "x86_64":
        pytest.skip("the packages are built for x86_64 only")
    if not Path("/usr/bin/python3.11").exists():
        pytest.skip("Debian's python3.11 is not installed")
    dist = tmp_path_factory.mktemp("dist")
    r = subprocess.run([str(REPO / "packaging/build.sh"), "all"], capture_output=True,
                       text=True, timeout=900, env={**os.environ, "DIST": str(dist)})
    assert r.returncode == 0, f"packaging/build.sh all failed:\n{r.stderr[-5000:]}"
    deb, rpm = (Path(line) for line in r.stdout.split())
    return {"deb": deb, "rpm": rpm}
