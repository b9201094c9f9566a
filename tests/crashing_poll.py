"""One poll in a process that stops dead after publishing and before recording.

Run by the crash-safety test, which kills it with SIGKILL once it prints ``MARKER``: the
events went out, the state store never heard of it. Configured like the function, from
the environment (SQLite state only).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from insights_poller import app
from insights_poller.model import Outcome
from insights_poller.settings import Settings
from insights_poller.state.sqlite import SqliteStateStore

MARKER = "published, not recorded"


class StopsBeforeRecording(SqliteStateStore):
    def mark_settled(self, outcomes: Sequence[Outcome]) -> None:
        print(MARKER, flush=True)
        time.sleep(3600)  # until killed


def main() -> None:
    settings = Settings.from_env(os.environ)
    store = StopsBeforeRecording(settings.state.path)
    app.Poller(settings, store=store).poll()
    sys.exit("the poll returned: it should have been killed before recording")


if __name__ == "__main__":
    main()
