"""Customers in a segment, found the way the Dashboard's customer list filters them."""

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import CustomerProfile  # noqa: E402
from saleor_personalization.saleor_adapter.metadata import (  # noqa: E402
    LEGACY_SEGMENTS_KEY,
    SEGMENT_KEY_PREFIX,
)
from saleor_personalization.tasks import compute_segments_task  # noqa: E402

pytestmark = pytest.mark.django_db

# The Dashboard's customer list sends its metadata filter as this input.
CUSTOMERS = """
query customers($filter: CustomerFilterInput) {
  customers(first: 20, filter: $filter) { edges { node { email } } }
}
"""


def _emails_with(client, key: str, value: str | None = None) -> set[str]:
    item = {"key": key} if value is None else {"key": key, "value": value}
    content = client.post_graphql(CUSTOMERS, {"filter": {"metadata": [item]}}).json()
    assert "errors" not in content, content
    return {edge["node"]["email"] for edge in content["data"]["customers"]["edges"]}


def test_customers_filter_finds_a_segments_members(
    personalization_config, customer_user, customer_user2, staff_api_client, permission_manage_users
):
    staff_api_client.user.user_permissions.add(permission_manage_users)
    CustomerProfile.objects.create(
        customer_id=customer_user.pk,
        orders_count=3,
        total_spent=300,
        last_order_at=timezone.now(),
        country="PL",
    )
    CustomerProfile.objects.create(
        customer_id=customer_user2.pk,
        orders_count=1,
        total_spent=20,
        last_order_at=timezone.now(),
        country="PL",
    )
    # A customer still carrying the 0.1 comma-separated key loses it.
    customer_user2.store_value_in_metadata({LEGACY_SEGMENTS_KEY: "active,repeat-buyers"})
    customer_user2.save(update_fields=["metadata"])

    assert compute_segments_task.apply().get()["metadata_written"] == 2

    repeat = f"{SEGMENT_KEY_PREFIX}repeat-buyers"
    assert _emails_with(staff_api_client, repeat) == {customer_user.email}
    assert _emails_with(staff_api_client, repeat, "Repeat buyers") == {customer_user.email}
    assert _emails_with(staff_api_client, f"{SEGMENT_KEY_PREFIX}new-customers") == {
        customer_user2.email
    }
    assert _emails_with(staff_api_client, f"{SEGMENT_KEY_PREFIX}country-pl") == {
        customer_user.email,
        customer_user2.email,
    }
    customer_user2.refresh_from_db()
    assert LEGACY_SEGMENTS_KEY not in customer_user2.metadata

    # Written only when membership changes: a second run touches nobody.
    assert compute_segments_task.apply().get()["metadata_written"] == 0

    # The first customer drops to one order: the key of the segment they left goes.
    CustomerProfile.objects.filter(customer_id=customer_user.pk).update(orders_count=1)
    assert compute_segments_task.apply().get()["metadata_written"] == 1
    assert _emails_with(staff_api_client, repeat) == set()
    assert _emails_with(staff_api_client, f"{SEGMENT_KEY_PREFIX}new-customers") == {
        customer_user.email,
        customer_user2.email,
    }
