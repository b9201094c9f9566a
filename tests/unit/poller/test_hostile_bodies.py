"""Hostile request bodies: every body gets a JSON answer, and one that is not a valid request
gets a 400 (or a 413) before anything runs: no Insights call, no state write, no event."""

from __future__ import annotations

import json
from typing import Any

import builders
import pytest
from fakes import FakePublisher, FakeReader, InMemoryStateStore
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from insights_poller import app, triggers
from insights_poller.settings import Settings

SETTINGS = Settings.from_env(
    {"GOOGLE_CLOUD_PROJECT": builders.PROJECT, "RESULTS_TOPIC": "events", "FOLLOW_UP_SECONDS": "0"}
)
"""Follow-ups off: these polls run on the real clock (follow-ups: test_follow_ups.py)."""
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_ERROR_CHARS = 2000
"""An answer names the problem; it does not echo a megabyte of the body back."""


class Outcome:
    """One request on fresh fakes: the answer and what the fakes saw."""

    def __init__(self, body: bytes) -> None:
        self.reader = FakeReader()
        self.store = InMemoryStateStore()
        self.publisher = FakePublisher()
        poller = app.Poller(
            SETTINGS, reader=self.reader, publisher=self.publisher, store=self.store
        )
        self.answer, self.status = triggers.handle_http("POST", body, len(body), lambda: poller)

    def check(self) -> None:
        """What holds for every body, hostile or not."""
        assert self.status in {200, 400, 413}, self.answer
        assert isinstance(self.answer, dict)
        json.dumps(self.answer)
        json.dumps(self.answer, ensure_ascii=False).encode("utf-8")  # no lone surrogate
        if self.status != 200:
            assert set(self.answer) == {"error"}
            assert isinstance(self.answer["error"], str)
            assert 0 < len(self.answer["error"]) <= MAX_ERROR_CHARS
            self.assert_nothing_ran()

    def assert_nothing_ran(self) -> None:
        assert self.reader.list_calls == 0
        assert self.reader.get_calls == [] and self.reader.rest_calls == []
        assert self.store.writes == 0
        assert self.publisher.published == []


def _looks_like_a_request(body: bytes) -> bool:
    """A loose oracle: what a 200 needs (the handler also checks each name)."""
    if not body.strip(b" \t\r\n"):
        return True
    text = body.decode("utf-8")  # strict: no BOM is skipped, no surrogate slips through
    parsed = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    if not isinstance(parsed, dict) or set(parsed) - {"operations"}:
        return False
    requested = parsed.get("operations", [])
    return isinstance(requested, list) and all(isinstance(item, str) for item in requested)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a 200 for a body that repeats a key: {keys}"
    return dict(pairs)


def _no_constant(literal: str) -> object:
    raise AssertionError(f"a 200 for a body holding {literal}, which is not JSON")


# --- arbitrary bytes ----------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
@example(b"\x0b")  # what bytes.strip() takes for whitespace, and JSON does not
@example(b"\xef\xbb\xbf{}")
@example(b"[" * 2000)
@example(b"9" * 4301)
def test_arbitrary_bytes_get_a_json_answer_and_change_nothing_unless_valid(body: bytes) -> None:
    outcome = Outcome(body)

    outcome.check()
    event(f"status {outcome.status}")
    if outcome.status == 200:
        assert _looks_like_a_request(body)


# --- JSON-ish text ------------------------------------------------------------------------

NAMES = [
    builders.name(1),
    builders.name("a-b_C"),
    builders.name(7, "europe-west1"),
    "projects/other-project/locations/us-central1/operations/1",
    "projects/389908145857/locations/us-central1/operations/1",
    builders.name("../7"),
    builders.name("x" * 2000),
    "",
]
ESCAPES = [
    "\\ud800",  # lone high surrogate
    "\\udfff",  # lone low surrogate
    "\\ud83d\\ude00",  # a well-formed pair
    "\\u0000",
    '\\"',
    "\\\\",
    "\\/",
    "\\x41",  # not a JSON escape
    "\\u12",  # a short one
    "\n",  # a raw control character: not allowed in a JSON string
    "\x00",
    "\u2028",
    "\ufeff",
    "\U0001f600",
    "\u0301",  # a lone combining mark
]

odd_characters = st.one_of(
    st.characters(),
    st.sampled_from(ESCAPES),
    st.integers(0xD800, 0xDFFF).map(chr),  # a raw lone surrogate, sent as its (invalid) UTF-8
)
json_strings = st.lists(odd_characters, max_size=12).map(lambda parts: '"' + "".join(parts) + '"')
json_numbers = st.one_of(
    st.integers().map(str),
    st.integers(4290, 4400).map(lambda digits: "9" * digits),  # around int's max str digits
    st.sampled_from(
        ["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "1E400", "-0"]
        + ["0.0", "01", "1.", ".5", "+1", "0x10", "1_000", "1" + "0" * 400 + ".5"]
    ),
    st.floats().map(repr),
    st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,6})?", fullmatch=True),
)
scalars = st.one_of(
    st.sampled_from(["null", "true", "false", "tru", "nul", "None", "undefined"]),
    json_numbers,
    json_strings,
    st.sampled_from(NAMES).map(json.dumps),
)
keys = st.one_of(st.just('"operations"'), json_strings, st.sampled_from(['"ops"', '"Operations"']))


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    arrays = st.lists(children, max_size=5).map(lambda items: "[" + ",".join(items) + "]")
    objects = st.lists(st.tuples(keys, children), max_size=4).map(
        lambda pairs: "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"
    )
    return arrays | objects


