"""A new series that cannot be recorded leaves the store as it was, ready to retry."""

from __future__ import annotations

import errno

import pytest

from sysmond.config import TierConfig
from sysmond.errors import StoreError
from sysmond.store import Store
from sysmond.store import engine as engine_module

TIERS = (TierConfig("raw", 1, 120), TierConfig("m", 10, 600))
T0 = 1_790_000_000


def test_a_catalog_that_cannot_be_written_undoes_the_new_columns(tmp_path, monkeypatch):
    store = Store.open(tmp_path / "s", TIERS)
    store.append(T0, {"a": 1.0})
    files_before = sorted(p.name for p in (tmp_path / "s").iterdir())

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(engine_module, "write_atomic", full)
        for _ in range(20):  # the spare columns of the first segment: none; new segment
            with pytest.raises(StoreError, match="cannot record new series"):
                store.append(T0 + 1, {"a": 2.0, "b": 3.0})
    assert store.series() == ["a"]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == files_before
    assert store.last_time == T0

    assert store.append(T0 + 1, {"a": 2.0, "b": 3.0})
    store.close()
    reopened = Store.open(tmp_path / "s", readonly=True)
    res = reopened.query(["a", "b"], T0, T0 + 1, tier="raw", now=T0 + 1)
    assert res.avg[0].tolist() == [1.0, 2.0]
    assert res.avg[1, 1] == 3.0
    reopened.close()
