"""The .deb under a real systemd: a Debian 12 machine booted with systemd-nspawn.

One machine for the module; the tests run in order and each leaves it in the state the
next one expects (installed -> started -> reloaded -> killed -> upgraded -> removed ->
purged). The watchdog test drops in WatchdogSec=5s (runtime only) instead of waiting out
the unit's 30 s; everything else is the packaged unit as shipped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.packaging.machine import REPO, Machine, booted_machine, tools_missing, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CONF = "/etc/sysmond/sysmond.yaml"
UNIT = "sysmond.service"
BROKEN = "# a mistake on purpose\ncollection:\n  interval: 0\n"
GOOD = ("# edited by the admin\ncollection:\n  interval: 2s\n  process_interval: 2s\n"
        "  top_n: 100\n")


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    why = tools_missing()
    if why:
        pytest.skip(why)
    with booted_machine(tmp_path_factory.mktemp("machine"),
                        "packaging-deb-machine-journal.txt") as m:
        yield m


def active(m: Machine) -> bool:
    return m.systemctl(f"is-active {UNIT}", check=False).stdout.strip() == "active"


def health(m: Machine) -> dict:
    return m.get_json("/api/v1/health")


def wait_healthy(m: Machine, timeout: float = 30) -> dict:
    def ok():
        code, body = m.curl("/api/v1/health")
        return json.loads(body) if code == 200 and json.loads(body).get("status") == "ok" \
            else None
    return wait_until(ok, timeout, "a healthy daemon", every=0.5)


def raw_first(m: Machine) -> int:
    tiers = {t["name"]: t for t in health(m)["storage"]["tiers"]}
    return tiers["raw"]["first"]


# --- install --------------------------------------------------------------------------
def test_apt_install_creates_user_config_data_and_starts_the_service(machine, packages):
    m = machine
    deb = m.copy_in(packages["deb"])
    m.apt(f"install {deb}")
    user = m.run("getent passwd sysmond").stdout.strip().split(":")
    assert int(user[2]) < 1000 and user[5] == "/var/lib/sysmond", user
    assert user[6] in ("/usr/sbin/nologin", "/sbin/nologin"), user
    assert m.run(f"stat -c '%a %U:%G' {CONF}").stdout.strip() == "640 root:sysmond"
    assert m.run("stat -c '%a %U:%G' /var/lib/sysmond").stdout.strip() == "750 sysmond:sysmond"
    conffiles = m.run("dpkg-query -W -f='${Conffiles}' sysmond").stdout
    assert CONF in conffiles
    assert m.read(CONF) == (REPO / "sysmond.example.yaml").read_text()
    assert m.systemctl(f"is-enabled {UNIT}").stdout.strip() == "enabled"
    assert m.run("sysmond version").stdout.strip().endswith(
        re.search(r'__version__ = "(.+)"', (REPO / "sysmond/__init__.py").read_text())[1])
    assert m.exists("/usr/lib/sysmond/lib/python3.11/site-packages/sysmond/__pycache__")
    wait_until(lambda: active(m), 30, "the postinst to have started sysmond")


def test_systemd_analyze_verify_and_security_on_the_installed_unit(machine):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    r = subprocess.run([analyze, "verify", f"--root={machine.root}", UNIT],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = subprocess.run([analyze, "security", "--offline=true", f"--root={machine.root}", UNIT],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for sysmond\.service: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.5


# --- start, API -----------------------------------------------------------------------
def test_start_returns_only_after_ready_and_the_unit_is_active(machine):
    m = machine
    m.systemctl(f"stop {UNIT}")
    began = time.monotonic()
    m.systemctl(f"start {UNIT}")
    took = time.monotonic() - began
    # No waiting from here on: start has returned, so READY=1 has been received.
    props = m.show(UNIT, "ActiveState", "SubState", "Type", "NotifyAccess", "StatusText",
                   "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    assert props["Type"] == "notify" and props["ActiveState"] == "active", props
    assert props["SubState"] == "running" and props["StatusText"], props
    # The unit became active (READY=1) well after its process started (python, store,
    # first sample, HTTP), and start waited all that time.
    startup = (int(props["ActiveEnterTimestampMonotonic"])
               - int(props["ExecMainStartTimestampMonotonic"])) / 1e6
    assert 0.2 < startup <= took, (startup, took)
    code, body = m.curl("/api/v1/health")
    assert code == 200, body
    h = json.loads(body)
    assert h["last_sample"] is not None and h["storage"]["state"] == "ok"


def test_api_from_inside_serves_real_data(machine):
    m = machine
    h = wait_healthy(m)
    assert all(c["ok"] for c in h["collectors"].values()), h["collectors"]
    # rates need two samples: wait for the first one that has them
    cur = wait_until(lambda: (c := m.get_json("/api/v1/metrics/current"))["cpu"]
                     ["usage_percent"] is not None and c, 10, "a sample with CPU usage")
    assert cur["hostname"] == m.run("hostname").stdout.strip()
    nproc = int(m.run("nproc --all").stdout)
    assert len(cur["cpu"]["per_core"]) == nproc
    assert 0 <= cur["cpu"]["usage_percent"] <= 100
    meminfo = m.read("/proc/meminfo")
    total_kib = int(re.search(r"MemTotal:\s+(\d+) kB", meminfo)[1])
    assert cur["memory"]["total"] == total_kib * 1024
    # load: the kernel's numbers, as read inside.
    load1 = float(m.read("/proc/loadavg").split()[0])
    assert abs(cur["cpu"]["load_average"][0] - load1) <= max(2.0, load1 * 0.5)
    # disk: the root file system, exactly as statvfs() sees it inside.
    st = json.loads(m.run(["python3", "-c", "import os, json; s = os.statvfs('/'); "
                           "print(json.dumps([s.f_blocks * s.f_frsize]))"]).stdout)
    assert cur["disk"]["mounts"]["/"]["total"] == st[0]
    assert set(cur["disk"]["io"]) >= {"read_bytes_per_sec", "write_bytes_per_sec"}
    # network: the machine has only lo; traffic on it shows up in its series.
    assert "lo" in cur["network"]["interfaces"]

    def lo_traffic():
        m.curl("/api/v1/openapi.json")
        c = m.get_json("/api/v1/metrics/current")
        return c["network"]["interfaces"]["lo"]["bytes_recv_per_sec"] > 0
    wait_until(lo_traffic, 20, "loopback traffic in the network stats", every=0.5)
    # and the admin's view, read from the files
    status = m.run("sysmond status").stdout
    assert "running" in status and "/var/lib/sysmond" in status, status


# --- reload ---------------------------------------------------------------------------
def test_reload_with_a_broken_config_keeps_it_running_and_logs_why(machine):
    m = machine
    pid = m.main_pid()
    t0 = m.now()
    m.write(CONF, BROKEN)
    m.systemctl(f"reload {UNIT}")
    # What `journalctl -u sysmond -p err` shows an admin.
    log = wait_until(lambda: (j := m.journal(since=t0 - 1, priority="err"))
                     and "reload refused" in j and j, 15, "the refused reload in the journal")
    assert re.search(r"collection\.interval", log), log
    r = m.run(f"sysmond check-config --config {CONF}", check=False)
    assert r.returncode != 0 and "collection.interval" in r.stdout + r.stderr
    time.sleep(2)
    assert active(m) and m.main_pid() == pid
    h = wait_healthy(m)
    assert h["interval"] == 1.0


def test_reload_with_a_good_config_applies_it(machine):
    m = machine
    pid = m.main_pid()
    t0 = m.now()
    m.write(CONF, GOOD)
    assert m.run(f"sysmond check-config --config {CONF}").returncode == 0
    m.systemctl(f"reload {UNIT}")
    wait_until(lambda: health(m)["interval"] == 2.0, 20, "interval 2s to apply")
    assert active(m) and m.main_pid() == pid
    assert "configuration reloaded" in m.journal(since=t0 - 1)


def test_the_hardened_service_sees_every_process(machine):
    m = machine
    scan = ("import os, json; me = os.getpid(); print(json.dumps(sorted("
            "int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me)))")
    seen: dict = {}

    def same():
        procs = json.loads(m.run(["python3", "-c", scan]).stdout)
        time.sleep(2.5)   # one process sample (process_interval 2s) after the scan
        api = m.get_json("/api/v1/metrics/processes?sort=memory")
        api_pids = sorted(p["pid"] for p in api["processes"])
        seen.update(procs=procs, api=api)
        return api_pids == procs
    ok = False
    for _ in range(6):
        if same():
            ok = True
            break
    assert ok, f"/proc: {seen['procs']}\napi: {seen['api']}"
    assert seen["api"]["count"] == len(seen["procs"])
    users = {p["user"] for p in seen["api"]["processes"]}
    assert {"root", "messagebus", "sysmond"} <= users, users
    names = {p["name"] for p in seen["api"]["processes"]}
    assert {"systemd", "systemd-journald", "dbus-daemon", "sysmond"} <= names, names
    # the plain count as an admin would take it (minus sh, ls and grep themselves)
    n = int(m.run("ls /proc | grep -c '^[0-9]'").stdout) - 3
    assert abs(n - len(seen["procs"])) <= 1


# --- crashes --------------------------------------------------------------------------
def test_sigkill_gets_it_restarted_with_its_data_intact(machine):
    m = machine
    wait_until(lambda: raw_first(m) is not None, 10, "raw history")
    first = raw_first(m)
    end = int(m.now()) - 3
    query = f"/api/v1/metrics/memory?start={end - 60}&end={end}&tier=raw"
    before = m.get_json(query)
    assert any(v is not None for v in before["series"]["total"]["avg"])
    pid = m.main_pid()
    restarts = int(m.show(UNIT, "NRestarts")["NRestarts"])
    m.run(f"kill -KILL {pid}")
    wait_until(lambda: m.main_pid() not in (0, pid) and active(m), 30,
               "systemd to restart sysmond")
    assert int(m.show(UNIT, "NRestarts")["NRestarts"]) == restarts + 1
    wait_healthy(m)
    after = m.get_json(query)
    assert after["timestamps"] == before["timestamps"]
    assert after["series"] == before["series"]
    assert raw_first(m) == first


def test_a_hung_daemon_is_restarted_by_the_watchdog(machine):
    m = machine
    dropin = "/run/systemd/system/sysmond.service.d"
    m.run(f"mkdir -p {dropin}")
    m.write(f"{dropin}/watchdog.conf", "[Service]\nWatchdogSec=5s\n")
    m.systemctl("daemon-reload")
    m.systemctl(f"restart {UNIT}")
    wait_healthy(m)
    assert m.show(UNIT, "WatchdogUSec")["WatchdogUSec"] == "5s"
    pid = m.main_pid()
    t0 = m.now()
    m.run(f"kill -STOP {pid}")
    wait_until(lambda: m.main_pid() not in (0, pid) and active(m), 45,
               "the watchdog to restart the stopped daemon")
    assert "Watchdog timeout" in m.journal(since=t0 - 1)
    m.run(f"rm -rf {dropin}")
    m.systemctl("daemon-reload")
    m.systemctl(f"restart {UNIT}")
    assert m.show(UNIT, "WatchdogUSec")["WatchdogUSec"] == "30s"
    wait_healthy(m)


def test_stop_is_clean(machine):
    m = machine
    t0 = m.now()
    started = time.monotonic()
    m.systemctl(f"stop {UNIT}")
    assert time.monotonic() - started < 10
    props = m.show(UNIT, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    assert props["ActiveState"] == "inactive" and props["Result"] == "success", props
    log = m.journal(since=t0 - 1)
    assert "SIGKILL" not in log and "timed out" not in log.lower(), log
    assert not m.run("pgrep -u sysmond", check=False).stdout.strip()


# --- upgrade, remove, purge -----------------------------------------------------------
def _upgrade_deb(deb: Path, workdir: Path) -> Path:
    """The same package as a later version whose shipped config also changed."""
    tree = workdir / "upgrade"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True, timeout=120)
    control = tree / "DEBIAN/control"
    text = control.read_text()
    version = re.search(r"^Version: (.+)$", text, re.M)[1]
    control.write_text(text.replace(f"Version: {version}", f"Version: {version}+test1"))
    with open(tree / "etc/sysmond/sysmond.yaml", "a") as f:
        f.write("\n# a comment the next release added\n")
    out = workdir / f"sysmond_{version}+test1_amd64.deb"
    subprocess.run(["dpkg-deb", "-Zgzip", "-z1", "-b", str(tree), str(out)], check=True,
                   timeout=300, capture_output=True)
    shutil.rmtree(tree)
    return out


def test_reinstall_and_upgrade_keep_an_edited_config(machine, packages, tmp_path):
    m = machine
    assert m.read(CONF) == GOOD
    first = None
    m.systemctl(f"start {UNIT}")
    wait_healthy(m)
    first = raw_first(m)
    deb = m.copy_in(packages["deb"])
    m.apt(f"install --reinstall {deb}")
    assert m.read(CONF) == GOOD
    wait_until(lambda: active(m), 30, "sysmond to be running after the reinstall")

    newer = m.copy_in(_upgrade_deb(packages["deb"], tmp_path))
    pid = m.main_pid()
    # What unattended upgrades do: keep the admin's file, put the new one beside it.
    m.apt("-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
          f"install {newer}")
    assert "+test1" in m.run("dpkg-query -W -f='${Version}' sysmond").stdout
    assert m.read(CONF) == GOOD
    assert "a comment the next release added" in m.read(CONF + ".dpkg-dist")
    assert m.run(f"stat -c '%a %U:%G' {CONF}").stdout.strip() == "640 root:sysmond"
    assert m.run(f"dpkg-statoverride --list {CONF}").stdout.split() == \
        ["root", "sysmond", "640", CONF]
    wait_until(lambda: active(m) and m.main_pid() != pid, 30, "the upgrade's restart")
    h = wait_healthy(m)
    assert h["interval"] == 2.0                 # still the edited config
    assert raw_first(m) == first                # and the same history


def test_apt_remove_keeps_the_data_and_config(machine):
    m = machine
    m.apt("remove sysmond")
    assert not active(m)
    assert not m.exists("/usr/lib/sysmond")     # no byte-code or other leftovers
    assert not m.exists("/usr/bin/sysmond")
    assert m.exists("/var/lib/sysmond/store") and m.exists(CONF)
    status = m.run("dpkg-query -W -f='${Status}' sysmond").stdout
    assert status == "deinstall ok config-files"


def test_apt_purge_deletes_the_data_and_config(machine):
    m = machine
    m.apt("purge sysmond")
    assert not m.exists("/var/lib/sysmond")
    assert not m.exists("/etc/sysmond")
    assert m.run("dpkg-query -W sysmond", check=False).returncode != 0
    assert not m.run(f"dpkg-statoverride --list {CONF}", check=False).stdout.strip()
    assert not m.exists("/etc/systemd/system/multi-user.target.wants/sysmond.service")
