"""One HTTP call with a JSON answer, for tests that drive the emulator's HTTP faces."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from devstack.stack import json_answer


def http_json(url: str, method: str = "GET", body: object = None) -> tuple[int, Any]:
    """(status, parsed JSON body) of a call sending ``body`` as JSON; an error status is
    returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    return json_answer(urllib.request.Request(url, data=data, method=method), timeout=5)
