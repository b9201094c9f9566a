"""Where the state lives, parsed from STATE_URL once, so that a bad one fails at start-up."""

from __future__ import annotations

import dataclasses
from typing import Literal

_FORMS = "sqlite:///PATH, firestore:///COLLECTION or firestore://DATABASE/COLLECTION"


@dataclasses.dataclass(frozen=True)
class StateLocation:
    """A SQLite file (``path``), or a Firestore collection (``database``, ``collection``)."""

    backend: Literal["sqlite", "firestore"]
    path: str = ""
    """SQLite: the file, relative to the working directory unless absolute."""
    database: str | None = None
    """Firestore: the database; None is the project's default database."""
    collection: str = ""
    """Firestore: the collection holding one document per operation."""

    @classmethod
    def parse(cls, url: str) -> StateLocation:
        """The location ``url`` names; ``ValueError`` for anything unsupported.

        * ``sqlite:///PATH``: SQLite file at ``PATH``, relative to the working directory
          (``sqlite:///.state/poller.db``), or absolute with a fourth slash
          (``sqlite:////var/lib/poller.db``).
        * ``firestore:///COLLECTION``: collection in the project's default database.
        * ``firestore://DATABASE/COLLECTION``: collection in a named database.
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
            return cls("sqlite", path=rest[1:])
        if scheme == "firestore":
            database, _, collection = rest.partition("/")
            if not collection or "/" in collection:
                raise ValueError(
                    f"state store URL {url!r} must name exactly one collection; expected "
                    "firestore:///COLLECTION or firestore://DATABASE/COLLECTION"
                )
            return cls("firestore", database=database or None, collection=collection)
        raise ValueError(f"state store URL {url!r} is not {_FORMS}")
