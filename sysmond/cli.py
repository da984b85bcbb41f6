"""The command line: the only place that prints or exits."""

from __future__ import annotations

import argparse
import sys

from sysmond import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sysmond", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    run = sub.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("--state-dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"sysmond {__version__}")
        return 0
    if args.command == "run":
        # The daemon lands with issue 3; until then this only says what it is.
        print(f"sysmond {__version__}: the daemon is not built yet", file=sys.stderr)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
