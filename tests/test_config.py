"""The config file: the example in sync with the defaults, every mistake reported at once
with its key path and line, durations, the tier ladder, reloads and the state directory."""

from __future__ import annotations

import os
import pwd
import types
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from textwrap import dedent
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sysmond.config import (
    AlertRuleConfig,
    ChannelConfig,
    Config,
    StorageConfig,
    TierConfig,
    default_state_dir,
    load_config,
    parse_config,
    parse_duration,
    reload_diff,
    yaml_key,
)
from sysmond.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "sysmond.example.yaml"
GOLDEN = Path(__file__).resolve().parent / "golden"
NAMED_BY_KEY = {AlertRuleConfig, ChannelConfig}  # written as a mapping name -> record


def problems_of(text: str, source: str = "sysmond.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(dedent(text), source)
    return caught.value.problems


def rule(**keys: str) -> str:
    """A valid rule `r` with some keys replaced or added, as YAML."""
    body = {"metric": "cpu.usage_percent", "op": "'>'", "threshold": "80", **keys}
    lines = "".join(f"      {key}: {value}\n" for key, value in body.items())
    return "alerts:\n  rules:\n    r:\n" + lines


# --- the example file and the defaults ---------------------------------------------------


def test_the_example_file_parses_to_exactly_the_built_in_defaults():
    config = load_config(EXAMPLE)
    assert config == Config()
    assert config.source == str(EXAMPLE)


def test_no_config_file_means_the_built_in_defaults():
    assert load_config(None) == Config()
    assert load_config(None).source is None


def test_an_empty_file_means_the_built_in_defaults():
    assert parse_config("", "empty.yaml") == Config()
    assert parse_config("# only a comment\n", "empty.yaml") == Config()


def _unwrap(hint: Any) -> Any:
    if get_origin(hint) in (Union, types.UnionType):
        return next(arg for arg in get_args(hint) if arg is not type(None))
    if get_origin(hint) is tuple:
        return get_args(hint)[0]
    return hint


def _keys_of_defaults(value: Any, seen: set[tuple[str, str]]) -> None:
    """Every (record type, YAML key) the default config holds, walking the dataclasses."""
    if isinstance(value, tuple):
        for item in value:
            _keys_of_defaults(item, seen)
    if not is_dataclass(value):
        return
    cls = type(value)
    for f in fields(cls):
        if (cls, f.name) == (Config, "source") or (cls in NAMED_BY_KEY and f.name == "name"):
            continue
        seen.add((cls.__name__, yaml_key(cls, f.name)))
        _keys_of_defaults(getattr(value, f.name), seen)


def _keys_of_example(data: dict[str, Any], cls: type, seen: set[tuple[str, str]]) -> None:
    """Every (record type, YAML key) the example file writes, walking it with the types."""
    hints = get_type_hints(cls)
    by_key = {yaml_key(cls, f.name): f.name for f in fields(cls)}
    for key, value in data.items():
        seen.add((cls.__name__, key))
        inner = _unwrap(hints[by_key[key]]) if key in by_key else None
        if not is_dataclass(inner):
            continue
        if isinstance(value, dict) and inner in NAMED_BY_KEY:
            items = list(value.values())
        else:
            items = value if isinstance(value, list) else [value]
        for item in items:
            _keys_of_example(item, inner, seen)


def test_every_key_of_the_defaults_is_in_the_example_and_every_key_there_is_a_field():
    in_defaults: set[tuple[str, str]] = set()
    _keys_of_defaults(Config(), in_defaults)
    in_example: set[tuple[str, str]] = set()
    _keys_of_example(yaml.safe_load(EXAMPLE.read_text()), Config, in_example)
    assert sorted(in_defaults - in_example) == [], "fields missing from the example"
    assert sorted(in_example - in_defaults) == [], "keys in the example that are no field"


def _key_lines_of_example(node: yaml.Node, cls: type, out: dict[tuple[str, str], list[int]]
                          ) -> None:
    """The 0-based lines where each (record type, YAML key) is written in the example."""
    hints = get_type_hints(cls)
    by_key = {yaml_key(cls, f.name): f.name for f in fields(cls)}
    for key, value in node.value:
        out.setdefault((cls.__name__, key.value), []).append(key.start_mark.line)
        inner = _unwrap(hints[by_key[key.value]])
        if not is_dataclass(inner):
            continue
        if isinstance(value, yaml.MappingNode) and inner in NAMED_BY_KEY:
            items = [item for _, item in value.value]
        elif isinstance(value, yaml.SequenceNode):
            items = value.value
        else:
            items = [value]
        for item in items:
            _key_lines_of_example(item, inner, out)


def test_the_example_explains_every_key_in_a_comment():
    text = EXAMPLE.read_text()
    lines = text.splitlines()
    comments = " ".join(line.strip() for line in lines if line.strip().startswith("#"))
    where: dict[tuple[str, str], list[int]] = {}
    _key_lines_of_example(yaml.compose(text), Config, where)
    # Explained: a comment just above one of its places, or named as `key` in a comment
    # (the keys of a group explained together, such as include/exclude).
    unexplained = sorted(
        f"{cls}.{key}" for (cls, key), rows in where.items()
        if not any(row and lines[row - 1].strip().startswith("#") for row in rows)
        and f"`{key}`" not in comments)
    assert unexplained == []


# --- one message per mistake, with path and line -------------------------------------------

BAD = [
    pytest.param("collection:\n  interval: 0\n",
                 "sysmond.yaml:2: collection.interval: must be between 1 and 60 seconds, got 0",
                 id="interval-zero"),
    pytest.param("collection:\n  interval: 2m\n",
                 "sysmond.yaml:2: collection.interval: must be between 1 and 60 seconds, got 2m",
                 id="interval-as-duration-too-long"),
    pytest.param("collection:\n  intervl: 5\n",
                 "sysmond.yaml:2: collection.intervl: unknown key (did you mean 'interval'?)",
                 id="unknown-key-with-hint"),
    pytest.param("interval: 5\n",
                 "sysmond.yaml:1: interval: unknown key here (it belongs under collection: "
                 "collection.interval)", id="key-in-the-wrong-section"),
    pytest.param("collection:\n  top_n: ten\n",
                 "sysmond.yaml:2: collection.top_n: expected a whole number, got 'ten'",
                 id="not-a-number"),
    pytest.param("collection:\n  stat_timeout: 0\n",
                 "sysmond.yaml:2: collection.stat_timeout: must be between 0.1 and 30 seconds, "
                 "got 0", id="float-seconds-out-of-range"),
    pytest.param("collection:\n  interval: 2\n  process_interval: 0\n",
                 "sysmond.yaml:3: collection.process_interval: must be between 1 second and "
                 "1 hour, got 0", id="process-interval"),
    pytest.param("collection:\n  interval: 5\nstorage:\n  tiers:\n"
                 "    - {name: raw, step: 2s, retention: 1d}\n"
                 "    - {name: 1m, step: 1m, retention: 7d}\n",
                 "sysmond.yaml:2: collection.interval: must be a multiple of the first tier's "
                 "step ('raw': 2 seconds), got 5 seconds", id="interval-off-the-first-step"),
    pytest.param("collection:\n  mounts:\n    exclude:\n",
                 "sysmond.yaml:3: collection.mounts.exclude: has no value; give one, or delete "
                 "the key for the default (write [] for an empty list)", id="empty-list-key"),
    pytest.param("collection: 5\n",
                 "sysmond.yaml:1: collection: expected a mapping of keys, got 5",
                 id="section-not-a-mapping"),
    pytest.param("storage:\n  xff: 1.5\n",
                 "sysmond.yaml:2: storage.xff: must be between 0 and 1, got 1.5", id="xff"),
    pytest.param("storage:\n  pending_limit: -1\n",
                 "sysmond.yaml:2: storage.pending_limit: must be between 0 and 1000000, got -1",
                 id="negative-int"),
    pytest.param("storage:\n  tiers:\n    - {name: raw, step: 60, retention: 90s}\n",
                 "sysmond.yaml:3: storage.tiers[0].retention: tier 'raw' must keep a whole "
                 "number of its 1 minute steps, got 90 seconds", id="retention-not-whole-steps"),
    pytest.param("storage:\n  tiers:\n    - {name: raw, step: 1s, retention: 1y}\n",
                 "sysmond.yaml:3: storage.tiers[0].retention: tier 'raw' would hold 31536000 "
                 "rows (1 year at 1 second), more than 10000000; use a coarser step or a "
                 "shorter retention", id="tier-too-big"),
    pytest.param("storage:\n  tiers:\n    - {name: one-minute, step: 1m, retention: 1d}\n",
                 "sysmond.yaml:3: storage.tiers[0].name: a tier name may hold letters, digits "
                 "and '_' (it names files), got 'one-minute'", id="tier-name"),
    pytest.param("storage:\n  tiers:\n    - {name: raw, step: 1s, retention: 1d}\n"
                 "    - {name: 1m, retention: 7d}\n",
                 "sysmond.yaml:4: storage.tiers[1]: 'step' is required", id="tier-without-step"),
    pytest.param("server:\n  listen: 9180\n",
                 "sysmond.yaml:2: server.listen: expected HOST:PORT as 127.0.0.1:9180, "
                 "0.0.0.0:9180 or \"[::1]:9180\", got '9180'", id="listen-port-only"),
    pytest.param("server:\n  listen: ::1:9180\n",
                 "sysmond.yaml:2: server.listen: put an IPv6 address in brackets, as "
                 "\"[::1]:9180\", got '::1:9180'", id="listen-ipv6-without-brackets"),
    pytest.param("server:\n  listen: 127.0.0.1:99999\n",
                 "sysmond.yaml:2: server.listen: the port must be a number from 0 (any free port) "
                 "to 65535, "
                 "got '127.0.0.1:99999'", id="listen-port-too-big"),
    pytest.param("server:\n  listen: 300.1.1.1:9180\n",
                 "sysmond.yaml:2: server.listen: 300.1.1.1 is not an IPv4 address, got "
                 "'300.1.1.1:9180'", id="listen-bad-ipv4"),
    pytest.param("server:\n  listen: 0.0.0.0:9180\n",
                 "sysmond.yaml:2: server.listen: 0.0.0.0:9180 is not a loopback address, and "
                 "server.auth.mode is 'none': anyone who can reach it could read the API. Set "
                 "server.auth.mode to token or jwt, or, if a firewall or a proxy guards it, "
                 "server.auth.allow_insecure_remote: true", id="open-api-on-the-network"),
    pytest.param("server:\n  auth:\n    mode: tokens\n",
                 "sysmond.yaml:3: server.auth.mode: must be one of none, token, jwt, got "
                 "'tokens' (did you mean 'token'?)", id="bad-enum-with-hint"),
    pytest.param("server:\n  auth:\n    mode: token\n",
                 "sysmond.yaml:3: server.auth.tokens_file: is required when server.auth.mode "
                 "is 'token' (a file of bearer tokens, one a line)", id="token-without-file"),
    pytest.param("server:\n  auth:\n    mode: jwt\n",
                 "sysmond.yaml:3: server.auth.jwt.key_file: is required when server.auth.mode "
                 "is 'jwt' (the HS256 secret or the RS256 public key)", id="jwt-without-key"),
    pytest.param("server:\n  auth:\n    mode: token\n    tokens_file: tokens.txt\n",
                 "sysmond.yaml:4: server.auth.tokens_file: must be an absolute path (a "
                 "daemon's working directory is /), got 'tokens.txt'", id="relative-path"),
    pytest.param("server:\n  tls:\n    cert_file: /etc/sysmond/cert.pem\n",
                 "sysmond.yaml:3: server.tls.key_file: is required with server.tls.cert_file: "
                 "HTTPS needs both the certificate and its key", id="tls-cert-without-key"),
    pytest.param("server:\n  rate_limit:\n    trusted_proxies: [10.0.0.300/8]\n",
                 "sysmond.yaml:3: server.rate_limit.trusted_proxies[0]: expected an IP address "
                 "or network such as 10.0.0.0/8, got '10.0.0.300/8'", id="bad-proxy-network"),
    pytest.param("server:\n  cors_origins: [https://grafana.example.com/d/]\n",
                 "sysmond.yaml:2: server.cors_origins[0]: expected an origin such as "
                 "https://grafana.example.com (scheme and host, no path) or *, got "
                 "'https://grafana.example.com/d/'", id="cors-origin-with-path"),
    pytest.param(rule(channels="[lgo]"),
                 "sysmond.yaml:7: alerts.rules.r.channels[0]: no channel 'lgo' is defined "
                 "under alerts.channels (did you mean 'log'?)", id="rule-unknown-channel"),
    pytest.param("alerts:\n  rules:\n    r:\n      severity: critical\n",
                 "sysmond.yaml:3: alerts.rules.r: 'metric', 'op' and 'threshold' are required",
                 id="rule-missing-keys"),
    pytest.param(rule(op=">", threshold="80"),
                 "sysmond.yaml:5: alerts.rules.r.op: must be one of >, >=, <, <=, got '' "
                 "(quote it: op: \">\"; a bare > starts a folded text block in YAML)",
                 id="rule-unquoted-greater-than"),
    pytest.param(rule(op="'<'", clear="70"),
                 "sysmond.yaml:7: alerts.rules.r.clear: must be at least the threshold (80) "
                 "for op '<': the alert ends once the value is back on the clear side, got 70",
                 id="rule-clear-on-the-wrong-side"),
    pytest.param(rule(severity="info"),
                 "sysmond.yaml:7: alerts.rules.r.severity: must be one of warning, critical, "
                 "got 'info'", id="rule-severity"),
    pytest.param(rule(**{"for": "5 min"}),
                 "sysmond.yaml:7: alerts.rules.r.for: expected a duration such as 90s, 5m, "
                 "1h30m, 7d, 1y or a number of seconds, got '5 min'", id="rule-bad-duration"),
    pytest.param(rule(repeat="30s"),
                 "sysmond.yaml:7: alerts.rules.r.repeat: must be 0 (never) or between 1 minute "
                 "and 30 days, got 30 seconds", id="rule-repeat-storm"),
    pytest.param(rule(metric="memory.percent@sda"),
                 "sysmond.yaml:4: alerts.rules.r.metric: memory.percent has no per-device "
                 "series, so @sda selects nothing", id="metric-device-on-a-total"),
    pytest.param(rule(metric="cpu.usage_percent@x"),
                 "sysmond.yaml:4: alerts.rules.r.metric: a core is chosen by its number, as "
                 "cpu.usage_percent@0, got 'cpu.usage_percent@x'", id="metric-core-not-number"),
    pytest.param(rule(metric="disk.percent@sd*"),
                 "sysmond.yaml:4: alerts.rules.r.metric: only a whole device can be a wildcard "
                 "(disk.percent@*), got 'disk.percent@sd*'", id="metric-partial-wildcard"),
    pytest.param(rule(metric="'cpu usage'"),
                 "sysmond.yaml:4: alerts.rules.r.metric: expected a series name AREA.FIELD, "
                 "AREA.FIELD@DEVICE or AREA.FIELD@* (as disk.percent@/), got 'cpu usage'",
                 id="metric-shape"),
    pytest.param(rule(metric="gpu.usage_percent"),
                 "sysmond.yaml:4: alerts.rules.r.metric: unknown area 'gpu' (the areas are "
                 "cpu, memory, disk, network), got 'gpu.usage_percent'", id="metric-area"),
    pytest.param("alerts:\n  rules:\n    r:\n      name: cpu\n      metric: memory.percent\n"
                 "      op: '>'\n      threshold: 90\n",
                 "sysmond.yaml:4: alerts.rules.r.name: unknown key (the name is the key above, "
                 "'r')", id="rule-with-a-name-key"),
    pytest.param("alerts:\n  rules: []\n",
                 "sysmond.yaml:2: alerts.rules: expected a mapping of names to settings ({} for "
                 "none), got a list", id="rules-as-a-list"),
    pytest.param("alerts:\n  channels:\n    log:\n      log_file: alerts.log\n"
                 "    chat:\n      urls: ['slak://T000/B000/XXXX']\n",
                 "sysmond.yaml:6: alerts.channels.chat.urls[0]: Apprise cannot use this slak:// "
                 "URL (unknown scheme or missing parts; see "
                 "https://github.com/caronc/apprise/wiki)", id="apprise-url"),
    pytest.param("alerts:\n  channels:\n    log:\n      log_file: alerts.log\n    chat: {}\n",
                 "sysmond.yaml:5: alerts.channels.chat: has neither urls nor log_file, so it "
                 "would deliver nowhere", id="channel-to-nowhere"),
    pytest.param("alerts:\n  channels:\n    mail:\n      urls: ['mailto://a:b@example.com']\n",
                 "sysmond.yaml:2: alerts.channels: the default rules notify 'log', not defined "
                 "here: define it here too, or write your own alerts.rules",
                 id="default-rules-lose-their-channel"),
    pytest.param("alerts:\n  maintenance:\n    - {start: 25:00, end: '04:00'}\n",
                 "sysmond.yaml:3: alerts.maintenance[0].start: expected a time of day "
                 "\"HH:MM\" (24-hour, local time), got '25:00'", id="time-of-day"),
    pytest.param("alerts:\n  maintenance:\n    - {start: '02:00', end: '04:00', "
                 "days: [funday]}\n",
                 "sysmond.yaml:3: alerts.maintenance[0].days[0]: expected a day name (mon, tue, "
                 "wed, thu, fri, sat, sun), got 'funday'", id="day-name"),
    pytest.param("alerts:\n  enabled: 'yes'\n",
                 "sysmond.yaml:2: alerts.enabled: expected true or false, got 'yes'",
                 id="quoted-boolean"),
    pytest.param("report:\n  enabled: true\n",
                 "sysmond.yaml:2: report.output_dir: is required when report.enabled is true "
                 "(the directory the site is written to)", id="report-without-directory"),
    pytest.param("logging:\n  level: verbose\n",
                 "sysmond.yaml:2: logging.level: must be one of debug, info, warning, error, "
                 "got 'verbose'", id="log-level"),
    pytest.param("logging:\n  level: info\n  level: debug\n",
                 "sysmond.yaml:3: logging.level: duplicate key; the first is on line 2",
                 id="duplicate-key"),
    pytest.param("hostname: !secret db\n",
                 "sysmond.yaml:1: hostname: cannot read this value: could not determine a "
                 "constructor for the tag '!secret'", id="unknown-yaml-tag"),
    pytest.param("hostname: my host\n",
                 "sysmond.yaml:1: hostname: expected a host name (letters, digits, '-' and "
                 "'.'), got 'my host'", id="hostname"),
    pytest.param("state_dir: state\n",
                 "sysmond.yaml:1: state_dir: must be an absolute path (a daemon's working "
                 "directory is /), got 'state'", id="relative-state-dir"),
    pytest.param("- collection\n",
                 "sysmond.yaml:1: expected a mapping of keys, got a list", id="not-a-mapping"),
    pytest.param("storage:\n  tiers: &t [*t]\n",
                 "sysmond.yaml:2: storage.tiers[0]: this alias refers to a list or mapping "
                 "that contains it", id="recursive-alias"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_each_mistake_is_reported_with_its_file_line_and_key_path(text, message):
    assert problems_of(text) == [message]


def test_every_mistake_in_a_file_is_reported_at_once_in_line_order():
    text = (GOLDEN / "config_many_errors.yaml").read_text()
    expected = (GOLDEN / "config_many_errors.txt").read_text().splitlines()
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "config_many_errors.yaml")
    assert caught.value.problems == expected
    assert str(caught.value) == "\n".join(expected)


def test_messages_name_the_file_as_it_was_given():
    problems = problems_of("collection:\n  interval: 0\n", source="/etc/sysmond/sysmond.yaml")
    assert problems[0].startswith("/etc/sysmond/sysmond.yaml:2: collection.interval: ")


def test_a_yaml_syntax_error_is_reported_alone_with_its_line_and_the_parsers_words():
    assert problems_of("server:\n  cors_origins: [a, b\nlogging: {}\n") == [
        "sysmond.yaml:3: YAML syntax: expected ',' or ']', but got ':' (while parsing a flow "
        "sequence from line 2)"]


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("collection:\n\tinterval: 1\n",
                 "sysmond.yaml:2: YAML syntax: found character '\\t' that cannot start any "
                 "token; indent with spaces, YAML does not allow tabs", id="tab"),
    pytest.param(rule(op=">="),
                 "sysmond.yaml:5: YAML syntax: expected chomping or indentation indicators, "
                 "but found '=' (while scanning a block scalar from line 5); a value starting "
                 "with > or | must be quoted, as in op: \">=\"", id="greater-or-equal"),
    pytest.param("x: 1\n---\ny: 2\n",
                 "sysmond.yaml:2: YAML syntax: expected a single document in the stream, but "
                 "found another document", id="two-documents"),
    pytest.param("alerts:\n  dashboard_url: see: here\n",
                 "sysmond.yaml:2: YAML syntax: mapping values are not allowed here; a value "
                 "holding ': ' must be quoted", id="colon-in-value"),
    pytest.param("hostname: a\x07b\n",
                 "sysmond.yaml:1: YAML: character '\\x07' is not allowed", id="control-char"),
])
def test_common_yaml_slips_get_a_hint_on_how_to_fix_them(text, message):
    assert problems_of(text) == [message]


