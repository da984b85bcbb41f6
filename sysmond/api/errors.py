"""The one error type handlers raise: a 4xx/503 the client gets as `{error, detail}`.

`error` is a short phrase naming what is wrong (`invalid parameter 'points'`), `detail`
says why and what would be accepted, so a person reading a failed dashboard request
knows what to change without reading code.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """A request that cannot be answered as asked."""

    def __init__(self, status: int, error: str, detail: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})


def bad_param(name: str, detail: str) -> ApiError:
    return ApiError(400, f"invalid parameter '{name}'", detail)


def not_found(error: str, detail: str) -> ApiError:
    return ApiError(404, error, detail)


def listing(items: list[str], limit: int = 20) -> str:
    """Return `a, b, c` for a message, cut after `limit` items ('... and N more')."""
    if not items:
        return "(none)"
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... and {len(items) - limit} more"