json_values = st.recursive(scalars, _containers, max_leaves=16)


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    depth = draw(st.integers(1, 5000))
    opener, closer = draw(
        st.sampled_from([("[", "]"), ('{"operations":', "}"), ('[{"a":', "}]"), ('{"":[', "]}")])
    )
    inner = draw(st.sampled_from(["[]", "{}", "1", '"x"', json.dumps(NAMES[0]), ""]))
    balanced = draw(st.booleans())
    return opener * depth + inner + (closer * depth if balanced else closer * (depth // 2))


operations_values = st.one_of(
    json_values,
    deep_nesting(),
    st.lists(st.one_of(st.sampled_from(NAMES).map(json.dumps), json_values), max_size=6).map(
        lambda items: "[" + ",".join(items) + "]"
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> str:
    """An object with an "operations" key holding something odd, maybe among other keys."""
    pairs = [('"operations"', draw(operations_values))]
    for _ in range(draw(st.integers(0, 2))):
        pairs.insert(draw(st.integers(0, len(pairs))), (draw(keys), draw(json_values)))
    return "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    document = draw(st.one_of(requests(), json_values, deep_nesting()))
    space = st.sampled_from(["", " ", "\t", "\r\n", "\x0b", "\x0c", "\u00a0", "\ufeff", "\x00"])
    text = draw(space) + document + draw(space)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32"]))
    body = text.encode(encoding, errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # now and then, cut it short
        body = body[: draw(st.integers(0, len(body)))]
    return body


@FUZZ
@given(bodies())
def test_json_ish_bodies_get_a_json_answer_and_change_nothing_unless_valid(body: bytes) -> None:
    outcome = Outcome(body)

    outcome.check()
    event(f"status {outcome.status}")
    if outcome.status == 200:
        assert _looks_like_a_request(body)


# --- regressions, each named --------------------------------------------------------------

DIGITS_4301 = b"9" * 4301


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000,
        b'{"operations":' * 50_000 + b"[]" + b"}" * 50_000,
        b'{"operations": [' + b"[" * 5_000 + b"]" * 5_000 + b"]}",
        b'{"operations": [' + b'{"a":' * 5_000 + b"1" + b"}" * 5_000 + b"]}",
    ],
    ids=[
        "arrays",
        "unclosed-objects",
        "operations-in-operations",
        "in-the-list",
        "objects-in-list",
    ],
)
def test_deep_nesting_is_a_400_naming_it(body: bytes) -> None:
    outcome = Outcome(body)

    outcome.check()
    assert outcome.status == 400
    assert "nest" in outcome.answer["error"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (DIGITS_4301, "JSON object"),
        (b'{"operations": ' + DIGITS_4301 + b"}", "must be a list"),
        (b'{"operations": [' + DIGITS_4301 + b"]}", "must hold strings"),
        (b'{"operations": [-' + DIGITS_4301 + b".5e3]}", "must hold strings"),
        (b'{"other": ' + DIGITS_4301 + b"}", "unknown field"),
    ],
    ids=["alone", "as-operations", "in-the-list", "as-a-float", "elsewhere"],
)
def test_an_integer_of_4301_digits_is_a_400_naming_the_problem(body: bytes, expected: str) -> None:
    outcome = Outcome(body)

    outcome.check()
    assert outcome.status == 400
    assert expected in outcome.answer["error"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"operations": NaN}', "NaN is not JSON"),
        (b'{"operations": [Infinity]}', "Infinity is not JSON"),
        (b'{"operations": [-Infinity]}', "-Infinity is not JSON"),
        (b'{"operations": [1e999]}', "found 1e999"),
        (b'{"operations": ["bad"], "operations": []}', "repeats the field 'operations'"),
        (b'\xef\xbb\xbf{"operations": []}', "byte order mark"),
        ('{"operations": []}'.encode("utf-16"), "not UTF-8"),
        ('{"operations": []}'.encode("utf-32"), "not UTF-8"),
        (b'{"operations": ["\xed\xa0\x80"]}', "not UTF-8"),  # an encoded lone surrogate
        (b"\x0b", "not valid JSON"),  # not JSON whitespace, so not an empty body
        (b"\x0c\r\n", "not valid JSON"),
        (b'{"operations": ["\\ud800"]}', "not an operation name"),
        (json.dumps({"operations": ["x" * 1_000_000]}).encode(), "not an operation name"),
        (json.dumps({"operations": [[[["x" * 900_000]]]]}).encode(), "must hold strings"),
        (json.dumps({"x" * 900_000: 1}).encode(), "unknown field"),
        (json.dumps({"operations": ["\U000e0001" * 50_000]}).encode(), "not an operation name"),
    ],
    ids=[
        "NaN",
        "Infinity",
        "-Infinity",
        "huge-float",
        "duplicate-key",
        "utf-8-bom",
        "utf-16",
        "utf-32",
        "encoded-surrogate",
        "vertical-tab",
        "form-feed",
        "escaped-lone-surrogate",
        "megabyte-name",
        "megabyte-nested-item",
        "megabyte-key",
        "unprintable-name",
    ],
)
def test_other_hostile_bodies_are_400s_naming_the_problem(body: bytes, expected: str) -> None:
    outcome = Outcome(body)

    outcome.check()
    assert outcome.status == 400
    assert expected in outcome.answer["error"]


@pytest.mark.parametrize("body", [b"", b" \t\r\n", b"{}", b'{"operations": []}'])
def test_empty_bodies_still_run_a_poll(body: bytes) -> None:
    outcome = Outcome(body)

    outcome.check()
    assert outcome.status == 200
