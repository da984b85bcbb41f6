"""The catalogue: every field sysmond measures, listed once.

Each `Metric` says where a number lives everywhere else: its series name in the store
(`AREA.FIELD`, `AREA.FIELD@DEVICE`, see docs/architecture.md), its unit, whether it is
an instant gauge or derived from counter deltas, its help text, where it sits in the
PRD-shaped `current` JSON, and how Prometheus should expose it. `current.py`, the
store, the API, the OpenAPI document and `/metrics` all read this table, so a field is
added here or nowhere. Counters for Prometheus `_total` series are listed in `COUNTERS`.

Kinds: `gauge` (read as is), `rate` (per second, from counter deltas over monotonic
time), `counter-derived` (a share of counter deltas, e.g. CPU usage %), `info` (a fact
kept in `Sample.info`, not a series).
"""

from __future__ import annotations

from typing import NamedTuple

# Where each device kind's per-device objects sit in `current`.
DEVICE_CONTAINERS: dict[str, tuple[str, ...]] = {
    "core": ("cpu", "per_core"),
    "mount": ("disk", "mounts"),
    "device": ("disk", "devices"),
    "interface": ("network", "interfaces"),
}
# The API's query parameter that selects one device of each kind.
DEVICE_PARAMS: dict[str, str] = {
    "core": "core", "mount": "mount", "device": "device", "interface": "interface",
}


class Metric(NamedTuple):
    """One field. `device` is the kind of `@DEVICE` it has besides its total."""

    area: str
    field: str
    unit: str  # percent, bytes, bytes/s, 1/s, MHz, load, count
    kind: str  # gauge | rate | counter-derived | info
    help: str
    device: str = "none"  # none | core | mount | device | interface
    json_path: tuple[str | int, ...] = ()  # of the total in `current`
    integer: bool = False  # shown as an integer in JSON (bytes, counts)
    prom_name: str | None = None  # gauge name without the `sysmond_` prefix
    prom_scale: float = 1.0  # multiply to get Prometheus base units

    @property
    def series(self) -> str:
        """The total's series name, e.g. `disk.read_bytes_per_sec`."""
        return f"{self.area}.{self.field}"

    @property
    def stored(self) -> bool:
        return self.kind != "info"

    @property
    def leaf(self) -> str | int:
        """The key under a device's object in `current` (same as the total's leaf)."""
        return self.json_path[-1]

    def device_series(self, device: str | int) -> str:
        return f"{self.area}.{self.field}@{device}"


def _m(area: str, field: str, unit: str, kind: str, help: str, device: str = "none",
       path: tuple[str | int, ...] | None = None, prom: str | None = None,
       scale: float = 1.0) -> Metric:
    integer = unit in ("bytes", "count") and kind in ("gauge", "info")
    return Metric(area, field, unit, kind, help, device, path or (area, field), integer,
                  prom, scale)


