"""Time series: the columnar shape, field names, device choice, gaps, tiers, CSV."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from sysmond.api.series import SeriesParams, json_array, resolve, rounded
from sysmond.metrics import METRICS

from .conftest import GAP, NOW, TIERS, value_at

KEYS = {"metric", "device", "tier", "step", "start", "end", "timestamps", "series", "units"}


async def get_json(client, path, status=200):
    r = await client.get(path)
    assert r.status == status, await r.text()
    return await r.json()


async def test_the_default_is_the_last_hour_of_totals_from_the_finest_tier(client):
    doc = await get_json(client, "/api/v1/metrics/cpu")
    assert set(doc) == KEYS
    assert doc["metric"] == "cpu" and doc["device"] is None
    assert doc["tier"] == "raw" and doc["step"] == 10
    assert doc["timestamps"][0] == doc["start"] == NOW + 1 - 3_600 - 1  # floored to 10 s
    assert len(doc["timestamps"]) == 361
    fields = [m.field for m in METRICS if m.area == "cpu" and m.stored]
    assert list(doc["series"]) == fields  # catalogue order, names as in `current`
    for field, planes in doc["series"].items():
        assert set(planes) == {"avg", "min", "max"}, field
        assert all(len(v) == 361 for v in planes.values())


async def test_values_are_the_stored_ones_rounded(client):
    doc = await get_json(client, f"/api/v1/metrics/memory?start={NOW - 100:.0f}&end={NOW:.0f}")
    ts = np.array(doc["timestamps"], dtype=np.float64)
    want = value_at("memory.percent", ts).astype(np.float32).astype(np.float64)
    got = np.array(doc["series"]["percent"]["avg"], dtype=np.float64)
    assert np.allclose(got, want, rtol=0, atol=1e-4)
    # one raw sample a point: its min and max are the value itself
    assert doc["series"]["percent"]["min"] == doc["series"]["percent"]["max"] == \
        doc["series"]["percent"]["avg"]


async def test_one_core_is_chosen_with_core_and_keeps_its_field_name(client):
    doc = await get_json(client, "/api/v1/metrics/cpu?core=3&range=10m")
    assert doc["device"] == "3"
    assert list(doc["series"]) == ["usage_percent"]
    ts = np.array(doc["timestamps"], dtype=np.float64)
    want = value_at("cpu.usage_percent@3", ts)
    assert np.allclose(doc["series"]["usage_percent"]["avg"], want, atol=1e-3)


@pytest.mark.parametrize(("query", "fields"), [
    ("disk?mount=/home", {"total", "used", "free", "percent"}),
    ("disk?device=nvme0n1", {"read_bytes_per_sec", "write_bytes_per_sec",
                             "read_count_per_sec", "write_count_per_sec", "busy_percent"}),
    ("network?interface=lo", {"bytes_sent_per_sec", "bytes_recv_per_sec",
                              "packets_sent_per_sec", "packets_recv_per_sec", "errors_in",
                              "errors_out", "drops_in", "drops_out"}),
])
async def test_a_device_parameter_selects_that_kind_of_field(client, query, fields):
    doc = await get_json(client, f"/api/v1/metrics/{query}")
    assert set(doc["series"]) == fields


async def test_fields_answers_only_those_in_the_order_given(client):
    whole = await get_json(client, "/api/v1/metrics/cpu?range=10m")
    doc = await get_json(client, "/api/v1/metrics/cpu?range=10m"
                                 "&fields=iowait_percent,usage_percent")
    assert list(doc["series"]) == ["iowait_percent", "usage_percent"]
    assert list(doc["units"]) == ["iowait_percent", "usage_percent"]
    assert doc["timestamps"] == whole["timestamps"]
    for f in doc["series"]:
        assert doc["series"][f] == whole["series"][f]
    one = await get_json(client, "/api/v1/metrics/network?interface=eth0&range=10m"
                                 "&fields=bytes_recv_per_sec")
    assert list(one["series"]) == ["bytes_recv_per_sec"]
    r = await client.get("/api/v1/metrics/cpu?range=10m&fields=usage_percent&format=csv")
    header = (await r.text()).splitlines()[0]
    assert header == "timestamp,time,usage_percent_avg,usage_percent_min,usage_percent_max"


async def test_an_unknown_field_is_a_400_listing_the_known_ones(client):
    r = await client.get("/api/v1/metrics/memory?fields=percent,swap_pct")
    assert r.status == 400
    body = await r.json()
    assert body["error"] == "invalid parameter 'fields'"
    assert "memory totals has no field 'swap_pct'" in body["detail"]
    assert "swap_percent" in body["detail"] and "available" in body["detail"]


def test_a_known_field_not_recorded_yet_is_left_out_not_refused():
    p = SeriesParams("cpu", None, None, NOW - 60, NOW, 10, None, "json",
                     ("usage_percent", "iowait_percent"))
    assert resolve(p, []) == []  # a store with nothing yet: as without `fields`
    held = resolve(p, ["cpu.iowait_percent"])
    assert [f.name for f in held] == ["iowait_percent"]


async def test_disk_totals_hold_both_mount_and_io_fields(client):
    doc = await get_json(client, "/api/v1/metrics/disk")
    assert {"percent", "read_bytes_per_sec", "busy_percent"} <= set(doc["series"])


async def test_an_unknown_device_is_a_404_listing_the_known_ones(client):
    r = await client.get("/api/v1/metrics/network?interface=wlan9")
    assert r.status == 404
    body = await r.json()
    assert body["error"] == "unknown interface 'wlan9'"
    assert "eth0" in body["detail"] and "lo" in body["detail"]


async def test_a_gap_comes_back_as_null(client):
    doc = await get_json(client, f"/api/v1/metrics/cpu?start={GAP[0] - 20:.0f}"
                                 f"&end={GAP[1] + 10:.0f}")
    avg = doc["series"]["usage_percent"]["avg"]
    ts = doc["timestamps"]
    for t, v in zip(ts, avg):
        assert (v is None) == (GAP[0] <= t < GAP[1]), t


async def test_a_range_before_the_first_sample_is_200_with_nulls(client):
    doc = await get_json(client, "/api/v1/metrics/memory?range=1y&points=12")
    assert doc["tier"] == "1h"
    avg = doc["series"]["percent"]["avg"]
    assert avg[0] is None and avg[-1] is not None


async def test_more_rows_than_points_merge_into_buckets(client):
    doc = await get_json(client, "/api/v1/metrics/cpu?core=1&range=1d&points=24")
    assert len(doc["timestamps"]) <= 24
    assert doc["step"] % 10 == 0 and doc["step"] >= 3_600
    planes = doc["series"]["usage_percent"]
    for lo, mid, hi in zip(planes["min"], planes["avg"], planes["max"]):
        if mid is not None:
            assert lo <= mid <= hi
    assert max(planes["max"]) > 89 and min(planes["min"]) < 11  # the wave's extremes


async def test_the_finest_tier_covering_the_start_answers_unless_one_is_named(client):
    doc = await get_json(client, "/api/v1/metrics/memory?range=2d")
    assert doc["tier"] == "5m"
    doc = await get_json(client, "/api/v1/metrics/memory?range=2d&tier=1h")
    assert doc["tier"] == "1h" and doc["step"] == 3_600


async def test_csv_has_one_row_per_point_and_empty_cells_for_gaps(client):
    r = await client.get(f"/api/v1/metrics/cpu?core=0&format=csv&start={GAP[0] - 20:.0f}"
                         f"&end={GAP[0] + 10:.0f}")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(await r.text())))
    assert rows[0] == ["timestamp", "time", "usage_percent_avg", "usage_percent_min",
                       "usage_percent_max"]
    assert len(rows) == 1 + 4
    assert rows[1][1].endswith("Z") and rows[1][2] != ""
    assert rows[-1][2:] == ["", "", ""]


def test_rounding_keeps_at_most_seven_significant_digits_or_four_decimals():
    a = np.array([12.345678, 0.000123456, 123456789.0, 17179869184.0, 0.0, np.nan, np.inf])
    assert rounded(a)[:5].tolist() == [12.3457, 0.0001, 123456789.0, 17179869184.0, 0.0]
    assert json_array(a) == "[12.3457,0.0001,123456789.0,17179869184.0,0.0,null,null]"
    assert json_array(np.array([1e9, np.nan, 2.0])) == "[1000000000,null,2]"


def test_the_test_ladder_is_what_the_assertions_assume():
    assert [t.name for t in TIERS] == ["raw", "5m", "1h"]


def test_the_store_answers_with_the_buckets_the_cache_key_is_made_of(store):
    """The cache key must change whenever the store's answer could: same buckets."""
    from sysmond.store.read import buckets

    rng = np.random.default_rng(7)
    names = ["cpu.usage_percent"]
    for _ in range(300):
        k = int(rng.integers(0, len(TIERS)))
        tier = TIERS[k]
        end = NOW - float(rng.uniform(0, 3 * 86_400))
        start = end - float(rng.uniform(0, tier.retention))
        points = int(rng.choice([1, 2, 3, 7, 100, 999, 1000, 1001, 5000]))
        res = store.query(names, start, end, points=points, tier=tier.name, now=NOW)
        per, lo, hi = buckets(start, end, points, tier.step)
        assert (res.step, res.start) == (per * tier.step, lo)
        assert len(res.timestamps) == (hi - lo) // (per * tier.step) + 1
