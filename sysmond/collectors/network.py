"""Network: bytes, packets, errors and drops per second, per interface and in total.

The totals leave out the loopback interface (`lo`): traffic a machine sends itself is
not network traffic. `lo` still has its own per-interface series when watched. As with
disks, a total is a gap whenever one of its interfaces is (first tick, a counter reset,
an interface that just appeared), rather than a partial sum that looks real.
"""

from __future__ import annotations

import math

from sysmond.collectors import NAN, Counter, Reading, watched
from sysmond.collectors.rates import Rates
from sysmond.collectors.source import Source
from sysmond.config import CollectionConfig

LOOPBACK = "lo"
# series field, psutil attribute, counter name
FIELDS = (
    ("bytes_sent_per_sec", "bytes_sent", "network_transmit_bytes_total"),
    ("bytes_recv_per_sec", "bytes_recv", "network_receive_bytes_total"),
    ("packets_sent_per_sec", "packets_sent", "network_transmit_packets_total"),
    ("packets_recv_per_sec", "packets_recv", "network_receive_packets_total"),
    ("errors_in", "errin", "network_receive_errs_total"),
    ("errors_out", "errout", "network_transmit_errs_total"),
    ("drops_in", "dropin", "network_receive_drop_total"),
    ("drops_out", "dropout", "network_transmit_drop_total"),
)


class NetworkCollector:
    name = "network"

    def __init__(self, config: CollectionConfig, source: Source) -> None:
        self._source = source
        self._config = config
        self._rates = Rates()

    def reconfigure(self, config: CollectionConfig) -> None:
        self._config = config

    def collect(self, mono: float) -> Reading:
        values: dict[str, float] = {}
        counters: list[Counter] = []
        totals: dict[str, list[float]] = {f: [] for f, _, _ in FIELDS}
        for nic, io in sorted(self._source.net_io().items()):
            if not watched(self._config.interfaces, nic):
                continue
            label = (("device", nic),)
            for field, attr, counter in FIELDS:
                raw = float(getattr(io, attr))
                value = self._rates.rate((nic, attr), raw, mono)
                values[f"network.{field}@{nic}"] = value
                counters.append(Counter(counter, label, raw))
                if nic != LOOPBACK:
                    totals[field].append(value)
        for field, series in totals.items():
            gap = not series or any(math.isnan(v) for v in series)
            values[f"network.{field}"] = NAN if gap else sum(series)
        self._rates.sweep()
        return Reading(values, {}, tuple(counters))
