"""Alerts: rules over each tick's values, notifications through Apprise and a log file.

The daemon builds one `AlertEngine`; the API reads `states()`, `history()` and
`status()`; `sysmond check-config` may use `validate_channel_url`. See docs/alerts.md.
"""

from sysmond.alerts.channels import validate_channel_url
from sysmond.alerts.engine import AlertEngine
from sysmond.alerts.events import AlertEvent, AlertState, HistoryRecord

__all__ = ["AlertEngine", "AlertEvent", "AlertState", "HistoryRecord", "validate_channel_url"]
