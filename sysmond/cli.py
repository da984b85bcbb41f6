"""The command line: the only place that prints or exits.

    sysmond run [--config PATH] [--state-dir DIR] [--listen HOST:PORT] [--interval S]
    sysmond check-config [--config PATH]
    sysmond status [--state-dir DIR] [--config PATH]
    sysmond report --output DIR [--state-dir DIR] [--config PATH]
    sysmond version
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import ClassVar

from sysmond import __version__
from sysmond.config import Config
from sysmond.errors import ConfigError, SysmondError

DEFAULT_CONFIG = "/etc/sysmond/sysmond.yaml"
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sysmond",
                                     description="A system resource monitor for one server.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="PATH",
                       help=f"YAML configuration (default: {DEFAULT_CONFIG} if it exists, "
                       "else built-in defaults)")

    run = sub.add_parser("run", help="run the daemon in the foreground")
    config_arg(run)
    run.add_argument("--state-dir", metavar="DIR", help="where data lives")
    run.add_argument("--listen", metavar="HOST:PORT", help="HTTP address (port 0: any)")
    run.add_argument("--interval", metavar="SECONDS", type=int, help="sampling interval")
    run.add_argument("--log-format", choices=("auto", "text", "journal"),
                     help="log lines for a terminal or for journald (auto: detect)")
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"))

    check = sub.add_parser("check-config", help="validate the configuration and exit")
    config_arg(check)

    status = sub.add_parser("status", help="current values and daemon health, from the files")
    config_arg(status)
    status.add_argument("--state-dir", metavar="DIR")

    report = sub.add_parser("report", help="render the static report site")
    config_arg(report)
    report.add_argument("--state-dir", metavar="DIR")
    report.add_argument("--output", metavar="DIR", required=True)

    sub.add_parser("version", help="print the version")
    return parser


def _config_path(arg: str | None) -> str | None:
    if arg is not None:
        return arg
    return DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """The flags that stand for config keys, as dotted keys (validated like the file)."""
    pairs = {"state_dir": getattr(args, "state_dir", None),
             "server.listen": getattr(args, "listen", None),
             "collection.interval": getattr(args, "interval", None),
             "logging.format": getattr(args, "log_format", None),
             "logging.level": getattr(args, "log_level", None)}
    return {k: v for k, v in pairs.items() if v is not None}


def _load(args: argparse.Namespace) -> Config:
    from sysmond.config import load_config

    return load_config(_config_path(args.config), overrides=_overrides(args))


def _state_dir(config: Config, arg: str | None) -> Path:
    from sysmond.config import default_state_dir

    return Path(arg or config.state_dir or default_state_dir()).absolute()


def setup_logging(level: str, fmt: str) -> None:
    """Log to stderr; under journald (JOURNAL_STREAM set) drop the time, add priorities."""
    journal = fmt == "journal" or (fmt == "auto" and bool(os.environ.get("JOURNAL_STREAM")))
    handler = logging.StreamHandler(sys.stderr)
    if journal:
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _JournalFormatter(logging.Formatter):
    """Prefix each line with its syslog priority (<3> error ... <7> debug)."""

    PRIORITY: ClassVar[dict[int, int]] = {
        logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
        logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        prio = self.PRIORITY.get(record.levelno, 6)
        return "\n".join(f"<{prio}>{line}" for line in super().format(record).splitlines())


def cmd_run(args: argparse.Namespace) -> int:
    from sysmond.daemon import Daemon

    config = _load(args)
    setup_logging(config.logging.level, config.logging.format)
    state_dir = _state_dir(config, args.state_dir)
    path = _config_path(args.config)

    def reload_config() -> Config:
        return _load(args)

    def on_ready(url: str) -> None:
        print(f"sysmond {__version__}: dashboard at {url} (data in {state_dir})", flush=True)

    daemon = Daemon(config, state_dir, config_path=path, reload_config=reload_config,
                    on_ready=on_ready)
    return asyncio.run(daemon.run())


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    print(f"{config.source or 'built-in defaults'}: OK")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from sysmond.status import render_status

    config = _load(args)
    print(render_status(_state_dir(config, args.state_dir), config), end="")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from sysmond.report import render_site

    config = _load(args)
    out = render_site(_state_dir(config, args.state_dir), Path(args.output), config)
    print(f"report written to {out}")
    return EXIT_OK


COMMANDS = {"run": cmd_run, "check-config": cmd_check_config, "status": cmd_status,
            "report": cmd_report}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"sysmond {__version__}")
        return EXIT_OK
    try:
        return COMMANDS[args.command](args)
    except ConfigError as e:
        for problem in e.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except SysmondError as e:
        print(f"sysmond: {e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
