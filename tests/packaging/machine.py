"""A throwaway Debian 12 machine under systemd-nspawn, driven with nsenter.

The host has no systemd as PID 1, so the container is booted unregistered
(`--register=no --keep-unit`) with its console on a pipe, and every command runs in it
through `nsenter -t <its PID 1> -a`. It has its own network namespace
(`--private-network`: only `lo`), so the daemon inside cannot collide with ports on the
host. The tree is a copy of the cached debootstrap tree from packaging/mkroot.sh.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.daemon_helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
CONTAINER_ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=",
                 "SYSTEMD_COLORS=0"]


def tools_missing() -> str | None:
    """Why the container tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (debootstrap, systemd-nspawn)"
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


def cached_tree() -> Path:
    """The cached debootstrap tree (made on first use: about a minute with a fast mirror)."""
    r = subprocess.run([str(REPO / "packaging/mkroot.sh")], capture_output=True, text=True,
                       timeout=800)
    assert r.returncode == 0, f"packaging/mkroot.sh failed:\n{r.stderr}"
    return Path(r.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def booted_machine(workdir: Path, artifact: str | None = None) -> Iterator[Machine]:
    """Boot a fresh copy of the cached tree; always power it off and delete it after.
    With `artifact`, the machine's journal is saved as test-artifacts/ARTIFACT."""
    tree = cached_tree()
    m = Machine(workdir)
    try:
        m.boot(tree)
        yield m
    finally:
        artifacts = REPO / "test-artifacts"
        if artifact and artifacts.is_dir() and m.pid1:
            # The journal is a courtesy for a failed run; the shutdown below is not.
            with contextlib.suppress(Exception):
                (artifacts / artifact).write_text(
                    m.run("journalctl -b --no-pager", check=False, timeout=30).stdout)
        m.shutdown()


wait_until = wait_for  # one bounded poll for every test


class Machine:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.root = workdir / "root"
        self.console = workdir / "console.log"
        self.nspawn: subprocess.Popen[bytes] | None = None
        self.pid1: int | None = None

    # --- life cycle -----------------------------------------------------------------
    def boot(self, tree: Path, timeout: float = 120) -> None:
        subprocess.run(["cp", "-a", "--reflink=auto", str(tree), str(self.root)], check=True,
                       timeout=300)
        with open(self.console, "wb") as log:
            self.nspawn = subprocess.Popen(
                ["systemd-nspawn", "-D", str(self.root), "--register=no", "--keep-unit",
                 "-b", "--console=pipe", "--private-network",
                 f"--machine=sysmond-test-{os.getpid()}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.pid1 = wait_until(self._find_pid1, 30, "the container's PID 1")
        state = wait_until(self._booted, timeout, "the container to finish booting", every=0.5)
        assert state in ("running", "degraded"), f"boot ended {state}:\n{self.log_tail()}"

    def _find_pid1(self) -> int | None:
        assert self.nspawn is not None
        if self.nspawn.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited {self.nspawn.returncode}:\n"
                                 f"{self.log_tail()}")
        children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children")
        for pid in children.read_text().split():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            except OSError:
                continue
        return None

    def _booted(self) -> str | None:
        r = self.run("systemctl is-system-running", check=False, timeout=30)
        state = r.stdout.strip()
        return state if state in ("running", "degraded", "maintenance", "stopping") else None

    def shutdown(self) -> None:
        """Power the machine off (its PID 1), kill it if it hangs, delete its tree."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.pid1:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid1, signal.SIGRTMIN + 4)   # systemd: poweroff
            try:
                self.nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # Killing a PID namespace's init kills everything in it.
                for pid, kill in ((self.pid1, os.kill), (self.nspawn.pid, os.killpg)):
                    if pid:
                        with contextlib.suppress(ProcessLookupError):
                            kill(pid, signal.SIGKILL)
                self.nspawn.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.console.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # --- commands ---------------------------------------------------------------------
    def run(self, cmd: str | list[str], *, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command (a shell line if a string) inside the machine."""
        assert self.pid1, "not booted"
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        r = subprocess.run(["nsenter", "-t", str(self.pid1), "-a", *CONTAINER_ENV, *argv],
                           capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"in the machine: {cmd!r} exited {r.returncode}\n"
                                 f"stdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-3000:]}")
        return r

    def write(self, path: str, text: str) -> None:
        self.run(f"cat > {shlex.quote(path)}", input=text)

    def read(self, path: str) -> str:
        return self.run(["cat", path]).stdout

    def exists(self, path: str) -> bool:
        return self.run(["test", "-e", path], check=False).returncode == 0

    def copy_in(self, src: Path, dest_dir: str = "/var/tmp/pkg") -> str:
        """Copy a host file into the machine (not /tmp: nspawn mounts a tmpfs there)."""
        target = self.root / dest_dir.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, target / src.name)
        return f"{dest_dir}/{src.name}"

    def apt(self, args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.run(f"apt-get -y -q --no-install-recommends {args}", timeout=timeout)

    # --- systemd and the daemon -------------------------------------------------------
    def systemctl(self, args: str, *, check: bool = True,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run(f"systemctl --no-pager {args}", check=check, timeout=timeout)

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.systemctl(f"show {unit} " + " ".join(f"-p {p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def main_pid(self, unit: str = "sysmond.service") -> int:
        return int(self.show(unit, "MainPID")["MainPID"])

    def journal(self, unit: str = "sysmond.service", since: float | None = None,
                priority: str | None = None) -> str:
        since_arg = f"--since=@{int(since)}" if since is not None else ""
        prio_arg = f"-p {priority}" if priority else ""
        return self.run(f"journalctl -u {unit} --no-pager -o cat {since_arg} {prio_arg}",
                        check=False).stdout

    def now(self) -> float:
        return float(self.run("date +%s.%N").stdout)

    def curl(self, path: str, port: int = 9180) -> tuple[int, str]:
        r = self.run(["curl", "-s", "-m", "10", "-w", "\n%{http_code}",
                      f"http://127.0.0.1:{port}{path}"], check=False, timeout=30)
        body, _, code = r.stdout.rpartition("\n")
        return (int(code) if code.isdigit() else 0), body

    def get_json(self, path: str) -> Any:
        code, body = self.curl(path)
        assert code == 200, f"GET {path}: HTTP {code}: {body[:500]}"
        return json.loads(body)
