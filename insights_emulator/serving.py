"""An HTTP server on a thread of its own: the admin API and the REST read both run one.

Why: the emulator's HTTP faces must serve while the caller (a test, the CLI) goes on, and stop
promptly and release their port when the emulator stops.
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


class BackgroundHTTPServer:
    """Serves ``httpd`` on a daemon thread named ``name``, started at once."""

    def __init__(self, httpd: ThreadingHTTPServer, name: str) -> None:
        self._httpd = httpd
        self.address = f"{httpd.server_address[0]!s}:{httpd.server_address[1]}"
        # A short poll interval keeps close() (which waits for the next poll) quick.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
