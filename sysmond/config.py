"""The configuration: YAML in, validated and frozen dataclasses out.

The dataclasses below are the contract every other module reads; their defaults are
the built-in defaults, and `sysmond.example.yaml` must show exactly these values
(a test keeps the two in sync). Loading and validation live further down.
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import logging
import math
import os
import pwd
import re
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, Union, get_args, get_origin, get_type_hints

import yaml

from sysmond.errors import ConfigError

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


# --- loading and validation --------------------------------------------------------------
#
# parse_config() is borgmatic's pipeline:
#   1. load: yaml.compose keeps the line of every key (safe_load throws the marks away);
#      the nodes become plain values plus a table of lines. A syntax error stops here.
#   2. normalize, validate and freeze, in one walk over the dataclasses above (_Reader).
#      The dataclasses are the schema, so a field someone adds is read and type-checked
#      at once, with no second schema to drift; what a type cannot say (ranges, enums,
#      shapes) is in _SPECS below. YAML-isms are normalized as they are read: durations
#      become seconds, `22:00` stays text, an emptied section means its defaults.
#   3. cross-checks: the rules that span fields (tier ladder, multiples, references).
# Every problem of every stage is collected with its path and line; the Config is
# returned only when there is none.

_KeyPath = tuple["str | int", ...]

_DURATION_UNITS: dict[str, int] = {
    "y": 365 * 86_400, "w": 7 * 86_400, "d": 86_400, "h": 3_600, "m": 60, "s": 1,
}
_DURATION_RE = re.compile(r"(?:[0-9]+[ywdhms])+")
_DURATION_PART_RE = re.compile(r"([0-9]+)([ywdhms])")
_DURATION_HELP = "a duration such as 90s, 5m, 1h30m, 7d, 1y or a number of seconds"


def parse_duration(value: int | str) -> int:
    """Given a duration as whole seconds (an int, or digits) or as text such as "90s",
    "5m", "1h30m", "7d" or "1y" (365 days), return it in seconds.

    The config file and the API's `range=` share this parser so that an admin writes a
    duration the same way everywhere. Units go from the largest to the smallest, each at
    most once (Prometheus' rule), so "1h30m" reads one way only. Raise ValueError, with
    a message fit to show a person, if value is none of these (negative, fractional,
    an unknown unit such as "5min" or "5M", units out of order).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= 0:
            return value
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]+", text):
            return int(text)
        if _DURATION_RE.fullmatch(text):
            parts = _DURATION_PART_RE.findall(text)
            sizes = [_DURATION_UNITS[unit] for _, unit in parts]
            if all(a > b for a, b in itertools.pairwise(sizes)):
                return sum(int(n) * size for (n, _), size in zip(parts, sizes))
    raise ValueError(f"expected {_DURATION_HELP}, got {_show(value)}")


