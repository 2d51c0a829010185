"""Run localstripe on 127.0.0.1 only, with its state in memory only.

``localstripe --port N`` listens on every interface and rewrites the shared
/tmp/localstripe.pickle on every change; tests run this instead:
``python -m tests.e2e.localstripe_loopback PORT``.
"""

from __future__ import annotations

import sys

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
