"""State stores: where the poller remembers operations between polls.

``open_state_store`` picks the backend from a URL. The Firestore backend (and the
Google client library) is imported only when a ``firestore:`` URL is opened, to
keep cold starts of SQLite deployments fast.
"""

from __future__ import annotations

from insights_poller.state.base import (
    NewOperation,
    Publication,
    RecordStatus,
    StateStore,
    TrackedOperation,
)

__all__ = [
    "NewOperation",
    "Publication",
    "RecordStatus",
    "StateStore",
    "TrackedOperation",
    "open_state_store",
]

_FORMS = "sqlite:///PATH, firestore:///COLLECTION or firestore://DATABASE/COLLECTION"


def open_state_store(url: str, project: str | None = None) -> StateStore:
    """Open the state store ``url`` names; raise ``ValueError`` for anything unsupported.

    * ``sqlite:///PATH``: SQLite file at ``PATH``, relative to the working directory
      (``sqlite:///.state/poller.db``), or absolute with a fourth slash
      (``sqlite:////var/lib/poller.db``).
    * ``firestore:///COLLECTION``: collection in the project's default database.
    * ``firestore://DATABASE/COLLECTION``: collection in a named database.

    ``project`` is the Google Cloud project for Firestore (None: from the
    environment); it is ignored for SQLite.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError(f"state store URL {url!r} is not a URL; expected {_FORMS}")
    if scheme == "sqlite":
        if not rest.startswith("/") or not rest[1:] or rest[1:] == "/":
            raise ValueError(
                f"state store URL {url!r} has no file path; expected sqlite:///PATH "
                "(relative) or sqlite:////PATH (absolute)"
            )
        from insights_poller.state.sqlite import SqliteStateStore

        return SqliteStateStore(rest[1:])
    if scheme == "firestore":
        database, _, collection = rest.partition("/")
        if not collection or "/" in collection:
            raise ValueError(
                f"state store URL {url!r} must name exactly one collection; expected "
                "firestore:///COLLECTION or firestore://DATABASE/COLLECTION"
            )
        from google.cloud import firestore

        from insights_poller.state.firestore import FirestoreStateStore

        client = firestore.Client(project=project, database=database or None)
        return FirestoreStateStore(client, collection)
    raise ValueError(f"unsupported state store URL {url!r}; expected {_FORMS}")