_PCT = 0.01
METRICS: tuple[Metric, ...] = (
    # --- cpu (PRD keys first, in the PRD's order) ---
    _m("cpu", "usage_percent", "percent", "counter-derived",
       "Time not idle nor waiting for I/O, of all cores (or of one core).", "core"),
    _m("cpu", "frequency_current", "MHz", "gauge",
       "Current clock frequency; null where the machine reports none (many VMs).",
       path=("cpu", "frequency", "current"), prom="cpu_frequency_hertz", scale=1e6),
    _m("cpu", "frequency_min", "MHz", "info", "Lowest clock frequency, or null.",
       path=("cpu", "frequency", "min")),
    _m("cpu", "frequency_max", "MHz", "info", "Highest clock frequency, or null.",
       path=("cpu", "frequency", "max")),
    _m("cpu", "load_average_1", "load", "gauge", "Run queue length, 1-minute average.",
       path=("cpu", "load_average", 0), prom="load1"),
    _m("cpu", "load_average_5", "load", "gauge", "Run queue length, 5-minute average.",
       path=("cpu", "load_average", 1), prom="load5"),
    _m("cpu", "load_average_15", "load", "gauge", "Run queue length, 15-minute average.",
       path=("cpu", "load_average", 2), prom="load15"),
    _m("cpu", "logical_count", "count", "info", "Logical CPUs (hardware threads) online."),
    _m("cpu", "physical_count", "count", "info", "Physical cores, or null if unknown."),
    *(_m("cpu", f"{mode}_percent", "percent", "counter-derived",
         f"Share of all cores' time spent {text}.")
      for mode, text in (
          ("user", "in user space (guest time included)"),
          ("nice", "in user space at positive nice"),
          ("system", "in the kernel"), ("idle", "idle"),
          ("iowait", "idle while waiting for I/O"),
          ("irq", "serving hardware interrupts"),
          ("softirq", "serving software interrupts"),
          ("steal", "stolen by the hypervisor"))),
    _m("cpu", "ctx_switches_per_sec", "1/s", "rate", "Context switches per second."),
    _m("cpu", "interrupts_per_sec", "1/s", "rate", "Hardware interrupts per second."),
    _m("cpu", "soft_interrupts_per_sec", "1/s", "rate", "Software interrupts per second."),
    # --- memory ---
    _m("memory", "total", "bytes", "gauge", "Physical memory.", prom="memory_total_bytes"),
    _m("memory", "available", "bytes", "gauge",
       "Memory that can be given to programs without swapping.",
       prom="memory_available_bytes"),
    _m("memory", "used", "bytes", "gauge", "Memory in use (psutil's definition).",
       prom="memory_used_bytes"),
    _m("memory", "percent", "percent", "gauge", "(total - available) / total.",
       prom="memory_used_ratio", scale=_PCT),
    _m("memory", "swap_total", "bytes", "gauge", "Swap space.",
       path=("memory", "swap", "total"), prom="memory_swap_total_bytes"),
    _m("memory", "swap_used", "bytes", "gauge", "Swap in use.",
       path=("memory", "swap", "used"), prom="memory_swap_used_bytes"),
    _m("memory", "swap_percent", "percent", "gauge", "Swap in use, of swap space.",
       path=("memory", "swap", "percent"), prom="memory_swap_used_ratio", scale=_PCT),
    _m("memory", "free", "bytes", "gauge", "Memory not used for anything.",
       prom="memory_free_bytes"),
    _m("memory", "buffers", "bytes", "gauge", "Kernel buffers.",
       prom="memory_buffers_bytes"),
    _m("memory", "cached", "bytes", "gauge", "Page cache (reclaimable).",
       prom="memory_cached_bytes"),
    _m("memory", "swap_in_bytes_per_sec", "bytes/s", "rate",
       "Bytes swapped in from disk per second.",
       path=("memory", "swap", "in_bytes_per_sec")),
    _m("memory", "swap_out_bytes_per_sec", "bytes/s", "rate",
       "Bytes swapped out to disk per second.",
       path=("memory", "swap", "out_bytes_per_sec")),
    # --- disk: mounts (the total is the root file system) ---
    *(_m("disk", f, u, "gauge", h, "mount", prom=p, scale=s) for f, u, h, p, s in (
        ("total", "bytes", "File system size.", "filesystem_size_bytes", 1.0),
        ("used", "bytes", "Bytes in use.", "filesystem_used_bytes", 1.0),
        ("free", "bytes", "Bytes free for unprivileged users.",
         "filesystem_avail_bytes", 1.0),
        ("percent", "percent", "used / (used + free), as df shows it.",
         "filesystem_used_ratio", _PCT))),
    # --- disk: block devices (the total is the sum over watched whole disks) ---
    *(_m("disk", f, u, "rate", h, "device", path=("disk", "io", f)) for f, u, h in (
        ("read_bytes_per_sec", "bytes/s", "Bytes read per second."),
        ("write_bytes_per_sec", "bytes/s", "Bytes written per second."),
        ("read_count_per_sec", "1/s", "Read operations completed per second."),
        ("write_count_per_sec", "1/s", "Write operations completed per second."))),
    _m("disk", "busy_percent", "percent", "counter-derived",
       "Time the device had I/O in flight; the total is the busiest watched device.",
       "device", path=("disk", "io", "busy_percent")),
    # --- network (the total leaves out lo) ---
    *(_m("network", f, u, "rate", h, "interface") for f, u, h in (
        ("bytes_sent_per_sec", "bytes/s", "Bytes sent per second."),
        ("bytes_recv_per_sec", "bytes/s", "Bytes received per second."),
        ("packets_sent_per_sec", "1/s", "Packets sent per second."),
        ("packets_recv_per_sec", "1/s", "Packets received per second."),
        ("errors_in", "1/s", "Receive errors per second."),
        ("errors_out", "1/s", "Transmit errors per second."),
        ("drops_in", "1/s", "Received packets dropped per second."),
        ("drops_out", "1/s", "Outgoing packets dropped per second."))),
)

