"""Message text, the log file line and channel URL validation (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sysmond.alerts import validate_channel_url
from sysmond.alerts.channels import (
    fmt_duration,
    fmt_time,
    fmt_value,
    log_line,
    render,
    targets,
)
from sysmond.alerts.events import AlertEvent
from sysmond.config import ChannelConfig

T0 = 1_715_000_000.0


def event(**kw) -> AlertEvent:
    base = dict(
        id="abc", kind="firing", time=T0 + 360, host="web1", rule="disk_full",
        instance="disk.percent@/home", device="/home", severity="critical", op=">",
        threshold=85.0, clear=80.0, value=90.14, peak=93.4, since=T0, fired_at=T0 + 60,
        duration=None, reason="", description="Free some space on /home.",
        channels=("ops",), dashboard_url="https://web1.example:9180/",
    )
    base.update(kw)
    return AlertEvent(**base)


def test_a_firing_message_says_host_what_value_threshold_since_and_links_the_dashboard():
    title, body = render(event())
    assert title == "[web1] FIRING CRITICAL disk_full: disk.percent@/home = 90.1 % (> 85.0 %)"
    assert "disk_full is firing on web1 (critical)." in body
    assert "disk.percent@/home is 90.1 %, threshold > 85.0 % (clears at or below 80.0 %)" in body
    assert f"Began {fmt_time(T0)} (6 min ago), firing since {fmt_time(T0 + 60)}." in body
    assert "Free some space on /home." in body
    assert body.endswith("Dashboard: https://web1.example:9180/")


def test_a_recovery_message_gives_the_current_value_the_peak_and_how_long_it_lasted():
    title, body = render(event(kind="resolved", value=71.0, reason="recovered",
                               duration=4_320.0, time=T0 + 4_320))
    assert title == "[web1] RESOLVED disk_full: disk.percent@/home = 71.0 % (was > 85.0 %)"
    assert "has resolved: the value is back to normal." in body
    assert "disk.percent@/home is 71.0 % now" in body
    assert "Peak 93.4 %." in body
    assert f"Lasted 1 h 12 min: from {fmt_time(T0)} to {fmt_time(T0 + 4_320)}." in body


def test_a_device_gone_message_says_so_and_calls_the_value_the_last_one():
    _, body = render(event(kind="resolved", reason="device gone", duration=100.0))
    assert "device gone (/home is no longer reported)" in body
    assert "was last 90.1 %" in body
    assert " now " not in body


def test_a_repeat_says_still_firing_and_a_deferred_one_says_why_it_is_late():
    title, body = render(event(kind="repeat", deferred=True))
    assert title.startswith("[web1] STILL FIRING CRITICAL disk_full")
    assert "is still firing" in body
    assert "Held back by quiet hours or maintenance" in body


def test_no_dashboard_line_without_a_dashboard_url():
    _, body = render(event(dashboard_url=None, description=""))
    assert "Dashboard" not in body


@pytest.mark.parametrize(
    ("series", "value", "text"),
    [("cpu.usage_percent", 91.04, "91.0 %"),
     ("network.bytes_recv_per_sec@eth0", 12.5 * 1024 * 1024, "12.5 MiB/s"),
     ("memory.available", 512 * 1024 * 1024, "512.0 MiB"),
     ("disk.free@/", 3 * 1024**3, "3.0 GiB"),
     ("cpu.load_average_1", 3.14159, "3.142"),
     ("cpu.ctx_switches_per_sec", 12000, "12,000/s"),
     ("disk.read_count_per_sec@sda", 12.5, "12.5/s"),
     ("cpu.usage_percent", None, "n/a"),
     ("cpu.usage_percent", float("nan"), "n/a")],
)
def test_values_are_formatted_with_the_unit_of_their_series(series, value, text):
    assert fmt_value(series, value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (90, "1 min 30 s"), (720, "12 min"), (4_320, "1 h 12 min"),
     (3_600, "1 h"), (183_600, "2 d 3 h")],
)
def test_durations_read_like_a_person_would_say_them(seconds, text):
    assert fmt_duration(seconds) == text


def test_the_log_file_line_has_time_host_rule_instance_state_value_threshold():
    record = json.loads(log_line(event()))
    assert record["host"] == "web1" and record["rule"] == "disk_full"
    assert record["instance"] == "disk.percent@/home" and record["state"] == "firing"
    assert record["value"] == 90.14 and record["threshold"] == 85.0
    assert record["time"].startswith("2024-05-06T") and record["time"].endswith("+00:00")
    assert json.loads(log_line(event(kind="resolved")))["state"] == "resolved"


def test_channel_targets_are_urls_then_the_log_file_under_the_state_dir(tmp_path):
    ch = ChannelConfig("ops", urls=("mailto://u:secret@h", "json://h/x"), log_file="a.log")
    ts = targets(ch, tmp_path)
    assert [(t.kind, t.label) for t in ts] == [
        ("apprise", "ops:mailto#1"), ("apprise", "ops:json#2"), ("log", "ops:file")]
    assert ts[2].address == str(tmp_path / "a.log")
    assert all("secret" not in t.label for t in ts)
    absolute = targets(ChannelConfig("l", log_file="/var/log/x.log"), tmp_path)
    assert absolute[0].address == str(Path("/var/log/x.log"))


@pytest.mark.parametrize(
    "url",
    ["mailto://user:pass@127.0.0.1:2525?mode=insecure&from=a@example.com&to=b@example.com",
     "json://127.0.0.1:8080/hook",
     "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"],
)
def test_urls_apprise_understands_are_valid(url):
    assert validate_channel_url(url) is None


@pytest.mark.parametrize("url", ["nosuchservice://user:hunter2@x", "hunter2", "slack://x"])
def test_bad_urls_are_explained_without_repeating_secrets(url):
    problem = validate_channel_url(url)
    assert problem
    assert "hunter2" not in problem
