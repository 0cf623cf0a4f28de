"""Segments inside Saleor: written to the customer's metadata for other Saleor tools."""

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import CustomerProfile  # noqa: E402
from saleor_personalization.saleor_adapter.metadata import SEGMENT_KEY_PREFIX  # noqa: E402
from saleor_personalization.tasks import compute_segments_task  # noqa: E402

pytestmark = pytest.mark.django_db


def test_segments_are_mirrored_into_customer_metadata(personalization_config, customer_user):
    profile = CustomerProfile.objects.create(
        customer_id=customer_user.pk,
        email=customer_user.email,
        orders_count=3,
        total_spent=300,
        last_order_at=timezone.now(),
        country="PL",
    )
    result = compute_segments_task.apply().get()
    assert result["metadata_written"] == 1
    customer_user.refresh_from_db()
    assert customer_user.metadata[f"{SEGMENT_KEY_PREFIX}repeat-buyers"] == "Repeat buyers"
    assert f"{SEGMENT_KEY_PREFIX}country-pl" in customer_user.metadata
    # Unchanged segments: nothing is rewritten.
    assert compute_segments_task.apply().get()["metadata_written"] == 0
    profile.orders_count = 1
    profile.save(update_fields=["orders_count"])
    compute_segments_task.apply().get()
    customer_user.refresh_from_db()
    assert f"{SEGMENT_KEY_PREFIX}repeat-buyers" not in customer_user.metadata
    assert customer_user.metadata[f"{SEGMENT_KEY_PREFIX}new-customers"] == "New customers"
