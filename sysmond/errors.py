"""The error tree: every failure sysmond reports to a person is one of these.

Each error carries the file or key it concerns, so the CLI can print one clear line
(`PATH: what is wrong`) and the daemon can log it without a traceback.
"""

from __future__ import annotations


class SysmondError(Exception):
    """Base of every error sysmond raises on purpose."""


class ConfigError(SysmondError):
    """The configuration is invalid; `problems` lists every error found, each a line."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class StoreError(SysmondError):
    """The store cannot do what was asked (I/O failure, disk full, bad arguments)."""


class StoreFormatError(StoreError):
    """A store file is truncated, foreign or of another format version.

    `path` names the file so a person can move it aside.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class StoreLadderError(StoreError):
    """The configured tier ladder is invalid or differs from the one the store was
    made with: a configuration problem, not one that passes by retrying."""


class StoreLockedError(StoreError):
    """Another process already writes to this store."""


class QueryError(SysmondError):
    """A read asked for something the store cannot answer (unknown series, bad range)."""
