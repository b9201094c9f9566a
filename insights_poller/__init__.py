"""The Contact Center AI Insights operations poller: polls long-running operations and publishes
one CloudEvent per finished operation on Pub/Sub (see the README).

``__version__`` is the one place the version is written: the package metadata reads it
(``pyproject.toml``), the command line shows it (``--version``), each poll logs it, and
CHANGELOG.md's latest release must name it (``tests/unit/poller/test_packaging.py``)."""

__version__ = "0.1.0"
