"""Which resource locations one emulated endpoint serves, and the refusal for the others.

Why: Insights is regionalized (Insights docs, "Regionalization",
https://cloud.google.com/contact-center/insights/docs/regionalization): the global endpoint
``contactcenterinsights.googleapis.com`` serves resource location ``us-central1`` only, and
every other location (regions and the multi-regions ``us`` and ``eu``) is served on its own
``{location}-contactcenterinsights.googleapis.com``; a client on another host does not reach
that location's data. A poller that sends every location to one host must fail here as it
would against Google.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_LOCATIONS: tuple[str, ...] = ("us-central1",)
"""What the global endpoint serves, and so what the command line serves by default."""

GLOBAL_ENDPOINT = "contactcenterinsights.googleapis.com"


def regional_endpoint(location: str) -> str:
    """The host that serves ``location`` (Insights docs, "Regionalization": the global host
    serves us-central1 only, every other location its own ``{location}-`` host). Written here
    again, not imported from the poller, so the emulator never shares the poller's code."""
    return GLOBAL_ENDPOINT if location == "us-central1" else f"{location}-{GLOBAL_ENDPOINT}"


_LOCATION_IN_NAME = re.compile(r"projects/[^/]+/locations/([^/]+)(?:/.*)?")
_LOCATION_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")


class LocationGate:
    """The locations an endpoint serves (``None``: all of them, an in-process convenience)."""

    def __init__(self, locations: Iterable[str] | None) -> None:
        if locations is None:
            self.locations: frozenset[str] | None = None
            return
        if isinstance(locations, str):
            raise ValueError(
                f"locations must be a list of location IDs, not the string {locations!r}"
            )
        served = tuple(locations)
        if not served:
            raise ValueError("an endpoint must serve at least one location")
        for location in served:
            if _LOCATION_ID.fullmatch(location) is None:
                raise ValueError(f"{location!r} is not a location ID such as us-central1")
        self.locations = frozenset(served)
        self._order = tuple(dict.fromkeys(served))

    def refusal(self, name: str) -> str | None:
        """Why a request naming ``name`` is refused here, or None if this endpoint serves it.

        Names that are not ``projects/*/locations/*...`` pass: the request's own validation
        rejects them. The message names the location and the endpoint that serves it. The
        real service's wording is not documented; its code for a request the host cannot
        serve is taken as INVALID_ARGUMENT (Google's error model,
        https://cloud.google.com/apis/design/errors: "Client specified an invalid argument").
        """
        if self.locations is None:
            return None
        match = _LOCATION_IN_NAME.fullmatch(name)
        if match is None or match.group(1) in self.locations:
            return None
        location = match.group(1)
        return (
            f"Location {location} is not served by this endpoint (it serves "
            f"{', '.join(self._order)}): send requests for {location} to "
            f"{regional_endpoint(location)}"
        )
