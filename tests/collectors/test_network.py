"""The network collector: per interface, totals without lo, wraps as gaps."""

import math
import time

from sysmond.collectors.network import NetworkCollector
from sysmond.collectors.source import PsutilSource
from sysmond.config import CollectionConfig, Patterns
from tests.collectors.fakes import NetIo


def test_totals_leave_out_lo_which_keeps_its_own_series(config, source):
    net = NetworkCollector(config, source)
    net.collect(0.0)
    source.nics = {"lo": NetIo(bytes_recv=5000, bytes_sent=5000),
                   "eth0": NetIo(bytes_recv=2000, packets_recv=4, errin=1, dropout=2),
                   "veth12ab": NetIo(bytes_recv=10**9)}
    v = net.collect(2.0).values
    assert v["network.bytes_recv_per_sec@lo"] == 2500
    assert v["network.bytes_recv_per_sec"] == 1000
    assert v["network.packets_recv_per_sec"] == 2
    assert v["network.errors_in"] == 0.5 and v["network.drops_out"] == 1.0
    assert not any(k.endswith("@veth12ab") for k in v)  # container veths are out


def test_a_counter_wrap_is_a_gap_not_a_spike(config, source):
    net = NetworkCollector(config, source)
    source.nics["eth0"] = NetIo(bytes_recv=2**32 - 100)
    net.collect(0.0)
    source.nics["eth0"] = NetIo(bytes_recv=50)
    v = net.collect(1.0).values
    assert math.isnan(v["network.bytes_recv_per_sec@eth0"])
    assert math.isnan(v["network.bytes_recv_per_sec"])
    source.nics["eth0"] = NetIo(bytes_recv=150)
    assert net.collect(2.0).values["network.bytes_recv_per_sec"] == 100


def test_interface_patterns_can_include_what_the_defaults_leave_out(source):
    cfg = CollectionConfig(interfaces=Patterns(include=("veth*",)))
    v = NetworkCollector(cfg, source).collect(0.0).values
    assert {k.split("@")[1] for k in v if "@" in k} == {"veth12ab"}


def test_a_new_interface_appears_within_one_tick(config, source):
    net = NetworkCollector(config, source)
    net.collect(0.0)
    source.nics["wg0"] = NetIo(bytes_sent=10)
    assert "network.bytes_sent_per_sec@wg0" in net.collect(1.0).values
    source.nics["wg0"] = NetIo(bytes_sent=30)
    assert net.collect(2.0).values["network.bytes_sent_per_sec@wg0"] == 20


def test_on_the_real_machine_lo_is_watched_and_rates_are_not_negative(config):
    net = NetworkCollector(config, PsutilSource())
    net.collect(time.monotonic())
    time.sleep(0.05)
    v = net.collect(time.monotonic()).values
    assert "network.bytes_recv_per_sec@lo" in v
    assert all(x >= 0 for x in v.values() if not math.isnan(x))
