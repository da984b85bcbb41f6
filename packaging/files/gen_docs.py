"""Write /usr/share/doc/sysmond/{copyright,changelog.gz} for the staged package.

usage: gen_docs.py VENV VERSION DOCDIR SOURCE_DATE_EPOCH

The copyright file lists every distribution bundled in the private virtualenv with its
version and declared license; the full license texts stay in each *.dist-info directory.
"""

from __future__ import annotations

import gzip
import sys
import time
from email import message_from_string
from email.utils import formatdate
from pathlib import Path

venv, version, docdir, epoch = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
MAINTAINER = "sysmond maintainers <sysmond@example.org>"

rows = []
for meta in sorted(venv.glob("lib/python3*/site-packages/*.dist-info/METADATA")):
    m = message_from_string(meta.read_text(encoding="utf-8", errors="replace"))
    lic = m.get("License-Expression") or ""
    if not lic:
        classifiers = [c.split(" :: ")[-1] for c in m.get_all("Classifier") or []
                       if c.startswith("License ::")]
        lic = ", ".join(classifiers) or (m.get("License") or "").splitlines()[0:1]
        lic = lic if isinstance(lic, str) else (lic[0] if lic else "see dist-info")
    rows.append((m["Name"], m["Version"], lic.strip()[:80], meta.parent.name))

lines = [
    "sysmond",
    "",
    f"Copyright (c) {time.gmtime(epoch).tm_year} the sysmond authors",
    "License: MIT",
    "",
    " Permission is hereby granted, free of charge, to any person obtaining a copy of this",
    " software and associated documentation files (the \"Software\"), to deal in the Software",
    " without restriction, including without limitation the rights to use, copy, modify,",
    " merge, publish, distribute, sublicense, and/or sell copies of the Software, and to",
    " permit persons to whom the Software is furnished to do so, subject to the following",
    " conditions:",
    " .",
    " The above copyright notice and this permission notice shall be included in all copies",
    " or substantial portions of the Software.",
    " .",
    " THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,",
    " INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A",
    " PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT",
    " HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF",
    " CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE",
    " OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.",
    "",
    "Bundled in /usr/lib/sysmond (a private Python virtual environment), each under its own",
    "license, whose full text is in its directory under",
    "/usr/lib/sysmond/lib/python3.11/site-packages/<name>.dist-info/:",
    "",
]
width = max(len(f"{n} {v}") for n, v, _, _ in rows)
lines += [f"  {f'{n} {v}':<{width}}  {lic}" for n, v, lic, _ in rows]
lines += [
    "",
    "Common license texts are in /usr/share/common-licenses/ (Apache-2.0, BSD, ...).",
    "",
    "The web dashboard bundles Plotly.js (MIT); its license is next to it in",
    "site-packages/sysmond/web/.",
    "",
]
(docdir / "copyright").write_text("\n".join(lines))

changelog = (
    f"sysmond ({version}) stable; urgency=medium\n\n"
    f"  * Release {version}. The history of changes is the project's git log.\n\n"
    f" -- {MAINTAINER}  {formatdate(epoch, usegmt=False)}\n"
)
with open(docdir / "changelog.gz", "wb") as raw, \
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=9) as gz:
    gz.write(changelog.encode())
