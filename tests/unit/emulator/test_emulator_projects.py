"""Project numbers: the service answers names with the number, whichever spelling was asked."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import contact_center_insights_v1 as ccai
from google.cloud.contact_center_insights_v1.services.contact_center_insights.transports import (
    ContactCenterInsightsGrpcTransport,
)
from http_json import http_json

from insights_emulator import (
    InsightsEmulator,
    ManualClock,
    OperationStore,
    derive_project_number,
    seed_demo,
)

NUMBER = "389908145857"
BY_ID = "projects/demo-project/locations/us-central1"
BY_NUMBER = f"projects/{NUMBER}/locations/us-central1"


@pytest.fixture
def emulator() -> Iterator[InsightsEmulator]:
    emulator = InsightsEmulator(
        clock=ManualClock(),
        seed=9,
        max_page_size=2,
        locations=["us-central1"],
        project_numbers={"demo-project": NUMBER},
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def client(emulator: InsightsEmulator) -> Iterator[ccai.ContactCenterInsightsClient]:
    assert emulator.address is not None
    with grpc.insecure_channel(emulator.address) as channel:
        yield ccai.ContactCenterInsightsClient(
            transport=ContactCenterInsightsGrpcTransport(channel=channel)
        )


def test_names_come_back_with_the_number_whatever_the_spelling(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    created = emulator.create("CreateAnalysis", "demo-project", "us-central1")
    rest = emulator.start_rest()
    admin = emulator.start_admin()

    by_id = client.list_operations({"name": BY_ID})
    by_number = client.list_operations({"name": BY_NUMBER})
    got = client.get_operation({"name": created.replace(NUMBER, "demo-project")})
    _, rest_body = http_json(f"http://{rest}/v1/{created.replace(NUMBER, 'demo-project')}")
    _, admin_created = http_json(
        f"http://{admin}/v1/{BY_ID}/operations", "POST", {"kind": "QueryMetrics"}
    )
    _, admin_listed = http_json(f"http://{admin}/v1/{BY_ID}/operations")

    assert created.startswith(f"{BY_NUMBER}/operations/")
    assert [op.name for op in by_id.operations] == [op.name for op in by_number.operations]
    assert [op.name for op in by_id.operations] == [created]
    assert got.name == rest_body["name"] == created
    assert admin_created["name"].startswith(f"{BY_NUMBER}/operations/")
    assert [op["name"] for op in admin_listed["operations"]] == [created, admin_created["name"]]
    assert emulator.project_number("demo-project") == NUMBER


def test_resource_names_inside_the_metadata_use_the_number(emulator: InsightsEmulator) -> None:
    name = emulator.create("ExportInsightsData", "demo-project", "us-central1")

    metadata = ccai.ExportInsightsDataMetadata.pb()()
    emulator.get_operation(name).metadata.Unpack(metadata)

    assert metadata.request.parent == BY_NUMBER
    assert metadata.request.big_query_destination.project_id == "demo-project"  # an ID field


def test_id_and_number_reach_the_same_operation(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    first = emulator.create("BulkAnalyzeConversations", "demo-project", "us-central1")
    second = emulator.create("BulkAnalyzeConversations", NUMBER, "us-central1")

    client.cancel_operation({"name": first.replace(NUMBER, "demo-project")})
    emulator.delete(second.replace(NUMBER, "demo-project"))

    assert client.get_operation({"name": first}).error.code == 1
    with pytest.raises(exceptions.NotFound):
        client.get_operation({"name": second})
    assert [op.name for op in emulator.list_operations("demo-project")] == [first]


def test_a_number_of_no_known_project_is_another_project(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient
) -> None:
    created = emulator.create("CreateAnalysis", "demo-project", "us-central1")
    stranger = created.replace(NUMBER, "111111111111")

    assert not client.list_operations(
        {"name": "projects/111111111111/locations/us-central1"}
    ).operations
    with pytest.raises(exceptions.NotFound):
        client.get_operation({"name": stranger})
    assert emulator.create("CreateAnalysis", "111111111111", "us-central1").startswith(
        "projects/111111111111/"
    )
    assert len(client.list_operations({"name": BY_ID}).operations) == 1


@pytest.mark.parametrize("parent", [BY_ID, BY_NUMBER])
def test_page_tokens_work_with_the_spelling_that_got_them(
    emulator: InsightsEmulator, client: ccai.ContactCenterInsightsClient, parent: str
) -> None:
    created = [emulator.create("CreateAnalysis", "demo-project", "us-central1") for _ in range(5)]
    other = BY_NUMBER if parent == BY_ID else BY_ID

    listed, token = [], ""
    while True:
        page = client.list_operations({"name": parent, "page_token": token})
        listed += [op.name for op in page.operations]
        token = page.next_page_token
        if not token:
            break
        first_token = token

    assert listed == created
    # Nothing documents whether a token survives a change of spelling: it does not here.
    with pytest.raises(exceptions.InvalidArgument, match="page_token"):
        client.list_operations({"name": other, "page_token": first_token})


def test_derived_numbers_are_stable_twelve_digit_numbers() -> None:
    store = OperationStore()

    number = store.project_number("some-project")

    assert (
        number
        == derive_project_number("some-project")
        == OperationStore().project_number("some-project")
    )
    assert len(number) == 12 and number.isdigit() and number[0] != "0"
    assert store.project_number("other-project") != number
    assert store.project_number(NUMBER) == NUMBER  # a number is already a number
    assert store.create("QueryMetrics", "some-project", "l").startswith(f"projects/{number}/")


def test_seeded_demo_operations_carry_the_number(emulator: InsightsEmulator) -> None:
    names = seed_demo(emulator, "demo-project", "us-central1")

    assert len(names) == 8
    assert all(name.startswith(f"{BY_NUMBER}/operations/") for name in names)


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ({"p-1": "12ab"}, "not a number"),
        ({"p-1": "0123"}, "not a number"),
        ({"12345": "12345"}, "not a project ID"),
        ({"p-1": "123", "p-2": "123"}, "share"),
    ],
)
def test_bad_project_numbers_are_rejected(numbers: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InsightsEmulator(project_numbers=numbers)