# --- what is accepted --------------------------------------------------------------------------


def test_times_of_day_need_no_quotes_although_yaml_reads_22_00_as_a_number():
    config = parse_config("alerts:\n  maintenance:\n    - {start: 22:00, end: 6:30}\n", "x")
    assert config.alerts.maintenance[0].start == "22:00"
    assert config.alerts.maintenance[0].end == "6:30"


def test_a_section_with_every_key_commented_out_means_its_defaults():
    assert parse_config("report:\n  # enabled: true\nlogging:\n", "x") == Config()


def test_yaml_anchors_and_merge_keys_share_settings_between_rules():
    config = parse_config(dedent("""\
        alerts:
          rules:
            base: &base
              metric: cpu.usage_percent
              op: ">"
              threshold: 80
              channels: [log]
            stricter:
              <<: *base
              threshold: 95
        """), "x")
    assert [(r.name, r.threshold, r.channels) for r in config.alerts.rules] == [
        ("base", 80.0, ("log",)), ("stricter", 95.0, ("log",))]


def test_rules_and_channels_are_read_from_mappings_keyed_by_name():
    config = parse_config(dedent("""\
        alerts:
          channels:
            ops:
              urls: ["mailto://user:secret@smtp.example.com?to=ops@example.com",
                     "json://localhost:8080/hook", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl"]
          rules:
            root_full:
              metric: disk.percent@/
              op: ">="
              threshold: 95
              for: 1h30m
              clear: 90
              severity: critical
              channels: [ops]
              repeat: 1d
              quiet_hours: [{start: "22:00", end: "07:00", days: [sat, Sunday]}]
              description: The root file system is nearly full.
        """), "x")
    assert config.alerts.channels == (ChannelConfig("ops", urls=(
        "mailto://user:secret@smtp.example.com?to=ops@example.com",
        "json://localhost:8080/hook", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnl")),)
    (root_full,) = config.alerts.rules
    assert (root_full.name, root_full.op, root_full.for_seconds, root_full.repeat) == (
        "root_full", ">=", 5_400, 86_400)
    assert root_full.quiet_hours[0].days == ("sat", "Sunday")


def test_a_rejected_apprise_url_is_not_logged_by_apprise_with_its_secrets(caplog):
    caplog.set_level(1)
    problems_of("alerts:\n  channels:\n    log: {urls: ['slak://T000/B000/secrettoken']}\n")
    assert "secrettoken" not in caplog.text
    assert [r for r in caplog.records if r.name.startswith("apprise")] == []


def test_a_listen_address_may_be_ipv6_in_brackets_or_a_host_name():
    for listen in ("[::1]:9180", "localhost:9180", "[::]:443"):
        text = f"server:\n  listen: \"{listen}\"\n  auth: {{allow_insecure_remote: true}}\n"
        assert parse_config(text, "x").server.listen == listen
    assert parse_config('server:\n  listen: "[::1]:9180"\n', "x").server.host == "::1"


def test_an_open_api_on_the_network_is_accepted_when_asked_for_or_when_authenticated():
    asked = "server:\n  listen: 0.0.0.0:9180\n  auth: {allow_insecure_remote: true}\n"
    assert parse_config(asked, "x").server.port == 9180
    token = ("server:\n  listen: 0.0.0.0:9180\n"
             "  auth: {mode: token, tokens_file: /etc/sysmond/tokens}\n")
    assert parse_config(token, "x").server.auth.mode == "token"


def test_every_stored_series_of_the_catalogue_is_a_valid_rule_metric():
    metrics = pytest.importorskip("sysmond.metrics")
    for m in metrics.METRICS:
        if not m.stored:
            continue
        names = [m.series] + {"core": ["@0", "@*"], "mount": ["@/", "@/home", "@*"],
                              "device": ["@sda", "@*"], "interface": ["@eth0", "@lo", "@*"],
                              "none": []}[m.device]
        for name in (n if n.startswith(m.area) else m.series + n for n in names):
            assert parse_config(rule(metric=f"'{name}'"), "x").alerts.rules[0].metric == name


def test_a_field_the_catalogue_does_not_know_is_refused_with_the_closest_name():
    pytest.importorskip("sysmond.metrics")
    assert problems_of(rule(metric="cpu.usage_pct")) == [
        "sysmond.yaml:4: alerts.rules.r.metric: no series is called 'cpu.usage_pct' (did you "
        "mean 'cpu.usage_percent'?)"]


# --- command-line overrides -----------------------------------------------------------------


def test_command_line_overrides_replace_file_values_and_get_the_same_checks(tmp_path):
    path = tmp_path / "sysmond.yaml"
    path.write_text("collection:\n  interval: 1\n")
    config = load_config(path, overrides={"collection.interval": "5",
                                          "collection.process_interval": "10s"})
    assert (config.collection.interval, config.collection.process_interval) == (5, 10)
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides={"server.listen": "0.0.0.0:9180"})
    assert caught.value.problems[0].startswith(
        "command line: server.listen: 0.0.0.0:9180 is not a loopback address")


def test_a_relative_path_on_the_command_line_is_taken_from_the_current_directory(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None, overrides={"state_dir": "state"}).state_dir == str(
        tmp_path / "state")


def test_overrides_without_a_file_apply_to_the_defaults():
    config = load_config(None, overrides={"collection.interval": "5"})
    assert config.collection.interval == 5 and config.source is None


# --- reading the file ------------------------------------------------------------------------


def test_a_missing_file_is_one_clear_problem(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert caught.value.problems == [
        f"{tmp_path / 'nope.yaml'}: cannot read it: No such file or directory"]


def test_a_file_that_is_not_utf8_is_one_clear_problem(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"hostname: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: not UTF-8 text (byte 13)"]


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    (0, 0), (90, 90), ("90", 90), ("90s", 90), ("5m", 300), ("1h", 3_600), ("7d", 604_800),
    ("2w", 1_209_600), ("1y", 31_536_000), ("1h30m", 5_400), ("1d12h", 129_600),
    (" 15m ", 900),
])
def test_a_duration_is_seconds_or_a_number_with_a_unit(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [
    "", "5 min", "5min", "5M", "1.5h", "-5s", "30m1h", "1h1h", "h", "1 h", -1, 1.5, True,
    None, "5s5", "١٢s",
])
def test_anything_else_is_not_a_duration(text):
    with pytest.raises(ValueError, match=r"expected a duration such as 90s, 5m, 1h30m, 7d"):
        parse_duration(text)


@given(st.integers(0, 500), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_a_compound_duration_adds_up_its_parts(days, hours, minutes, seconds):
    text = f"{days}d{hours}h{minutes}m{seconds}s"
    assert parse_duration(text) == ((days * 24 + hours) * 60 + minutes) * 60 + seconds


# --- the tier ladder --------------------------------------------------------------------------


def ladder(*tiers: tuple[str, str, str]) -> str:
    rows = "".join(f"    - {{name: {n}, step: {s}, retention: {r}}}\n" for n, s, r in tiers)
    return "storage:\n  tiers:\n" + rows


def test_a_ladder_whose_steps_do_not_grow_names_both_tiers():
    assert problems_of(ladder(("raw", "1m", "1d"), ("1m", "1m", "7d"))) == [
        "sysmond.yaml:4: storage.tiers[1].step: tier '1m' (step 1 minute) must have a longer "
        "step than tier 'raw' above it (step 1 minute): list the tiers from the finest to the "
        "coarsest"]


def test_a_ladder_step_that_does_not_divide_the_next_names_both_tiers():
    assert problems_of(ladder(("raw", "1s", "1d"), ("a", "40s", "7d"), ("b", "1m", "30d"))) == [
        "sysmond.yaml:5: storage.tiers[2].step: tier 'b' (step 1 minute) must have a step that "
        "is a multiple of the step of tier 'a' above it (40 seconds), so that each of its rows "
        "is made of whole rows of 'a'"]


def test_a_ladder_whose_retention_does_not_grow_names_both_tiers():
    assert problems_of(ladder(("raw", "1s", "7d"), ("1m", "1m", "7d"))) == [
        "sysmond.yaml:4: storage.tiers[1].retention: tier '1m' (kept 7 days) must keep history "
        "longer than tier 'raw' above it (kept 7 days): a coarser tier is only worth its space "
        "if it reaches further back"]


def test_a_tier_too_short_to_fill_one_row_of_the_next_names_both_tiers():
    assert problems_of(ladder(("raw", "1s", "30m"), ("1h", "1h", "1y"))) == [
        "sysmond.yaml:3: storage.tiers[0].retention: tier 'raw' keeps 30 minutes, less than one "
        "1 hour step of tier '1h' below it, so '1h' could never be fed a whole row"]


def test_tier_names_must_differ():
    assert problems_of(ladder(("raw", "1s", "1d"), ("raw", "1m", "7d"))) == [
        "sysmond.yaml:4: storage.tiers[1].name: tier name 'raw' is already used by "
        "storage.tiers[0]"]


def test_a_single_tier_is_a_valid_ladder():
    text = ladder(("raw", "10s", "30d")) + "collection: {interval: 10, process_interval: 10}\n"
    config = parse_config(text, "x")
    assert config.storage.tiers == (TierConfig("raw", 10, 30 * 86_400),)


STEPS = st.sampled_from([1, 2, 5, 10, 30, 60, 120, 300, 600, 3_600, 86_400])


@given(st.lists(st.tuples(STEPS, st.integers(1, 400)), min_size=1, max_size=4))
def test_the_config_accepts_exactly_the_ladders_the_store_accepts(rungs):
    ladder_problems = pytest.importorskip("sysmond.store.ladder").ladder_problems
    tiers = tuple(TierConfig(f"t{i}", step, step * rows) for i, (step, rows) in enumerate(rungs))
    text = ladder(*((t.name, str(t.step), str(t.retention)) for t in tiers))
    text += f"collection: {{interval: {tiers[0].step if tiers[0].step <= 60 else 60}}}\n"
    try:
        parse_config(text, "x")
        config_ok = True
    except ConfigError as e:
        config_ok = not [p for p in e.problems if "storage.tiers" in p]
    assert config_ok == (not ladder_problems(tiers))


# --- reload ------------------------------------------------------------------------------------


def test_a_reload_that_changes_rules_and_interval_is_allowed():
    new = parse_config("collection: {interval: 5}\nalerts: {rules: {}}\n", "x")
    assert reload_diff(Config(), new) == []


def test_a_reload_that_changes_the_tier_ladder_is_refused_with_what_to_do():
    new = replace(Config(), state_dir="/srv/sysmond", storage=StorageConfig(
        tiers=(TierConfig("raw", 10, 86_400), TierConfig("1h", 3_600, 365 * 86_400))))
    old = replace(Config(), state_dir="/srv/sysmond")
    (reason,) = reload_diff(old, new)
    assert reason.startswith(
        "storage.tiers changed (raw every 1 second for 1 day, 1m every 1 minute for 7 days, "
        "5m every 5 minutes for 30 days, 1h every 1 hour for 1 year -> raw every 10 seconds "
        "for 1 day, 1h every 1 hour for 1 year): ")
    assert "stop sysmond, move /srv/sysmond/store aside" in reason
    assert "start sysmond again" in reason


def test_a_reload_that_moves_the_state_directory_is_refused():
    (reason,) = reload_diff(Config(), replace(Config(), state_dir="/srv/sysmond"))
    assert reason.startswith("state_dir changed (default -> /srv/sysmond)")
    assert "restart sysmond" in reason


# --- the state directory -----------------------------------------------------------------------


def test_the_state_directory_comes_from_systemd_first_even_as_root():
    env = {"STATE_DIRECTORY": "/var/lib/sysmond:/var/lib/other", "HOME": "/root"}
    assert default_state_dir(env, uid=0) == Path("/var/lib/sysmond")
    assert default_state_dir({"STATE_DIRECTORY": "/x"}, uid=1000) == Path("/x")


def test_the_state_directory_of_root_is_var_lib_sysmond():
    assert default_state_dir({"HOME": "/root", "XDG_STATE_HOME": "/s"}, uid=0) == Path(
        "/var/lib/sysmond")


def test_the_state_directory_of_a_user_follows_xdg():
    env = {"HOME": "/home/ann", "XDG_STATE_HOME": "/home/ann/state"}
    assert default_state_dir(env, uid=1000) == Path("/home/ann/state/sysmond")


def test_a_relative_xdg_state_home_is_ignored_as_the_spec_says():
    env = {"HOME": "/home/ann", "XDG_STATE_HOME": "state"}
    assert default_state_dir(env, uid=1000) == Path("/home/ann/.local/state/sysmond")


def test_without_home_the_user_database_gives_the_home_directory():
    user = next((u for u in pwd.getpwall() if u.pw_uid != 0), None)
    if user is None:
        pytest.skip("no user but root on this machine")
    assert default_state_dir({}, uid=user.pw_uid) == Path(user.pw_dir) / ".local/state/sysmond"


def test_a_user_without_a_home_is_told_to_choose_a_state_directory():
    with pytest.raises(ConfigError, match="--state-dir"):
        default_state_dir({}, uid=2_999_999_999)


def test_the_state_directory_defaults_to_this_process_environment_and_user():
    assert default_state_dir() == default_state_dir(os.environ, os.getuid())
