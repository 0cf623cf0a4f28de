"""Segment rules against hand-computed cases, membership history, and the real dataset."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from saleor_personalization.events.erasure import erase_customer
from saleor_personalization.models import (
    CartState,
    CustomerProfile,
    Segment,
    SegmentMembership,
    SegmentSize,
)
from saleor_personalization.segments.compute import compute_segments, segments_of
from saleor_personalization.segments.rules import (
    CustomerSummary,
    SegmentRules,
    memberships,
    rfm_group,
    rfm_scores,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def summary(cid, orders, spent, days_ago, country="GB", abandoned=0):
    return CustomerSummary(
        customer_id=cid,
        orders=orders,
        spent=Decimal(spent),
        last_order_at=NOW - timedelta(days=days_ago) if days_ago is not None else None,
        country=country,
        abandoned_carts=abandoned,
    )


def test_lifecycle_and_lapse_by_hand():
    people = [
        summary(1, 1, 20, 3),
        summary(2, 2, 50, 40),
        summary(3, 7, 900, 10),
        summary(4, 4, 300, 335),  # last purchase 11 months ago
        summary(5, 0, 0, None),
    ]
    members, _ = memberships(people, NOW, SegmentRules(lapse_days=300))
    assert members["new-customers"] == {1}
    assert members["returning-customers"] == {2}
    assert members["repeat-buyers"] == {3, 4}
    assert members["lapsed"] == {4}
    assert members["active"] == {1, 2, 3}
    assert 5 not in set().union(*members.values()) - members["country-gb"]


def test_lapse_window_is_configurable():
    people = [summary(1, 3, 100, 200)]
    assert memberships(people, NOW, SegmentRules(lapse_days=300))[0]["lapsed"] == set()
    assert memberships(people, NOW, SegmentRules(lapse_days=180))[0]["lapsed"] == {1}


def test_rfm_scores_are_quintiles():
    people = [summary(i, i, i * 10, 100 - i * 10) for i in range(1, 11)]
    scores = rfm_scores(people, NOW)
    assert scores[10] == (5, 5, 5)  # most recent, most orders, most spend
    assert scores[1] == (1, 1, 1)
    assert scores[5] == (3, 3, 3)


@pytest.mark.parametrize(
    ("scores", "orders", "group"),
    [
        ((5, 5, 5), 9, "rfm-champions"),
        ((2, 5, 3), 8, "rfm-loyal"),
        ((5, 1, 1), 1, "rfm-new"),
        ((3, 3, 2), 3, "rfm-potential-loyalists"),
        ((1, 3, 3), 4, "rfm-at-risk"),
        ((1, 1, 1), 1, "rfm-hibernating"),
        ((3, 2, 5), 1, "rfm-need-attention"),
    ],
)
def test_rfm_groups(scores, orders, group):
    assert rfm_group(*scores, orders) == group


def test_abandoners_country_and_high_order_value():
    people = [summary(i, 2, 20 * i, 5, country="DE" if i % 2 else "FR") for i in range(1, 11)]
    people.append(summary(11, 1, 5, 5, abandoned=3))
    members, definitions = memberships(people, NOW, SegmentRules(abandoner_min_carts=3))
    assert members["frequent-abandoners"] == {11}
    assert members["country-de"] == {1, 3, 5, 7, 9}
    assert definitions["country-fr"].name == "Country FR"
    assert members["high-order-value"] == {9, 10}  # average order above the 80th percentile


@pytest.mark.django_db
def test_membership_history_records_entries_and_exits():
    CustomerProfile.objects.create(
        customer_id=1, orders_count=1, total_spent=20, last_order_at=NOW - timedelta(days=2)
    )
    first = compute_segments(as_of=NOW)
    assert first.sizes["new-customers"] == 1
    # Alone, the customer sits in the middle quintile of every RFM score.
    assert [s.key for s in segments_of(1)] == ["active", "new-customers", "rfm-need-attention"]
    assert compute_segments(as_of=NOW).entered == 0  # nothing changes twice

    later = NOW + timedelta(days=40)
    CustomerProfile.objects.filter(customer_id=1).update(orders_count=2, last_order_at=later)
    report = compute_segments(as_of=later)
    assert report.entered >= 1
    assert report.left >= 1
    stay = SegmentMembership.objects.get(segment__key="new-customers", customer_id=1)
    assert (stay.entered_at, stay.left_at) == (NOW, later)
    assert (
        SegmentMembership.objects.get(
            segment__key="returning-customers", customer_id=1, left_at__isnull=True
        ).entered_at
        == later
    )
    sizes = dict(
        SegmentSize.objects.filter(segment__key="new-customers").values_list("date", "size")
    )
    assert sizes == {NOW.date(): 1, later.date(): 0}


@pytest.mark.django_db
def test_frequent_abandoners_come_from_unfinished_carts():
    CustomerProfile.objects.create(customer_id=7)
    for k in range(3):
        CartState.objects.create(
            token=f"t{k}",
            customer_id=7,
            lines={"v1": [1, 1]},
            last_change_at=NOW - timedelta(days=2 + k),
        )
    CartState.objects.create(
        token="done", customer_id=7, lines={"v1": [1, 1]}, last_change_at=NOW, completed_at=NOW
    )
    compute_segments(as_of=NOW, rules=SegmentRules(abandoner_min_carts=3))
    assert "frequent-abandoners" in {s.key for s in segments_of(7)}


@pytest.mark.django_db
def test_erasure_removes_memberships():
    CustomerProfile.objects.create(customer_id=3, orders_count=1, total_spent=5, last_order_at=NOW)
    compute_segments(as_of=NOW)
    erase_customer(3)
    assert not SegmentMembership.objects.filter(customer_id=3).exists()
    assert Segment.objects.filter(key="new-customers").exists()


@pytest.mark.django_db
def test_online_retail_sample_segments(online_retail_sample):
    from saleor_personalization.standalone.importer import import_order_export

    report = import_order_export(online_retail_sample, channel="c")
    as_of = report.last_order_at
    sizes = compute_segments(as_of=as_of).sizes
    customers = CustomerProfile.objects.count()
    lifecycle = sizes["new-customers"] + sizes["returning-customers"] + sizes["repeat-buyers"]
    assert lifecycle == customers
    rfm = sum(v for k, v in sizes.items() if k.startswith("rfm-"))
    assert rfm == customers
    assert sizes["lapsed"] == 0  # the sample spans two days
    assert sizes["country-gb"] > 0


@pytest.mark.django_db
def test_new_orders_trigger_a_debounced_segment_refresh():
    from django.core.cache import cache

    from saleor_personalization.models import Segment
    from saleor_personalization.tasks.segments import REFRESH_PENDING, request_segment_refresh

    cache.delete(REFRESH_PENDING)
    CustomerProfile.objects.create(
        customer_id=1, orders_count=3, total_spent=90, last_order_at=timezone.now()
    )
    request_segment_refresh(delay_seconds=60)  # eager Celery here: runs at once
    assert Segment.objects.filter(key="repeat-buyers").exists()
    assert cache.get(REFRESH_PENDING)
    Segment.objects.all().delete()
    request_segment_refresh(delay_seconds=60)  # within the window: already scheduled
    assert not Segment.objects.exists()
    cache.delete(REFRESH_PENDING)


def test_average_ranks_match_scipy_with_ties():
    """Segments and evaluation rank with numpy alone (scipy.stats costs seconds to import)."""
    import numpy as np
    from scipy.stats import rankdata

    from saleor_personalization.recommender.ranks import average_ranks

    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 50):
        values = rng.integers(0, 4, size).astype(float)
        assert np.array_equal(average_ranks(values), rankdata(values))
    assert len(average_ranks([])) == 0
