"""The `current` JSON: the PRD example's key tree, plus per-device detail beside it."""

import json
import math
import time
from pathlib import Path

from sysmond.collectors import Sample
from sysmond.collectors.registry import Registry
from sysmond.config import CollectionConfig
from sysmond.current import build_current, iso_utc
from tests.collectors.fakes import FakeSource

GOLDEN = Path(__file__).parent / "golden" / "current_prd_example.json"


def _shape_problems(golden, ours, path="$"):
    """Return where `ours` lacks a key of `golden` or differs in kind (dict/list/leaf)."""
    problems = []
    if isinstance(golden, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected an object"]
        for key, value in golden.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += _shape_problems(value, ours[key], f"{path}.{key}")
    elif isinstance(golden, list):
        if not isinstance(ours, list):
            return [f"{path}: expected a list"]
        problems += [f"{path}[]: {type(x).__name__} is not a number or null"
                     for x in ours if x is not None and not isinstance(x, (int, float))]
    elif isinstance(golden, str):
        if not isinstance(ours, str):
            problems.append(f"{path}: expected a string")
    elif ours is not None and not isinstance(ours, (int, float)):
        problems.append(f"{path}: expected a number or null")
    return problems


def _fake_document():
    src = FakeSource()
    reg = Registry.default(CollectionConfig(), source=src)
    reg.collect(wall=1_770_028_199, mono=0.0)
    src.disks["sda"] = src.disks["sda"]._replace(read_bytes=1 << 20, write_count=50)
    return build_current(reg.collect(wall=1_770_028_200, mono=1.0), "server-01")


def test_the_document_has_exactly_the_prd_examples_key_tree():
    golden = json.loads(GOLDEN.read_text())
    assert _shape_problems(golden, _fake_document()) == []


def test_on_the_real_machine_the_document_has_the_prd_shape_and_is_strict_json():
    reg = Registry.default(CollectionConfig())
    doc = build_current(reg.collect(wall=time.time(), mono=time.monotonic()), "h")
    assert _shape_problems(json.loads(GOLDEN.read_text()), doc) == []
    json.dumps(doc, allow_nan=False)  # first sample: gaps are null, never NaN


def test_per_device_detail_sits_beside_the_prd_keys():
    doc = _fake_document()
    assert doc["timestamp"] == "2026-02-02T10:30:00Z" and doc["hostname"] == "server-01"
    assert doc["cpu"]["frequency"] == {"current": 2400.0, "min": 800.0, "max": 3600.0}
    assert len(doc["cpu"]["per_core"]) == 2
    assert doc["memory"]["total"] == 17179869184 and isinstance(doc["memory"]["total"], int)
    assert set(doc["disk"]["mounts"]) == {"/", "/home"}
    assert set(doc["disk"]["mounts"]["/"]) == {"total", "used", "free", "percent"}
    assert doc["disk"]["devices"]["sda"]["read_bytes_per_sec"] == 1 << 20
    assert set(doc["disk"]["devices"]["sda"]) == set(doc["disk"]["io"])
    assert doc["disk"]["io"]["read_bytes_per_sec"] == 1 << 20
    network_keys = {k for k, v in doc["network"].items() if not isinstance(v, dict)}
    assert set(doc["network"]["interfaces"]["lo"]) == network_keys
    assert "lo" in doc["network"]["interfaces"]


def test_gaps_are_null_and_a_stuck_mount_is_listed_with_nulls():
    sample = Sample(
        timestamp=1.5, values={"cpu.usage_percent": math.nan, "cpu.usage_percent@1": 3.0},
        info={"cpu.logical_count": 2, "disk.fstype@/mnt/nfs": "nfs4",
              "disk.stuck@/mnt/nfs": True, "cpu.frequency_min": None},
        counters=(), processes=None)
    doc = build_current(sample, "h")
    assert doc["cpu"]["usage_percent"] is None and doc["cpu"]["per_core"] == [None, 3.0]
    assert doc["cpu"]["frequency"]["min"] is None
    assert doc["disk"]["mounts"]["/mnt/nfs"] == dict.fromkeys(
        ("total", "used", "free", "percent"))
    assert doc["cpu"]["load_average"] == [None, None, None]
    json.dumps(doc, allow_nan=False)


def test_timestamps_are_iso_8601_utc_with_a_z():
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(1.25) == "1970-01-01T00:00:01.250Z"