def load_config(path: str | os.PathLike[str] | None, *,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """Given the path of a YAML config file (None for none), return the validated Config.

    `overrides` maps dotted keys to values given on the command line (for example
    {"server.listen": "0.0.0.0:9180", "collection.interval": "5"}); they replace the
    file's values before validation, so a flag gets exactly the checks a key gets,
    cross-checks included, and its problems are reported as "command line: KEY: ...".
    A relative path among them is taken from the current directory, as a shell user
    expects (in the file, paths must be absolute).
    Raise ConfigError listing every problem if the file cannot be read or is invalid.
    """
    if path is None:
        if not overrides:
            return Config()
        return replace(parse_config("", "built-in defaults", overrides=overrides),
                       source=None)
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as file:
            text = file.read()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read it: {exc.strerror}") from None
    return parse_config(text, source, overrides=overrides)


def parse_config(text: str, source: str, *,
                 overrides: Mapping[str, Any] | None = None) -> Config:
    """Given the text of a YAML config and the name to call it by in messages, return the
    validated, frozen Config (`source` set to that name).

    An empty document means every default. See load_config for `overrides`.
    Raise ConfigError if anything is wrong: its `problems` holds every problem found,
    in line order, each one line such as
    `sysmond.yaml:12: collection.interval: must be between 1 and 60 seconds, got 0`.
    A YAML syntax error is the one problem reported alone (nothing after it can be read).
    """
    problems = _Problems(source)
    data = _load(text, problems)
    if overrides and isinstance(data, dict):
        _apply_overrides(data, overrides, problems)
    config = _Reader(problems).record(Config, data, ())
    if config is not None:
        _cross_check(config, problems)
    if problems:
        raise ConfigError(problems.lines())
    assert config is not None  # a None config always comes with a problem
    return replace(config, source=source)


def reload_diff(old: Config, new: Config) -> list[str]:
    """Given the running config and a valid new one, return why the new one cannot be
    applied by a reload (SIGHUP); an empty list means it can.

    Only what a running daemon can never take over is listed: the store's files are
    laid out for one tier ladder, and the state directory holds the store's lock. A
    refused reload keeps the running config whole, so each reason says what to do.
    """
    reasons = []
    if old.storage.tiers != new.storage.tiers:
        state = old.state_dir or "STATE_DIR"
        reasons.append(
            f"storage.tiers changed ({_ladder(old.storage.tiers)} -> "
            f"{_ladder(new.storage.tiers)}): the store's files are laid out for the old "
            f"ladder and cannot be converted in place, so sysmond keeps running with its "
            f"current configuration. To use the new ladder: stop sysmond, move "
            f"{state}/store aside (its history is not carried over), start sysmond again.")
    if old.state_dir != new.state_dir:
        reasons.append(
            f"state_dir changed ({old.state_dir or 'default'} -> "
            f"{new.state_dir or 'default'}): a running daemon keeps its store, lock and "
            f"alert state where it started; restart sysmond to move (and move the "
            f"directory's contents first to keep the history).")
    return reasons


def default_state_dir(env: Mapping[str, str] | None = None, uid: int | None = None) -> Path:
    """Given the environment and user id (default: this process's), return where sysmond
    keeps its state when neither `--state-dir` nor `state_dir` says.

    systemd's StateDirectory= comes first (it passes $STATE_DIRECTORY, colon-separated
    when there are several), so the packaged unit needs no path of its own; then
    /var/lib/sysmond for root; otherwise the XDG per-user state directory, so a normal
    user can try sysmond without write access to /var/lib.
    Raise ConfigError if a normal user has no home directory to put it in.
    """
    env = os.environ if env is None else env
    uid = os.getuid() if uid is None else uid
    systemd = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    if uid == 0:
        return Path("/var/lib/sysmond")
    xdg = env.get("XDG_STATE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec says to ignore a relative one
        return Path(xdg) / "sysmond"
    home = env.get("HOME")
    if not home:
        try:
            home = pwd.getpwuid(uid).pw_dir
        except KeyError:
            raise ConfigError(f"user {uid} has no home directory for the state; "
                              f"give one with --state-dir or state_dir") from None
    return Path(home) / ".local" / "state" / "sysmond"


# --- stage 1: load ---------------------------------------------------------------------

_BROKEN = object()  # a value already reported as unreadable (an unknown tag, ...)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class _Problems:
    """Every problem found in one config, each tied to a key path and so to a line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.key_lines: dict[_KeyPath, int] = {}  # 1-based line of every key and item
        self.external: set[_KeyPath] = set()  # paths set on the command line
        self.bad: set[_KeyPath] = set()  # paths with a problem: cross-checks skip them
        self._found: list[tuple[int, str]] = []

    def __bool__(self) -> bool:
        return bool(self._found)

    def add(self, path: _KeyPath, message: str, *, at: tuple[_KeyPath, ...] = (),
            line: int | None = None) -> None:
        """Record a problem of `path`, on the line of the first of `at` (default `path`)
        the file has, else of the nearest enclosing key."""
        self.bad.add(path)
        where = self.source
        if line is None:
            origin = self._origin((*at, path))
            if origin in self.external:
                where = "command line"
            elif origin is not None:
                line = self.key_lines[origin]
        if line is not None:
            where = f"{where}:{line}"
        name = _render(path)
        self._found.append((line or 0, f"{where}: {name}: {message}" if name
                            else f"{where}: {message}"))

    def _origin(self, candidates: tuple[_KeyPath, ...]) -> _KeyPath | None:
        for path in candidates:
            if path in self.external or path in self.key_lines:
                return path
        path = candidates[0]
        for n in range(len(path) - 1, 0, -1):
            if path[:n] in self.external or path[:n] in self.key_lines:
                return path[:n]
        return None

    def involve(self, *paths: _KeyPath) -> bool:
        """Whether a problem was found at, above or below any of `paths`."""
        return any(bad[:len(p)] == p or p[:len(bad)] == bad for bad in self.bad for p in paths)

    def broken(self, path: _KeyPath) -> bool:
        """Whether a problem was found at or above `path` (so it was not read at all)."""
        return any(path[:n] in self.bad for n in range(len(path) + 1))

    def lines(self) -> list[str]:
        return [text for _, text in sorted(self._found, key=lambda found: found[0])]


def _load(text: str, problems: _Problems) -> Any:
    """Given YAML text, return it as plain values (dicts, lists, scalars), noting the line
    of every key in `problems`. Raise ConfigError on a syntax error."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_syntax_problem(problems.source, exc)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{problems.source}:{line}: YAML: character "
                          f"{chr(exc.character)!r} is not allowed") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{problems.source}: YAML: {exc}") from None
    if root is None:
        return {}
    problems.key_lines[()] = root.start_mark.line + 1
    return _Plain(problems).value(root, ())


def _syntax_problem(source: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}:{mark.line + 1}" if mark else source
    what = exc.problem or exc.context or "not valid YAML"
    if exc.problem and exc.context and exc.problem.startswith("but "):
        what = f"{exc.context}, {exc.problem}"  # "expected a single document, but found..."
    elif exc.problem and exc.context and exc.context_mark:
        what += f" ({exc.context} from line {exc.context_mark.line + 1})"
    if "'\\t'" in what:
        what += "; indent with spaces, YAML does not allow tabs"
    elif "chomping or indentation indicators" in what:
        what += "; a value starting with > or | must be quoted, as in op: \">=\""
    elif "mapping values are not allowed" in what:
        what += "; a value holding ': ' must be quoted"
    elif "found '@'" in what or "found '`'" in what:
        what += "; a value starting with @ or ` must be quoted"
    return f"{where}: YAML syntax: {what}"


class _Plain:
    """Turns composed YAML nodes into plain values, noting the line of every key."""

    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.constructor = yaml.constructor.SafeConstructor()
        self.open: set[int] = set()  # the lists and mappings being read, by id

    def value(self, node: yaml.Node, path: _KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.open:
            self.problems.add(path, "this alias refers to a list or mapping that contains it")
            return _BROKEN
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            items = []
            for index, item in enumerate(node.value):
                self.problems.key_lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.value(item, (*path, index)))
            return items
        finally:
            self.open.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: _KeyPath) -> Any:
        if node.tag in _NUMBER_TAGS and ":" in node.value:
            # YAML 1.1 reads 22:00 as the base-60 number 1320; nobody means that here.
            return node.value
        try:
            return self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            self.problems.add(path, f"cannot read this value: {exc.problem}")
            return _BROKEN

    def mapping(self, node: yaml.MappingNode, path: _KeyPath) -> dict[str, Any]:
        first: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                line = key.start_mark.line + 1
                if key.value in first:
                    self.problems.add((*path, key.value), f"duplicate key; the first is on "
                                      f"line {first[key.value]}", line=line)
                first.setdefault(key.value, line)
        try:  # `<<: *defaults` merges; keys of the mapping itself win
            self.constructor.flatten_mapping(node)
        except yaml.constructor.ConstructorError as exc:
            self.problems.add(path, f"cannot merge: {exc.problem}",
                              line=exc.problem_mark.line + 1 if exc.problem_mark else None)
            node.value = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        out: dict[str, Any] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.problems.add(path, "a key must be a plain name, not a list or mapping",
                                  line=key.start_mark.line + 1)
                continue
            self.problems.key_lines[(*path, key.value)] = key.start_mark.line + 1
            out[key.value] = self.value(value, (*path, key.value))
        return out


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any],
                     problems: _Problems) -> None:
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                break  # the file's own shape problem is reported by the reader
        else:
            node[leaf] = value
            problems.external.add(tuple(dotted.split(".")))


