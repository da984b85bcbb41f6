"""`python -m tests.web.dashboard_daemon run ...`: `sysmond run`, with the dashboard.

The real daemon, started the real way (`sysmond.cli.main`), except that when the API's
`create_app` does not (yet) register `/`, the dashboard's routes are added to the app
it returns -- exactly the one call `create_app` is meant to make
(`sysmond.webui.add_static_routes(app)`). Once it does, this adds nothing.
"""

from __future__ import annotations

import sys
from typing import Any


def _wire() -> None:
    import sysmond.api
    from sysmond.webui import add_static_routes

    original = sysmond.api.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        if not any(getattr(r, "resource", None) is not None and
                   r.resource.canonical == "/" and r.method == "GET"
                   for r in app.router.routes()):
            add_static_routes(app)
        return app

    sysmond.api.create_app = create_app


if __name__ == "__main__":
    _wire()
    from sysmond.cli import main

    sys.exit(main(sys.argv[1:]))
