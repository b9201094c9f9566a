"""``python -m insights_poller``: the command line (see ``insights_poller.cli``)."""

import sys

from insights_poller.cli import main

if __name__ == "__main__":
    sys.exit(main())
