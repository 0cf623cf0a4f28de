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


def test_a_propensity_model_no_better_than_chance_fills_no_segment(
    personalization_config, customer_user
):
    """Random buying: the model cannot beat chance, so nobody is tagged a likely buyer."""
    from datetime import timedelta

    import numpy as np

    from saleor_personalization.models import (
        Interaction,
        InteractionKind,
        Segment,
        SegmentMembership,
    )

    rng = np.random.default_rng(5)
    now = timezone.now()
    customers = 200
    Interaction.objects.bulk_create(
        Interaction(
            customer_id=int(rng.integers(1, customers + 1)),
            product_id=1,
            kind=InteractionKind.PURCHASE,
            unit_price=30,
            basket_ref=f"r{k}",
            occurred_at=now - timedelta(days=float(rng.uniform(0, 200))),
            source_key=f"random-{k}",
        )
        for k in range(customers * 3)
    )
    CustomerProfile.objects.bulk_create(
        CustomerProfile(customer_id=c) for c in range(1, customers + 1)
    )
    result = compute_segments_task.apply().get()
    likely = Segment.objects.get(key="likely-buyers")
    assert result["propensity_auc"] is not None
    assert not SegmentMembership.objects.filter(segment=likely, left_at__isnull=True).exists()
    assert likely.description.startswith("Empty: the propensity model is no better than chance")
    assert likely.definition["used"] is False
    # Cluster names are true of their members: "one-off" only where the median is 1 order.
    for segment in Segment.objects.filter(key__startswith="cluster-"):
        if "one-off" in segment.name:
            assert segment.definition["median_orders"] <= 1, segment.name
