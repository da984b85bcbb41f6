"""The built deb and rpm, checked without installing them: names, version, contents,
dependencies, conffiles, maintainer scripts, lintian and rpmlint."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.packaging.machine import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SITE = "usr/lib/sysmond/lib/python3.11/site-packages"
EXPECTED = [
    "usr/bin/sysmond",
    "usr/lib/systemd/system/sysmond.service",
    "usr/lib/sysusers.d/sysmond.conf",
    "usr/lib/tmpfiles.d/sysmond.conf",
    "etc/sysmond/sysmond.yaml",
    "usr/lib/sysmond/pyvenv.cfg",
    "usr/lib/sysmond/bin/python3",
    "usr/share/doc/sysmond/README.md",
    "usr/share/doc/sysmond/copyright",
    "usr/share/man/man1/sysmond.1.gz",
    f"{SITE}/sysmond/__main__.py",
    f"{SITE}/sysmond/cli.py",
    f"{SITE}/numpy/__init__.py",
    f"{SITE}/psutil/__init__.py",
    f"{SITE}/aiohttp/__init__.py",
    f"{SITE}/yaml/__init__.py",
    f"{SITE}/apprise/__init__.py",
    f"{SITE}/jinja2/__init__.py",
    f"{SITE}/sdnotify/__init__.py",
    f"{SITE}/jwt/__init__.py",
    f"{SITE}/cryptography/__init__.py",
]


def version() -> str:
    tree = ast.parse((REPO / "sysmond/__init__.py").read_text())
    return next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
                and any(getattr(t, "id", "") == "__version__" for t in n.targets))


def web_assets() -> list[str]:
    """Dashboard files the package must carry: everything under sysmond/web in the tree."""
    web = REPO / "sysmond" / "web"
    if not web.exists():
        return []
    return sorted(str(p.relative_to(REPO / "sysmond")) for p in web.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def run(*cmd: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def deb_tree(packages, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(packages["deb"]), str(root)], check=True, timeout=120)
    return root


# --- deb ------------------------------------------------------------------------------
def test_deb_is_named_and_versioned_from_init_py(packages):
    v = version()
    assert re.fullmatch(r"\d+(\.\d+)*", v), "a pre/post release needs the ~ mapping checked"
    assert packages["deb"].name == f"sysmond_{v}_amd64.deb"
    fields = run("dpkg-deb", "-f", str(packages["deb"]), "Package", "Version",
                 "Architecture", "Depends").stdout
    assert f"Version: {v}\n" in fields
    assert "Architecture: amd64" in fields
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1)
    assert [d.strip() for d in depends.split(",")] == [
        "python3.11", "python3 (>= 3.11~)", "python3 (<< 3.12~)", "libc6 (>= 2.34)"]


def test_deb_holds_the_daemon_its_dependencies_unit_and_config(deb_tree):
    missing = [p for p in EXPECTED if not (deb_tree / p).exists() and
               not (deb_tree / p).is_symlink()]
    assert not missing
    assert (deb_tree / "usr/lib/systemd/system/sysmond.service").read_bytes() == \
        (REPO / "systemd/sysmond.service").read_bytes()
    assert (deb_tree / "etc/sysmond/sysmond.yaml").read_bytes() == \
        (REPO / "sysmond.example.yaml").read_bytes()
    # The venv is bound to Debian's /usr/bin/python3.11 (relative link inside /usr).
    link = deb_tree / "usr/lib/sysmond/bin/python3.11"
    assert link.is_symlink() and str(link.readlink()) == "../../../bin/python3.11"
    cfg = (deb_tree / "usr/lib/sysmond/pyvenv.cfg").read_text()
    assert "home = /usr/bin" in cfg and "include-system-site-packages = false" in cfg
    entry = (deb_tree / "usr/bin/sysmond").read_text()
    assert entry.startswith("#!/usr/lib/sysmond/bin/python3 -I\n")
    assert not list((deb_tree / "usr/lib/sysmond/bin").glob("sysmond"))


def test_deb_carries_the_dashboard_assets(deb_tree):
    assets = web_assets()
    if not assets:
        pytest.skip("no sysmond/web in this tree yet")
    missing = [a for a in assets if not (deb_tree / SITE / "sysmond" / a).is_file()]
    assert not missing, f"dashboard files not packaged: {missing[:10]}"
    plotly = [a for a in assets if "plotly" in a.lower() and a.endswith(".js")]
    assert plotly, "the dashboard's Plotly is not in sysmond/web"


def test_deb_has_exactly_the_locked_dependencies(deb_tree):
    locked = {}
    for line in (REPO / "packaging/requirements.lock").read_text().splitlines():
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        if m:
            locked[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    installed = {}
    for d in (deb_tree / SITE).glob("*.dist-info"):
        name, ver = d.name[: -len(".dist-info")].rsplit("-", 1)
        installed[re.sub(r"[-_.]+", "-", name).lower()] = ver
    assert installed.pop("sysmond") == version()
    assert installed == locked


def test_deb_ships_no_bytecode_nor_build_paths(packages, deb_tree):
    listing = run("dpkg-deb", "-c", str(packages["deb"])).stdout
    assert "__pycache__" not in listing and ".pyc" not in listing
    for p in (deb_tree / "usr/lib/sysmond").rglob("*"):
        if p.is_file() and not p.is_symlink() and p.suffix in ("", ".cfg", ".py", ".txt"):
            assert b"/sysmond-pkg." not in p.read_bytes(), p


def test_deb_conffile_and_maintainer_scripts(packages, tmp_path):
    subprocess.run(["dpkg-deb", "-e", str(packages["deb"]), str(tmp_path)], check=True)
    assert (tmp_path / "conffiles").read_text().split() == ["/etc/sysmond/sysmond.yaml"]
    postinst = (tmp_path / "postinst").read_text()
    assert "systemd-sysusers sysmond.conf" in postinst and "adduser --system" in postinst
    code = [line for line in (tmp_path / "postrm").read_text().splitlines()
            if not line.lstrip().startswith("#")]
    purge = next(i for i, line in enumerate(code) if '"$1" = "purge"' in line)
    deleting = [i for i, line in enumerate(code) if "/var/lib/sysmond" in line]
    assert deleting and all(i > purge for i in deleting)   # only a purge deletes the data
    for script in ("postinst", "prerm", "postrm"):
        r = run("sh", "-n", str(tmp_path / script))
        assert r.returncode == 0, r.stderr


@pytest.mark.skipif(shutil.which("lintian") is None, reason="lintian not installed")
def test_lintian_reports_no_error_and_no_warning(packages):
    r = run("lintian", "--fail-on", "none", str(packages["deb"]), timeout=600)
    tags = [line for line in r.stdout.splitlines() if re.match(r"[EW]: ", line)]
    # Accepted findings are overridden, each with its reason, in packaging/lintian-overrides.
    assert not tags, "\n".join(tags)


# --- rpm ------------------------------------------------------------------------------
needs_rpm = pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm not installed")


@needs_rpm
def test_rpm_name_files_and_requires(packages):
    v = version()
    rpm = str(packages["rpm"])
    assert packages["rpm"].name == f"sysmond-{v}-1.x86_64.rpm"
    files = set(run("rpm", "-qlp", rpm).stdout.split())
    missing = ["/" + p for p in EXPECTED if "/" + p not in files]
    assert not missing
    assert "/usr/share/lintian/overrides/sysmond" not in files
    assert not any("__pycache__" in f for f in files)
    requires = [r.strip() for r in run("rpm", "-qp", "--requires", rpm).stdout.splitlines()]
    assert "/usr/bin/python3.11" in requires and "glibc >= 2.34" in requires
    # nfpm generates no library requires: the bundled wheels' own .so files would
    # otherwise show up as unmet dependencies.
    others = [r for r in requires if not r.startswith("rpmlib(")
              and r not in ("/usr/bin/python3.11", "glibc >= 2.34")]
    assert not others, others


@needs_rpm
def test_rpm_config_is_noreplace_and_private(packages):
    out = run("rpm", "-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEMODES:perms} "
              "%{FILEUSERNAME}:%{FILEGROUPNAME}\n]", str(packages["rpm"])).stdout
    line = next(x for x in out.splitlines() if x.startswith("/etc/sysmond/sysmond.yaml "))
    _, flags, perms, owner = line.split()
    assert "c" in flags and "n" in flags, line    # %config(noreplace)
    assert perms == "-rw-r-----" and owner == "root:sysmond"


@needs_rpm
def test_rpm_scriptlets_create_the_same_user_as_sysusers_d(packages):
    scripts = run("rpm", "-qp", "--scripts", str(packages["rpm"])).stdout
    sysusers = (REPO / "packaging/files/sysusers.conf").read_text()
    line = next(x for x in sysusers.splitlines() if x.startswith("u "))
    assert f"echo '{line}'" in scripts
    assert "useradd -r -g sysmond" in scripts
    assert "systemctl try-restart sysmond.service" in scripts


@pytest.mark.skipif(shutil.which("rpmlint") is None, reason="rpmlint not installed")
def test_rpmlint_reports_no_error(packages):
    r = run("rpmlint", "-r", str(REPO / "packaging/sysmond.rpmlintrc"), str(packages["rpm"]),
            timeout=600)
    summary = r.stdout.strip().splitlines()[-1]
    errors = [line for line in r.stdout.splitlines() if ": E: " in line]
    assert " 0 errors" in summary and not errors, "\n".join(errors) or summary


def test_the_rpm_and_deb_carry_the_same_files(packages, deb_tree):
    if shutil.which("rpm") is None:
        pytest.skip("rpm not installed")
    rpm_files = set(run("rpm", "-qlp", str(packages["rpm"])).stdout.split())
    deb_files = {"/" + str(p.relative_to(deb_tree)) for p in deb_tree.rglob("*")
                 if p.is_file() or p.is_symlink()}
    only_deb = deb_files - rpm_files - {"/usr/share/lintian/overrides/sysmond",
                                        "/usr/share/doc/sysmond/changelog.gz"}
    assert not only_deb, sorted(only_deb)[:10]


def test_build_sh_version_is_the_package_version():
    r = run(str(REPO / "packaging/build.sh"), "version")
    assert r.returncode == 0 and r.stdout.strip() == version()


