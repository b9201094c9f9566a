"""State stores: where the poller remembers operations between polls.

``open_state_store`` opens the backend a ``StateLocation`` (parsed from STATE_URL) names.
The Firestore backend (and the Google client library) is imported only when a Firestore
location is opened, to keep cold starts of SQLite deployments fast.
"""

from __future__ import annotations

from insights_poller.ports import StateStore
from insights_poller.state.location import StateLocation

__all__ = ["StateLocation", "open_state_store"]


def open_state_store(location: StateLocation, project: str | None = None) -> StateStore:
    """Open the state store at ``location``.

    ``project`` is the Google Cloud project for Firestore (None: from the
    environment); it is ignored for SQLite.
    """
    if location.backend == "sqlite":
        from insights_poller.state.sqlite import SqliteStateStore

        return SqliteStateStore(location.path)
    from google.cloud import firestore

    from insights_poller.state.firestore import FirestoreStateStore

    client = firestore.Client(project=project, database=location.database)
    return FirestoreStateStore(client, location.collection)