# --- stage 2: read (normalize, validate, freeze) ---------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """What a field's type cannot say: its YAML key, unit and allowed values."""

    key: str | None = None  # the YAML key, when the field's name cannot be one
    duration: bool = False  # seconds, also written as "90s", "5m", "1h", "7d", "1y"
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None  # a problem with the value, or None
    keyed: bool = False  # a list of named records, written as a mapping name -> record


_INVALID = object()  # a value that had a problem (already reported)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TIER_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,32}")  # it names files: the store's rule
_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?")
_CLOCK_RE = re.compile(r"([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_OPS = (">", ">=", "<", "<=")
_AREAS = ("cpu", "memory", "disk", "network")
_MAX_ROWS = 10_000_000  # per tier, as sysmond.store.ladder.MAX_ROWS
_DAY = 86_400


class _Reader:
    """Reads plain data into the dataclasses, checking every value on the way."""

    def __init__(self, problems: _Problems) -> None:
        self.problems = problems

    def record(self, cls: type, data: Any, path: _KeyPath, **given: Any) -> Any:
        """Given plain data for dataclass `cls`, return an instance, or None if data is
        not a mapping. A field with a problem gets its default (or a placeholder) so that
        reading goes on and finds the other problems."""
        if data is None:  # `collection:` with every key commented out: the defaults
            data = {}
        if not isinstance(data, dict):
            if data is not _BROKEN:
                self.problems.add(path, f"expected a mapping of keys, got {_show(data)}")
            return None
        hints = _hints(cls)
        values = dict(given)
        known: dict[str, str] = {}
        missing: list[str] = []
        for f in fields(cls):
            if f.name in given or (cls, f.name) in _NOT_READ:
                continue
            spec = _SPECS.get((cls, f.name), _PLAIN)
            key = spec.key or f.name
            known[key] = f.name
            default = _default(f)
            if key in data:
                value = self.value(hints[f.name], data[key], (*path, key), spec)
            else:
                value = default
                if default is MISSING:
                    missing.append(key)
                    self.problems.bad.add((*path, key))
            if value is _INVALID or value is MISSING:
                value = _placeholder(hints[f.name]) if default is MISSING else default
            values[f.name] = value
        if missing:
            names = [repr(key) for key in missing]
            listed = " and ".join([", ".join(names[:-1]), names[-1]] if names[1:] else names)
            self.problems.add(path, f"{listed} {'are' if names[1:] else 'is'} required")
        for key in data:
            if key in given:
                self.problems.add((*path, key), f"unknown key (the {key} is the key above, "
                                  f"{given[key]!r})")
            elif key not in known:
                self.problems.add((*path, key), _unknown_key(key, list(known), path))
        return cls(**values)

    def value(self, hint: Any, raw: Any, path: _KeyPath, spec: _Spec) -> Any:
        if raw is _BROKEN:
            return _INVALID
        optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
        if optional:
            hint = next(a for a in get_args(hint) if a is not type(None))
        if raw is None and optional:
            return None
        if is_dataclass(hint):
            record = self.record(hint, raw, path)
            return _INVALID if record is None else record
        if raw is None:
            self.problems.add(path, "has no value; give one, or delete the key for the "
                              "default" + ("" if get_origin(hint) is not tuple else
                                           " (write [] for an empty list)"))
            return _INVALID
        if get_origin(hint) is tuple:
            return self.sequence(get_args(hint)[0], raw, path, spec)
        return self.scalar(hint, raw, path, spec)

    def sequence(self, item: type, raw: Any, path: _KeyPath, spec: _Spec) -> Any:
        if spec.keyed:
            return self.keyed(item, raw, path)
        if not isinstance(raw, list):
            self.problems.add(path, f"expected a list, got {_show(raw)}")
            return _INVALID
        out = []
        for index, element in enumerate(raw):
            if is_dataclass(item):
                value = self.record(item, element, (*path, index))
            else:
                value = self.scalar(item, element, (*path, index), spec)
            if value is not None and value is not _INVALID:
                out.append(value)
        return tuple(out)

    def keyed(self, item: type, raw: Any, path: _KeyPath) -> Any:
        if not isinstance(raw, dict):
            self.problems.add(path, f"expected a mapping of names to settings ({{}} for "
                              f"none), got {_show(raw)}")
            return _INVALID
        out = []
        for name, body in raw.items():
            if not _NAME_RE.fullmatch(name):
                self.problems.add((*path, name), "a name may hold letters, digits, '_' and "
                                  "'-' (it appears in URLs, logs and alert history)")
            record = self.record(item, body, (*path, name), name=name)
            if record is not None:
                out.append(record)
        return tuple(out)

    def scalar(self, typ: type, raw: Any, path: _KeyPath, spec: _Spec) -> Any:
        if raw is _BROKEN:
            return _INVALID
        value = _typed(typ, raw, spec)
        if isinstance(value, _Wrong):
            # `listen: 9180` is better told what a listen address is than to quote it.
            shape = typ is str and spec.check and raw is not None and spec.check(str(raw))
            self.problems.add(path, shape or value.message)
            return _INVALID
        if spec.choices and isinstance(value, str):  # `level: INFO` means info
            value = {c.lower(): c for c in spec.choices}.get(value.lower(), value)
        if spec is _ABSOLUTE and path in self.problems.external:
            value = os.path.abspath(value)  # `--state-dir ./state`: where the command runs
        problem = _check(value, raw, spec)
        if problem:
            self.problems.add(path, problem)
            return _INVALID
        return value


class _Wrong(NamedTuple):
    message: str


def _typed(typ: type, raw: Any, spec: _Spec) -> Any:
    """Given a YAML scalar and the field's type, return the value, or _Wrong."""
    number = isinstance(raw, (int, float)) and not isinstance(raw, bool)
    if spec.duration and (typ is int or (typ is float and not number)):
        try:
            return typ(parse_duration(raw))
        except ValueError as exc:
            return _Wrong(str(exc))
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        return _Wrong(f"expected true or false, got {_show(raw)}")
    if typ is int:
        if number and isinstance(raw, int):
            return raw
        return _Wrong(f"expected a whole number, got {_show(raw)}")
    if typ is float:
        if number and math.isfinite(raw):
            return float(raw)
        return _Wrong(f"expected a number, got {_show(raw)}")
    if isinstance(raw, str):
        return raw
    return _Wrong(f"expected text, got {_show(raw)}" +
                  (" (put it in quotes)" if isinstance(raw, (int, float, bool)) else ""))


def _check(value: Any, raw: Any, spec: _Spec) -> str | None:
    if spec.choices and value not in spec.choices:
        close = difflib.get_close_matches(str(value), spec.choices, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if value == "" and ">" in spec.choices:
            hint = " (quote it: op: \">\"; a bare > starts a folded text block in YAML)"
        return f"must be one of {', '.join(spec.choices)}, got {_show(raw)}{hint}"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            (spec.lo is not None and value < spec.lo)
            or (spec.hi is not None and value > spec.hi)):
        return f"must be {_bounds(spec)}, got {_show(raw, quote=False)}"
    return spec.check(value) if spec.check else None


def _bounds(spec: _Spec) -> str:
    lo, hi = spec.lo, spec.hi
    if spec.duration and hi is not None and hi <= 60 and (lo is None or lo < 60):
        unit = " seconds"
        text = _number
    elif spec.duration:
        unit = ""
        text = _human
    else:
        unit = ""
        text = _number
    if lo is not None and hi is not None:
        return f"between {text(lo)} and {text(hi)}{unit}"
    if lo is not None:
        return f"at least {text(lo)}{unit}"
    return f"at most {text(hi)}{unit}"


# Checks of single values: each returns a sentence about what is wrong, or None.


def _absolute_path(value: str) -> str | None:
    if os.path.isabs(value):
        return None
    return (f"must be an absolute path (a daemon's working directory is /), "
            f"got {value!r}")


def _not_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _hostname(value: str) -> str | None:
    if _HOSTNAME_RE.fullmatch(value):
        return None
    return f"expected a host name (letters, digits, '-' and '.'), got {value!r}"


def _pattern(value: str) -> str | None:
    return None if value else "an empty pattern matches nothing; remove it"


def _tier_name(value: str) -> str | None:
    if _TIER_NAME_RE.fullmatch(value):
        return None
    return f"a tier name may hold letters, digits and '_' (it names files), got {value!r}"


def _listen(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    example = "as 127.0.0.1:9180, 0.0.0.0:9180 or \"[::1]:9180\""
    if not sep or not host:
        return f"expected HOST:PORT {example}, got {value!r}"
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 <= int(port) <= 65_535:
        return f"the port must be a number from 0 (any free port) to 65535, got {value!r}"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host} is not an IPv6 address, got {value!r}"
        return None
    if ":" in host:
        return f"put an IPv6 address in brackets, as \"[::1]:9180\", got {value!r}"
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host} is not an IPv4 address, got {value!r}"
        return None
    if _HOSTNAME_RE.fullmatch(host):
        return None
    return f"{host!r} is neither an IP address nor a host name, got {value!r}"


