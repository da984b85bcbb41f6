"""`python -m sysmond.store PATH`: a store inspected without the daemon."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from sysmond.store import Store
from sysmond.store.__main__ import duration_text, format_info, main, size_text, span_text

from .storekit import SMALL, T0


def a_store(path):
    with Store.open(path, SMALL) as s:
        s.append_many(T0 + np.arange(700), ["cpu.usage_percent", "memory.percent"],
                      np.ones((700, 2)))
        s.append(T0 + 700, {"cpu.usage_percent": 1.0, "disk.free@/": 2.0})


def test_the_tool_lists_tiers_time_covered_sizes_and_series(tmp_path, capsys):
    a_store(tmp_path)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"store {tmp_path}" in out
    assert "3 series in 2 segments" in out
    assert "last sample 2023-11-14 22:11:40 UTC" in out
    lines = {line.split()[0]: line for line in out.splitlines()[5:8]}
    assert lines.keys() == {"raw", "10s", "1m"}
    assert "1s" in lines["raw"] and "2m" in lines["raw"] and "120" in lines["raw"]
    assert "2023-11-14 22:09:41 .. 2023-11-14 22:11:40 (2.0 min)" in lines["raw"]
    assert "1h" in lines["1m"] and "(11.0 min)" in lines["1m"]
    assert out.rstrip().endswith("cpu.usage_percent\n    disk.free@/\n    memory.percent")


def test_the_tool_reads_a_store_while_a_writer_holds_it(tmp_path):
    a_store(tmp_path)
    with Store.open(tmp_path, SMALL):
        run = subprocess.run([sys.executable, "-m", "sysmond.store", str(tmp_path),
                              "--no-series"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "series (" not in run.stdout and "raw" in run.stdout


def test_the_tool_names_the_problem_when_there_is_no_store(tmp_path, capsys):
    assert main([str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert "catalog.json: file is missing" in err


def test_an_empty_store_shows_empty_tiers(tmp_path):
    Store.open(tmp_path, SMALL).close()
    with Store.open(tmp_path, readonly=True) as s:
        text = format_info(s.info())
    rows = text.splitlines()[5:8]
    assert "0 series in 0 segments" in text and all("  empty  " in row for row in rows)


def test_spans_sizes_and_durations_read_the_way_people_say_them():
    assert [span_text(s) for s in (1, 90, 60, 300, 3600, 86400, 604800, 31536000)] == [
        "1s", "90s", "1m", "5m", "1h", "1d", "7d", "365d"]
    assert size_text(72_000_000) == "72.0 MB" and size_text(4096) == "4.1 kB"
    assert duration_text(59) == "59 s" and duration_text(7200) == "2.0 h"
    assert duration_text(30 * 86400) == "30.0 d"