BY_SERIES: dict[str, Metric] = {m.series: m for m in METRICS}


class CounterSpec(NamedTuple):
    """A raw cumulative counter, exposed to Prometheus as `sysmond_<name>`."""

    name: str
    unit: str
    help: str
    labels: tuple[str, ...] = ()


COUNTERS: tuple[CounterSpec, ...] = (
    CounterSpec("cpu_seconds_total", "seconds", "CPU time per core and mode.",
                ("cpu", "mode")),
    CounterSpec("context_switches_total", "count", "Context switches."),
    CounterSpec("interrupts_total", "count", "Hardware interrupts."),
    CounterSpec("soft_interrupts_total", "count", "Software interrupts."),
    CounterSpec("swap_in_bytes_total", "bytes", "Bytes swapped in."),
    CounterSpec("swap_out_bytes_total", "bytes", "Bytes swapped out."),
    CounterSpec("disk_read_bytes_total", "bytes", "Bytes read.", ("device",)),
    CounterSpec("disk_written_bytes_total", "bytes", "Bytes written.", ("device",)),
    CounterSpec("disk_reads_completed_total", "count", "Reads completed.", ("device",)),
    CounterSpec("disk_writes_completed_total", "count", "Writes completed.", ("device",)),
    CounterSpec("disk_io_time_seconds_total", "seconds", "Time with I/O in flight.",
                ("device",)),
    CounterSpec("disk_read_time_seconds_total", "seconds", "Time spent reading.",
                ("device",)),
    CounterSpec("disk_write_time_seconds_total", "seconds", "Time spent writing.",
                ("device",)),
    *(CounterSpec(f"network_{d}_{what}_total", unit, f"{text} {verb}.", ("device",))
      for d, verb in (("receive", "received"), ("transmit", "sent"))
      for what, unit, text in (("bytes", "bytes", "Bytes"), ("packets", "count", "Packets"),
                               ("errs", "count", "Errors"), ("drop", "count", "Drops"))),
)


class ProcessField(NamedTuple):
    name: str
    unit: str
    help: str


PROCESS_FIELDS: tuple[ProcessField, ...] = (
    ProcessField("pid", "id", "Process id."),
    ProcessField("name", "text", "Process name (from /proc/PID/stat, widened from argv)."),
    ProcessField("user", "text", "Owner's user name (or uid); null if unreadable."),
    ProcessField("cpu_percent", "percent",
                 "CPU time over the last process interval, % of one core (may exceed 100)."),
    ProcessField("memory_percent", "percent", "Resident memory, % of physical memory."),
    ProcessField("rss", "bytes", "Resident set size."),
    ProcessField("num_threads", "count", "Threads."),
    ProcessField("status", "text", "running, sleeping, disk-sleep, zombie, idle, ..."),
    ProcessField("cmdline", "text", "Command line, arguments joined by spaces."),
)


def split_series(name: str) -> tuple[str, str | None]:
    """Given `AREA.FIELD[@DEVICE]`, return (`AREA.FIELD`, DEVICE or None).

    The device may itself contain `@` or `.` (mount points), so only the first `@`
    splits.
    """
    base, sep, device = name.partition("@")
    return base, (device if sep else None)
