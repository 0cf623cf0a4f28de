"""Segments inside Saleor: written to the customer's metadata for other Saleor tools."""

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import CustomerProfile  # noqa: E402
from saleor_personalization.saleor_adapter.metadata import SEGMENTS_KEY  # noqa: E402
from saleor_personalization.tasks import compute_segments_task  # noqa: E402

pytestmark = pytest.mark.django_db


def test_segments_are_mirrored_into_customer_metadata(personalization_config, customer_user):
    profile = CustomerProfile.objects.create(
        customer_id=customer_user.pk,
        orders_count=3,
        total_spent=300,
        last_order_at=timezone.now(),
        country="PL",
    )
    result = compute_segments_task.apply().get()
    assert result["metadata_written"] == 1
    customer_user.refresh_from_db()
    keys = customer_user.metadata[SEGMENTS_KEY].split(",")
    assert "repeat-buyers" in keys
    assert "country-pl" in keys
    # Unchanged segments: nothing is rewritten.
    assert compute_segments_task.apply().get()["metadata_written"] == 0
    profile.orders_count = 1
    profile.save(update_fields=["orders_count"])
    compute_segments_task.apply().get()
    customer_user.refresh_from_db()
    keys = customer_user.metadata[SEGMENTS_KEY].split(",")
    assert "repeat-buyers" not in keys
    assert "new-customers" in keys
