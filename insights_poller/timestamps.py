"""RFC 3339 in and out, always timezone-aware UTC."""

from __future__ import annotations

import datetime
import re

_FRACTION = re.compile(r"\.(\d+)")


def parse_rfc3339(value: str) -> datetime.datetime:
    """Parse an RFC 3339 time (``Z`` or an offset required; nanoseconds allowed) to UTC."""
    # fromisoformat in 3.11 takes at most microseconds: the proto3 JSON mapping gives nanoseconds.
    text = _FRACTION.sub(lambda match: "." + match[1][:6].ljust(6, "0"), value.strip(), count=1)
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None or "T" not in text.upper():
        raise ValueError(f"{value!r} is not an RFC 3339 time with a zone")
    return parsed.astimezone(datetime.UTC)


def format_rfc3339(moment: datetime.datetime) -> str:
    """UTC with a ``Z``, microseconds only when there are some."""
    utc = moment.astimezone(datetime.UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