def _network(value: str) -> str | None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return f"expected an IP address or network such as 10.0.0.0/8, got {value!r}"
    return None


def _origin(value: str) -> str | None:
    if value == "*" or re.fullmatch(r"https?://[^/\s?#]+", value):
        return None
    return (f"expected an origin such as https://grafana.example.com (scheme and host, "
            f"no path) or *, got {value!r}")


def _http_url(value: str) -> str | None:
    if re.fullmatch(r"https?://[^/\s?#]+(/\S*)?", value):
        return None
    return f"expected an http:// or https:// URL, got {value!r}"


def _clock(value: str) -> str | None:
    if _CLOCK_RE.fullmatch(value):
        return None
    return f"expected a time of day \"HH:MM\" (24-hour, local time), got {value!r}"


def _day(value: str) -> str | None:
    if value.lower() in _DAYS or value.lower() in _DAY_NAMES:
        return None
    return f"expected a day name ({', '.join(_DAYS)}), got {value!r}"


def _repeat(value: int) -> str | None:
    if value == 0 or 60 <= value <= 30 * _DAY:
        return None
    return f"must be 0 (never) or between 1 minute and 30 days, got {_human(value)}"


class _QuietThread(logging.Filter):
    """Drops the records of the thread that set `quiet.on`, leaving other threads be.

    Apprise logs every URL it rejects at ERROR, tokens in its path included, and its
    parse at TRACE: while the config is checked, that is noise before sysmond's own
    message and a leak into the journal, yet a delivery thread's records must stay.
    """

    def __init__(self) -> None:
        super().__init__()
        self.quiet = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.quiet, "on", False)


