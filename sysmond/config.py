"""The configuration: YAML in, validated and frozen dataclasses out.

The dataclasses below are the contract every other module reads; their defaults are
the built-in defaults, and `sysmond.example.yaml` must show exactly these values
(a test keeps the two in sync). Loading and validation live further down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- storage ---------------------------------------------------------------------


@dataclass(frozen=True)
class TierConfig:
    """One rung of the round-robin ladder: rows of `step` seconds kept `retention` s."""

    name: str
    step: int
    retention: int

    @property
    def rows(self) -> int:
        return self.retention // self.step


DEFAULT_TIERS: tuple[TierConfig, ...] = (
    TierConfig("raw", 1, 86_400),
    TierConfig("1m", 60, 7 * 86_400),
    TierConfig("5m", 300, 30 * 86_400),
    TierConfig("1h", 3_600, 365 * 86_400),
)


@dataclass(frozen=True)
class StorageConfig:
    """How history is kept. `tiers[0].step` is the store's base step."""

    tiers: tuple[TierConfig, ...] = DEFAULT_TIERS
    # A coarse row is written only when at least this fraction of it is known.
    xff: float = 0.5
    # msync the files at most this often (seconds); the kernel writes back sooner.
    flush_interval: int = 60
    # Samples kept in memory while the store cannot be written (disk full, read-only).
    pending_limit: int = 3_600


# --- collection ------------------------------------------------------------------


