"""The .rpm's payload and scriptlets on a booted machine, as far as this Debian host can.

There is no RHEL or Fedora image here (only Debian's archive is reachable), so the rpm
is installed with the host's rpm into the booted Debian 12 tree (`rpm --root`, without
dependency checks: that tree has no rpm database of what it holds). Its scriptlets then
run chrooted in that tree with its systemd-sysusers, systemd-tmpfiles, systemctl and
python3.11 — the same tools, within a few versions, that RHEL 9 has. What this cannot
show: dnf resolving /usr/bin/python3.11 and glibc, SELinux labels, Fedora's presets.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.packaging.machine import booted_machine, tools_missing, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CONF = "/etc/sysmond/sysmond.yaml"


def rpm(machine, *args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["rpm", f"--root={machine.root}", *args], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    why = tools_missing() or (shutil.which("rpm") is None and "rpm not installed")
    if why:
        pytest.skip(why)
    with booted_machine(tmp_path_factory.mktemp("rpm-machine"),
                        "packaging-rpm-machine-journal.txt") as m:
        yield m


def test_rpm_installs_user_config_and_data_and_the_service_runs(machine, packages):
    m = machine
    rpm(m, "--nodeps", "-i", str(packages["rpm"]))
    user = m.run("getent passwd sysmond").stdout.strip().split(":")
    assert int(user[2]) < 1000 and user[5] == "/var/lib/sysmond", user
    assert m.run(f"stat -c '%a %U:%G' {CONF}").stdout.strip() == "640 root:sysmond"
    assert m.run("stat -c '%a %U:%G' /var/lib/sysmond").stdout.strip() == "750 sysmond:sysmond"
    assert m.exists("/usr/lib/sysmond/lib/python3.11/site-packages/sysmond/__pycache__")
    m.systemctl("daemon-reload")
    m.systemctl("enable --now sysmond.service")
    assert m.systemctl("is-active sysmond.service").stdout.strip() == "active"
    h = m.get_json("/api/v1/health")
    assert h["status"] in ("ok", "starting"), h


def test_rpm_reinstall_keeps_an_edited_config(machine, packages):
    m = machine
    edited = m.read(CONF) + "\n# edited by the admin\n"
    m.write(CONF, edited)
    rpm(m, "--nodeps", "-U", "--replacepkgs", str(packages["rpm"]))
    assert m.read(CONF) == edited
    m.systemctl("restart sysmond.service")

    def healthy():
        code, body = m.curl("/api/v1/health")
        return code == 200 and json.loads(body)["status"] == "ok"
    wait_until(healthy, 30, "sysmond healthy after the reinstall")


def test_rpm_erase_keeps_the_data_and_saves_the_edited_config(machine):
    m = machine
    # rpm runs chrooted from the host, where systemctl cannot stop units: stop it first.
    m.systemctl("stop sysmond.service")
    rpm(m, "-e", "sysmond")
    assert not m.exists("/usr/lib/sysmond") and not m.exists("/usr/bin/sysmond")
    assert m.exists("/var/lib/sysmond/store")
    assert m.exists(CONF + ".rpmsave") and not m.exists(CONF)
    assert not m.exists("/etc/systemd/system/multi-user.target.wants/sysmond.service")
