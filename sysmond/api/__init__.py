"""The HTTP API: REST endpoints, Prometheus exposition, OpenAPI document, security.

The daemon builds an `AppState` and calls `create_app`; `check_listen_safety` and
`ssl_context` are what it checks and passes when it starts listening.
"""

from sysmond.api.app import create_app
from sysmond.api.server import check_listen_safety, handler_args, ssl_context
from sysmond.api.state import AppState, Latest

__all__ = ["AppState", "Latest", "check_listen_safety", "create_app", "handler_args",
           "ssl_context"]