_APPRISE_QUIET = _QuietThread()


def _apprise_url(value: str) -> str | None:
    import apprise  # only here: importing it takes a tenth of a second

    logger = logging.getLogger("apprise")
    if _APPRISE_QUIET not in logger.filters:
        logger.addFilter(_APPRISE_QUIET)
    _APPRISE_QUIET.quiet.on = True
    try:
        usable = apprise.Apprise().add(value)
    finally:
        _APPRISE_QUIET.quiet.on = False
    if usable:
        return None
    scheme = value.partition("://")[0] if "://" in value else value[:12]
    # The URL itself is not repeated: it often holds a password or a token.
    return (f"Apprise cannot use this {scheme}:// URL (unknown scheme or missing parts; "
            f"see https://github.com/caronc/apprise/wiki)")


def _metric(value: str) -> str | None:
    base, sep, device = value.partition("@")
    match = re.fullmatch(r"([a-z]+)\.([a-z0-9_]+)", base)
    if not match or (sep and not device):
        return (f"expected a series name AREA.FIELD, AREA.FIELD@DEVICE or AREA.FIELD@* "
                f"(as disk.percent@/), got {value!r}")
    area = match[1]
    if area not in _AREAS:
        return f"unknown area {area!r} (the areas are {', '.join(_AREAS)}), got {value!r}"
    kind = None
    catalogue = _catalogue()
    if catalogue is not None:
        names = [name for name, m in catalogue.items() if m.stored]
        if base not in names:
            close = difflib.get_close_matches(base, names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"no series is called {base!r}{hint}"
        kind = catalogue[base].device
    elif area == "memory":
        kind = "none"
    if not sep or device == "*":
        return None
    if "*" in device:
        return f"only a whole device can be a wildcard ({base}@*), got {value!r}"
    if kind == "none":
        return f"{base} has no per-device series, so @{device} selects nothing"
    if (kind == "core" or area == "cpu") and not device.isdigit():
        return f"a core is chosen by its number, as {base}@0, got {value!r}"
    if kind == "mount" and not device.startswith("/"):
        return f"a mount point starts with '/', as {base}@/home, got {value!r}"
    return None


def _catalogue() -> Mapping[str, Any] | None:
    """The metric catalogue's series, or None where sysmond.metrics is not there."""
    try:
        from sysmond.metrics import BY_SERIES
    except ImportError:
        return None
    return BY_SERIES


_PLAIN = _Spec()
_NOT_READ = {(Config, "source")}  # set by parse_config, not by the file
_ABSOLUTE = _Spec(check=_absolute_path)
_TEXT = _Spec(check=_not_empty)
_PATTERN = _Spec(check=_pattern)
_CLOCK = _Spec(check=_clock)

_SPECS: dict[tuple[type, str], _Spec] = {
    (Config, "state_dir"): _ABSOLUTE,
    (Config, "hostname"): _Spec(check=_hostname),
    (CollectionConfig, "interval"): _Spec(duration=True, lo=1, hi=60),
    (CollectionConfig, "process_interval"): _Spec(duration=True, lo=1, hi=3_600),
    (CollectionConfig, "top_n"): _Spec(lo=1, hi=100),
    (CollectionConfig, "process_history_interval"): _Spec(duration=True, lo=1, hi=_DAY),
    (CollectionConfig, "stat_timeout"): _Spec(duration=True, lo=0.1, hi=30),
    (Patterns, "include"): _PATTERN,
    (Patterns, "exclude"): _PATTERN,
    (TierConfig, "name"): _Spec(check=_tier_name),
    (TierConfig, "step"): _Spec(duration=True, lo=1, hi=_DAY),
    (TierConfig, "retention"): _Spec(duration=True, lo=1, hi=20 * 365 * _DAY),
    (StorageConfig, "xff"): _Spec(lo=0, hi=1),
    (StorageConfig, "flush_interval"): _Spec(duration=True, lo=1, hi=3_600),
    (StorageConfig, "pending_limit"): _Spec(lo=0, hi=1_000_000),
    (JwtConfig, "algorithm"): _Spec(choices=("HS256", "RS256")),
    (JwtConfig, "key_file"): _ABSOLUTE,
    (JwtConfig, "audience"): _TEXT,
    (JwtConfig, "issuer"): _TEXT,
    (JwtConfig, "leeway"): _Spec(duration=True, lo=0, hi=300),
    (AuthConfig, "mode"): _Spec(choices=("none", "token", "jwt")),
    (AuthConfig, "tokens_file"): _ABSOLUTE,
    (TlsConfig, "cert_file"): _ABSOLUTE,
    (TlsConfig, "key_file"): _ABSOLUTE,
    (RateLimitConfig, "rate"): _Spec(lo=0.01, hi=1_000_000),
    (RateLimitConfig, "burst"): _Spec(lo=1, hi=1_000_000),
    (RateLimitConfig, "trusted_proxies"): _Spec(check=_network),
    (LimitsConfig, "max_points"): _Spec(lo=10, hi=1_000_000),
    (LimitsConfig, "max_header_size"): _Spec(lo=1_024, hi=65_536),
    (LimitsConfig, "max_scan_cells"): _Spec(lo=10_000, hi=10_000_000_000),
    (ServerConfig, "listen"): _Spec(check=_listen),
    (ServerConfig, "cors_origins"): _Spec(check=_origin),
    (ChannelConfig, "urls"): _Spec(check=_apprise_url),
    (ChannelConfig, "log_file"): _TEXT,
    (TimeWindow, "start"): _CLOCK,
    (TimeWindow, "end"): _CLOCK,
    (TimeWindow, "days"): _Spec(check=_day),
    (AlertRuleConfig, "metric"): _Spec(check=_metric),
    (AlertRuleConfig, "op"): _Spec(choices=_OPS),
    (AlertRuleConfig, "for_seconds"): _Spec(key="for", duration=True, lo=0, hi=7 * _DAY),
    (AlertRuleConfig, "severity"): _Spec(choices=("warning", "critical")),
    (AlertRuleConfig, "repeat"): _Spec(duration=True, check=_repeat),
    (AlertsConfig, "rules"): _Spec(keyed=True),
    (AlertsConfig, "channels"): _Spec(keyed=True),
    (AlertsConfig, "dashboard_url"): _Spec(check=_http_url),
    (AlertsConfig, "delivery_timeout"): _Spec(duration=True, lo=1, hi=300),
    (AlertsConfig, "retry_for"): _Spec(duration=True, lo=0, hi=7 * _DAY),
    (AlertsConfig, "history_limit"): _Spec(lo=100, hi=10_000_000),
    (ReportConfig, "output_dir"): _ABSOLUTE,
    (ReportConfig, "every"): _Spec(duration=True, lo=60, hi=7 * _DAY),
    (LoggingConfig, "level"): _Spec(choices=("debug", "info", "warning", "error")),
    (LoggingConfig, "format"): _Spec(choices=("auto", "text", "journal")),
}


def yaml_key(cls: type, name: str) -> str:
    """Given a dataclass and one of its fields, return the field's key in the YAML file
    (`for` for AlertRuleConfig.for_seconds; otherwise the field's own name)."""
    return (_SPECS.get((cls, name), _PLAIN).key or name)


# --- stage 3: cross-checks ----------------------------------------------------------------


def _cross_check(config: Config, problems: _Problems) -> None:
    """Check the rules that span fields, skipping any that involves a field that already
    has a problem (its value is a stand-in, and one message per mistake is enough)."""
    _check_ladder(config.storage.tiers, problems)
    _check_intervals(config, problems)
    _check_server(config.server, problems)
    _check_alerts(config.alerts, problems)
    report = config.report
    if report.enabled and report.output_dir is None and not problems.involve(
            ("report", "enabled"), ("report", "output_dir")):
        problems.add(("report", "output_dir"), "is required when report.enabled is true "
                     "(the directory the site is written to)", at=(("report", "enabled"),))


def _check_ladder(tiers: tuple[TierConfig, ...], problems: _Problems) -> None:
    """whisper's four rules, each message naming both tiers concerned."""
    path: _KeyPath = ("storage", "tiers")
    if problems.involve(path):
        return
    if not tiers:
        problems.add(path, "there must be at least one tier")
        return
    seen: dict[str, int] = {}
    for i, tier in enumerate(tiers):
        here: _KeyPath = (*path, i)
        if tier.name in seen:
            problems.add((*here, "name"), f"tier name {tier.name!r} is already used by "
                         f"storage.tiers[{seen[tier.name]}]")
        seen.setdefault(tier.name, i)
        if tier.retention % tier.step or tier.retention < tier.step:
            problems.add((*here, "retention"), f"tier {tier.name!r} must keep a whole "
                         f"number of its {_human(tier.step)} steps, got "
                         f"{_human(tier.retention)}")
        elif tier.rows > _MAX_ROWS:
            problems.add((*here, "retention"), f"tier {tier.name!r} would hold "
                         f"{tier.rows} rows ({_human(tier.retention)} at "
                         f"{_human(tier.step)}), more than {_MAX_ROWS}; use a coarser step "
                         f"or a shorter retention")
    for i, (fine, coarse) in enumerate(itertools.pairwise(tiers)):
        here = (*path, i + 1)
        name, above = f"tier {coarse.name!r}", f"tier {fine.name!r} above it"
        if coarse.step <= fine.step:
            problems.add((*here, "step"), f"{name} (step {_human(coarse.step)}) must have a "
                         f"longer step than {above} (step {_human(fine.step)}): list the "
                         f"tiers from the finest to the coarsest")
        elif coarse.step % fine.step:
            problems.add((*here, "step"), f"{name} (step {_human(coarse.step)}) must have a "
                         f"step that is a multiple of the step of {above} "
                         f"({_human(fine.step)}), so that each of its rows is made of whole "
                         f"rows of {fine.name!r}")
        if coarse.retention <= fine.retention:
            problems.add((*here, "retention"), f"{name} (kept {_human(coarse.retention)}) "
                         f"must keep history longer than {above} (kept "
                         f"{_human(fine.retention)}): a coarser tier is only worth its space "
                         f"if it reaches further back")
        if fine.retention < coarse.step:
            problems.add((*path, i, "retention"), f"tier {fine.name!r} keeps "
                         f"{_human(fine.retention)}, less than one "
                         f"{_human(coarse.step)} step of tier {coarse.name!r} below it, so "
                         f"{coarse.name!r} could never be fed a whole row")


def _check_intervals(config: Config, problems: _Problems) -> None:
    collection = config.collection
    interval = ("collection", "interval")
    if not problems.involve(interval, ("storage", "tiers")) and config.storage.tiers:
        first = config.storage.tiers[0]
        if collection.interval % first.step:
            problems.add(interval, f"must be a multiple of the first tier's step "
                         f"({first.name!r}: {_human(first.step)}), got "
                         f"{_human(collection.interval)}",
                         at=(interval, ("storage", "tiers", 0, "step")))
    # process_interval and process_history_interval need no relation to the interval:
    # processes are sampled (and recorded) on the first tick at or after they are due.


def _check_server(server: ServerConfig, problems: _Problems) -> None:
    auth, jwt, tls = server.auth, server.auth.jwt, server.tls
    mode = ("server", "auth", "mode")
    if not problems.involve(("server", "auth")):
        if auth.mode == "token" and auth.tokens_file is None:
            problems.add(("server", "auth", "tokens_file"), "is required when "
                         "server.auth.mode is 'token' (a file of bearer tokens, one a line)",
                         at=(mode,))
        if auth.mode == "jwt" and jwt.key_file is None:
            problems.add(("server", "auth", "jwt", "key_file"), "is required when "
                         "server.auth.mode is 'jwt' (the HS256 secret or the RS256 "
                         "public key)", at=(mode,))
    if not problems.involve(("server", "tls")) and bool(tls.cert_file) != bool(tls.key_file):
        present, missing = ("cert_file", "key_file") if tls.cert_file else (
            "key_file", "cert_file")
        problems.add(("server", "tls", missing), f"is required with server.tls.{present}: "
                     f"HTTPS needs both the certificate and its key",
                     at=(("server", "tls", present),))
    listen = ("server", "listen")
    if not problems.involve(listen, ("server", "auth")) and auth.mode == "none" and (
            not auth.allow_insecure_remote and not _is_loopback(server.host)):
        problems.add(listen, f"{server.listen} is not a loopback address, and "
                     f"server.auth.mode is 'none': anyone who can reach it could read the "
                     f"API. Set server.auth.mode to token or jwt, or, if a firewall or a "
                     f"proxy guards it, server.auth.allow_insecure_remote: true")


def _check_alerts(alerts: AlertsConfig, problems: _Problems) -> None:
    channels = {channel.name for channel in alerts.channels}
    for channel in alerts.channels:
        here: _KeyPath = ("alerts", "channels", channel.name)
        if not channel.urls and channel.log_file is None and not problems.involve(here):
            problems.add(here, "has neither urls nor log_file, so it would deliver nowhere")
    rules: _KeyPath = ("alerts", "rules")
    if rules not in problems.key_lines and rules not in problems.external:
        # The default rules, against channels the file wrote: one message, not one per
        # default rule, pointing at what the admin wrote.
        wanted = sorted({name for rule in alerts.rules for name in rule.channels} - channels)
        if wanted and not problems.broken(("alerts", "channels")):
            listed = ", ".join(repr(name) for name in wanted)
            them = "them" if wanted[1:] else "it"
            problems.add(("alerts", "channels"), f"the default rules notify {listed}, not "
                         f"defined here: define {them} here too, or write your own "
                         f"alerts.rules")
        return
    for rule in alerts.rules:
        here = ("alerts", "rules", rule.name)
        for index, name in enumerate(rule.channels):
            if name not in channels and not problems.broken(("alerts", "channels")):
                close = difflib.get_close_matches(name, sorted(channels), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.add((*here, "channels", index), f"no channel {name!r} is defined "
                             f"under alerts.channels{hint}")
        if rule.clear is not None and not problems.involve(
                (*here, "op"), (*here, "threshold"), (*here, "clear")):
            upward = rule.op in (">", ">=")
            if (upward and rule.clear > rule.threshold) or (
                    not upward and rule.clear < rule.threshold):
                side = "at most" if upward else "at least"
                problems.add((*here, "clear"), f"must be {side} the threshold "
                             f"({_number(rule.threshold)}) for op {rule.op!r}: the alert "
                             f"ends once the value is back on the clear side, got "
                             f"{_number(rule.clear)}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- small helpers ------------------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _placeholder(hint: Any) -> Any:
    """A stand-in for a required field that had a problem, so reading can go on."""
    if get_origin(hint) is tuple:
        return ()
    return {bool: False, int: 0, float: 0.0}.get(hint, "")


def _unknown_key(key: str, known: list[str], path: _KeyPath) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    if not path:
        for section, cls in _SECTIONS.items():
            if key in {yaml_key(cls, f.name) for f in fields(cls)}:
                return f"unknown key here (it belongs under {section}: {section}.{key})"
    return f"unknown key (known here: {', '.join(known)})"


def _render(path: _KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _show(value: Any, *, quote: bool = True) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and quote:
        return repr(value)
    return str(value)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _human(seconds: float) -> str:
    """Given seconds, return them as a person says them: '90 seconds', '7 days'."""
    if seconds and seconds == int(seconds):
        for unit, size in (("year", 365 * _DAY), ("day", _DAY), ("hour", 3_600),
                           ("minute", 60)):
            if seconds % size == 0:
                n = int(seconds // size)
                return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{_number(seconds)} second{'s' if seconds != 1 else ''}"


def _ladder(tiers: tuple[TierConfig, ...]) -> str:
    return ", ".join(f"{t.name} every {_human(t.step)} for {_human(t.retention)}"
                     for t in tiers)


_SECTIONS: dict[str, type] = {
    "collection": CollectionConfig, "storage": StorageConfig, "server": ServerConfig,
    "alerts": AlertsConfig, "report": ReportConfig, "logging": LoggingConfig,
}
