"""The catalogue lists every field a sample holds, once, and nothing else."""

import time

from sysmond.collectors.registry import Registry
from sysmond.config import CollectionConfig
from sysmond.metrics import BY_SERIES, COUNTERS, DEVICE_CONTAINERS, METRICS, split_series
from tests.collectors.fakes import FakeSource


def _real_sample():
    reg = Registry.default(CollectionConfig())
    reg.collect(wall=time.time(), mono=time.monotonic())
    time.sleep(0.05)
    return reg.collect(wall=time.time(), mono=time.monotonic())


def test_every_field_is_listed_once_with_a_unique_json_path():
    assert len(BY_SERIES) == len(METRICS)
    paths = [m.json_path for m in METRICS]
    assert len(set(paths)) == len(paths)
    for m in METRICS:
        assert m.kind in ("gauge", "rate", "counter-derived", "info")
        assert m.device in ("none", *DEVICE_CONTAINERS)
        assert m.help.endswith(".") and m.unit


def test_every_series_of_a_real_sample_is_in_the_catalogue_and_vice_versa():
    sample = _real_sample()
    bases = {split_series(name)[0] for name in sample.values}
    stored = {m.series for m in METRICS if m.stored}
    assert bases == stored
    for name in sample.values:
        base, device = split_series(name)
        if device is not None:
            assert BY_SERIES[base].device != "none", name


def test_info_fields_of_the_catalogue_are_in_a_sample_info():
    sample = Registry.default(CollectionConfig(), source=FakeSource()).collect(1, 0.0)
    for m in METRICS:
        if m.kind == "info":
            assert m.series in sample.info


def test_every_counter_is_declared_with_its_labels():
    sample = _real_sample()
    declared = {c.name: c for c in COUNTERS}
    for counter in sample.counters:
        spec = declared[counter.name]
        assert tuple(k for k, _ in counter.labels) == spec.labels
        assert counter.value >= 0


def test_a_mount_point_with_an_at_sign_splits_at_the_first_one():
    assert split_series("disk.percent@/mnt/a@b") == ("disk.percent", "/mnt/a@b")
    assert split_series("cpu.usage_percent") == ("cpu.usage_percent", None)


def test_prometheus_names_are_unique_and_in_base_units():
    names = [m.prom_name for m in METRICS if m.prom_name]
    assert len(names) == len(set(names))
    for m in METRICS:
        if m.prom_name and m.unit == "percent":
            assert m.prom_name.endswith("_ratio") and m.prom_scale == 0.01