@dataclass(frozen=True)
class Patterns:
    """fnmatch-style include/exclude lists; empty include means everything."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


DEFAULT_FSTYPE_EXCLUDE: tuple[str, ...] = (
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
    "devpts", "devtmpfs", "efivarfs", "fuse.lxcfs", "fusectl", "hugetlbfs", "iso9660",
    "mqueue", "nsfs", "overlay", "proc", "pstore", "ramfs", "rpc_pipefs", "securityfs",
    "selinuxfs", "squashfs", "sysfs", "tracefs", "tmpfs",
)
DEFAULT_MOUNT_EXCLUDE: tuple[str, ...] = (
    "/dev", "/dev/*", "/proc", "/proc/*", "/sys", "/sys/*", "/run", "/run/*",
    "/var/lib/docker/*", "/var/lib/containers/*", "/snap/*", "/boot/efi",
)
DEFAULT_DEVICE_EXCLUDE: tuple[str, ...] = ("loop*", "ram*", "zram*", "fd*", "sr*", "dm-*")
DEFAULT_INTERFACE_EXCLUDE: tuple[str, ...] = (
    "veth*", "docker*", "br-*", "virbr*", "cali*", "flannel*", "cni*", "vxlan*",
    "tun*", "tap*",
)


@dataclass(frozen=True)
class CollectionConfig:
    """What is sampled and how often."""

    interval: int = 1
    # Processes are the costly part: sampled every `process_interval` seconds.
    process_interval: int = 5
    top_n: int = 10
    # Top processes are written to the process history this often (seconds).
    process_history_interval: int = 60
    # A statvfs() slower than this marks the mount as stuck (seconds).
    stat_timeout: float = 1.0
    mounts: Patterns = Patterns(exclude=DEFAULT_MOUNT_EXCLUDE)
    fstypes: Patterns = Patterns(exclude=DEFAULT_FSTYPE_EXCLUDE)
    devices: Patterns = Patterns(exclude=DEFAULT_DEVICE_EXCLUDE)
    interfaces: Patterns = Patterns(exclude=DEFAULT_INTERFACE_EXCLUDE)


# --- HTTP server and API security ---------------------------------------------------


@dataclass(frozen=True)
class JwtConfig:
    algorithm: str = "HS256"  # HS256 (secret file) or RS256 (public key file)
    key_file: str | None = None
    audience: str | None = None
    issuer: str | None = None
    leeway: int = 30


@dataclass(frozen=True)
class AuthConfig:
    mode: str = "none"  # none | token | jwt
    tokens_file: str | None = None
    jwt: JwtConfig = JwtConfig()
    # Serving the API without auth on a non-loopback address must be asked for.
    allow_insecure_remote: bool = False
    protect_health: bool = False
    protect_metrics: bool = False


@dataclass(frozen=True)
class TlsConfig:
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file and self.key_file)


@dataclass(frozen=True)
class RateLimitConfig:
    enabled: bool = True
    # Token bucket per client: `rate` requests per second, bursts up to `burst`.
    rate: float = 50.0
    burst: int = 200
    exempt_loopback: bool = True
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class LimitsConfig:
    max_points: int = 10_000
    max_header_size: int = 8_190
    # Upper bound of rows one query may scan (series x rows).
    max_scan_cells: int = 50_000_000


@dataclass(frozen=True)
class ServerConfig:
    listen: str = "127.0.0.1:9180"
    auth: AuthConfig = AuthConfig()
    tls: TlsConfig = TlsConfig()
    rate_limit: RateLimitConfig = RateLimitConfig()
    limits: LimitsConfig = LimitsConfig()
    cors_origins: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        host, _, _ = self.listen.rpartition(":")
        return host.strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


# --- alerts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelConfig:
    """A named way to notify: Apprise URLs and/or a JSON-lines log file."""

    name: str
    urls: tuple[str, ...] = ()
    log_file: str | None = None


@dataclass(frozen=True)
class TimeWindow:
    """A daily window in local time, 'HH:MM'-'HH:MM' (may cross midnight)."""

    start: str
    end: str
    days: tuple[str, ...] = ()  # mon..sun; empty means every day


@dataclass(frozen=True)
class AlertRuleConfig:
    """One rule. `metric` is a series name, optionally with a device selector:
    `cpu.usage_percent`, `disk.percent@/`, `disk.percent@*` (every mount)."""

    name: str
    metric: str
    op: str  # > >= < <=
    threshold: float
    for_seconds: int = 0
    clear: float | None = None  # hysteresis: the value that ends a firing alert
    severity: str = "warning"  # warning | critical
    channels: tuple[str, ...] = ()
    repeat: int = 0  # seconds between repeats while firing; 0 = never
    quiet_hours: tuple[TimeWindow, ...] = ()
    description: str = ""


DEFAULT_RULES: tuple[AlertRuleConfig, ...] = (
    AlertRuleConfig("cpu_high", "cpu.usage_percent", ">", 80.0, for_seconds=300,
                    clear=75.0, severity="warning", channels=("log",)),
    AlertRuleConfig("memory_high", "memory.percent", ">", 90.0, for_seconds=60,
                    clear=85.0, severity="critical", channels=("log",)),
    AlertRuleConfig("disk_full", "disk.percent@*", ">", 85.0, for_seconds=60,
                    clear=80.0, severity="critical", channels=("log",)),
)
DEFAULT_CHANNELS: tuple[ChannelConfig, ...] = (ChannelConfig("log", log_file="alerts.log"),)


@dataclass(frozen=True)
class AlertsConfig:
    enabled: bool = True
    rules: tuple[AlertRuleConfig, ...] = DEFAULT_RULES
    channels: tuple[ChannelConfig, ...] = DEFAULT_CHANNELS
    # Link put in messages, e.g. https://host.example:9180/
    dashboard_url: str | None = None
    # Per-attempt delivery timeout, and how long a failed delivery keeps being retried.
    delivery_timeout: float = 30.0
    retry_for: int = 3_600
    history_limit: int = 10_000
    maintenance: tuple[TimeWindow, ...] = ()


# --- report and logging -----------------------------------------------------------------


@dataclass(frozen=True)
class ReportConfig:
    enabled: bool = False
    output_dir: str | None = None
    every: int = 3_600  # seconds between regenerations by the daemon


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"
    format: str = "auto"  # auto | text | journal


@dataclass(frozen=True)
class Config:
    """Everything sysmond reads from its YAML file."""

    state_dir: str | None = None
    hostname: str | None = None  # None: the machine's hostname
    collection: CollectionConfig = CollectionConfig()
    storage: StorageConfig = StorageConfig()
    server: ServerConfig = ServerConfig()
    alerts: AlertsConfig = AlertsConfig()
    report: ReportConfig = ReportConfig()
    logging: LoggingConfig = LoggingConfig()
    # Where it was read from, for messages; None for built-in defaults.
    source: str | None = field(default=None, compare=False)
