"""Learned segments: clusters with a chosen k and readable descriptions; purchase propensity."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command

from saleor_personalization.models import (
    CustomerProfile,
    Interaction,
    Segment,
    SegmentKind,
    SegmentMembership,
)
from saleor_personalization.segments.clusters import carried_keys, cluster_customers, silhouette
from saleor_personalization.segments.learned import compute_learned_segments
from saleor_personalization.segments.propensity import (
    Purchases,
    auc,
    features_at,
    purchase_propensity,
)

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def test_clusters_find_the_groups_that_are_there_and_say_what_they_are():
    rng = np.random.default_rng(0)
    groups = [  # (recency days, orders, spend): champions, regulars, one-off lapsed
        (5, 20, 5000),
        (40, 4, 600),
        (300, 1, 40),
    ]
    recency, orders, spend = (
        np.concatenate([rng.normal(g[i], g[i] * 0.1, 100).clip(0.5) for g in groups])
        for i in range(3)
    )
    clustering = cluster_customers(recency, orders.round().clip(1), spend, max_k=5)
    assert clustering.k == 3
    assert clustering.silhouette > 0.6
    first, second, third = clustering.profiles
    assert first.name == "Recent frequent high-spend customers"
    assert third.name.startswith("Dormant one-off low-spend")
    assert [p.size for p in clustering.profiles] == [100, 100, 100]
    assert "100 customers; median" in first.description


def test_silhouette_matches_its_definition_on_a_tiny_case():
    points = np.array([[0.0], [1.0], [10.0], [11.0]])
    labels = np.array([0, 0, 1, 1])
    # a = 1 for everyone; b = mean distance to the other pair: 10.5, 9.5, 9.5, 10.5
    expected = np.mean([(10.5 - 1) / 10.5, (9.5 - 1) / 9.5, (9.5 - 1) / 9.5, (10.5 - 1) / 10.5])
    assert silhouette(points, labels) == pytest.approx(expected)


def _regular_buyers(customers: int = 300, days: int = 200) -> Purchases:
    """Half buy every ~2 weeks, half once early on: propensity must tell them apart."""
    rng = np.random.default_rng(1)
    rows = []
    start = AS_OF.timestamp() - days * 86400
    for c in range(customers):
        if c % 2:
            t = start + rng.uniform(0, 14) * 86400
            while t < AS_OF.timestamp() + 40 * 86400:
                rows.append((c, t, 50.0))
                t += rng.uniform(7, 21) * 86400
        else:
            rows.append((c, start + rng.uniform(0, 30) * 86400, 20.0))
    customer, at, value = (np.array(x) for x in zip(*rows, strict=True))
    keep = at <= AS_OF.timestamp()
    return Purchases(customer=customer[keep], at=at[keep], value=value[keep])


def test_propensity_separates_regular_buyers_on_a_temporal_holdout():
    purchases = _regular_buyers()
    result = purchase_propensity(purchases, AS_OF)
    assert result.auc is not None
    assert result.auc > 0.9
    regular = result.scores[result.customers % 2 == 1].mean()
    one_off = result.scores[result.customers % 2 == 0].mean()
    assert regular > one_off + 0.3


def test_auc_is_the_probability_a_positive_outranks_a_negative():
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 0.75
    assert auc(np.array([1, 1]), np.array([0.1, 0.2])) is None


def test_features_use_only_orders_before_the_cutoff():
    purchases = Purchases(
        customer=np.array([1, 1, 2]),
        at=np.array([0.0, 10 * 86400.0, 20 * 86400.0]),
        value=np.array([10.0, 30.0, 5.0]),
    )
    customers, matrix = features_at(purchases, 15 * 86400.0)
    assert list(customers) == [1]
    assert np.expm1(matrix[0, 0]) == pytest.approx(5.0)  # days since the last order
    assert np.expm1(matrix[0, 1]) == pytest.approx(2.0)  # orders
    assert np.expm1(matrix[0, 2]) == pytest.approx(40.0)  # spend


@pytest.mark.django_db
def test_learned_segments_are_stored_with_history_and_scores():
    purchases = _regular_buyers(customers=120)
    for k, (customer, at, value) in enumerate(
        zip(purchases.customer, purchases.at, purchases.value, strict=True)
    ):
        Interaction.objects.create(
            customer_id=int(customer) + 1,
            product_id=1,
            kind="purchase",
            quantity=1,
            unit_price=value,
            basket_ref=f"o{k}",
            occurred_at=datetime.fromtimestamp(at, tz=UTC),
            source_key=f"o{k}",
        )
    for customer in range(1, 121):
        CustomerProfile.objects.create(customer_id=customer)
    report = compute_learned_segments(as_of=AS_OF)
    assert 3 <= report.k <= 6
    learned = Segment.objects.filter(kind=SegmentKind.LEARNED, is_active=True)
    assert {s.key for s in learned} == {f"cluster-{i}" for i in range(1, report.k + 1)} | {
        "likely-buyers"
    }
    likely = Segment.objects.get(key="likely-buyers")
    assert likely.definition["auc"] > 0.9
    assert "holdout AUC" in likely.description
    assert (
        report.likely_buyers
        == SegmentMembership.objects.filter(segment=likely, left_at__isnull=True).count()
    )
    scored = CustomerProfile.objects.exclude(purchase_propensity__isnull=True)
    assert scored.count() == 120
    # Rerun a month later: memberships move with history kept, nobody is duplicated.
    compute_learned_segments(as_of=AS_OF + timedelta(days=30))
    assert not SegmentMembership.objects.filter(left_at__isnull=False, segment__kind="rule")
    open_memberships = SegmentMembership.objects.filter(
        left_at__isnull=True, segment__key__startswith="cluster-"
    )
    assert open_memberships.count() == 120  # each customer in exactly one cluster


@pytest.mark.slow
@pytest.mark.django_db
def test_online_retail_cluster_and_propensity_quality(online_retail_path, capsys):
    """The whole Online Retail export: print what a merchant would see, check it is useful."""
    call_command("personalization_load", str(online_retail_path), verbosity=0)
    last = Interaction.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)[0]
    report = compute_learned_segments(as_of=last)
    with capsys.disabled():
        print(f"\nOnline Retail: k={report.k}, silhouette {report.silhouette:.3f}")
        for key, name, description, _ in report.clusters:
            print(f"  {key}: {name}: {description}")
        print(f"  propensity holdout AUC {report.propensity_auc:.3f}")
    assert 3 <= report.k <= 6
    assert report.silhouette > 0.2
    assert report.propensity_auc > 0.7
    assert report.clusters[0][1].startswith("Recent frequent high-spend")
    assert sum(size for *_, size in report.clusters) == report.scored == 4334


def test_clusters_with_the_same_words_get_told_apart():
    from saleor_personalization.segments.clusters import ClusterProfile, _distinct_names

    twins = [
        ClusterProfile("cluster-1", "Cooling occasional mid-spend customers", "", 5, 70.2, 2, 900),
        ClusterProfile("cluster-2", "Cooling occasional mid-spend customers", "", 5, 36.0, 2, 700),
        ClusterProfile("cluster-3", "Dormant one-off low-spend customers", "", 5, 160, 1, 90),
    ]
    names = [p.name for p in _distinct_names(twins)]
    assert names == [
        "Cooling occasional mid-spend customers (~70 days)",
        "Cooling occasional mid-spend customers (~36 days)",
        "Dormant one-off low-spend customers",
    ]


def test_cluster_names_are_true_of_their_members():
    """The property: every word of a cluster's name holds for its members' medians."""
    from saleor_personalization.segments.clusters import (
        DORMANT_DAYS,
        FREQUENT_ORDERS,
        HIGH_SPEND,
        LOW_SPEND,
        RECENT_DAYS,
    )

    for seed in range(12):
        rng = np.random.default_rng(seed)
        n = 300
        recency = rng.gamma(1.5, 60, n).clip(0.5)
        orders = rng.geometric(rng.uniform(0.15, 0.8), n).astype(np.float64)
        spend = orders * rng.lognormal(3.5, 0.8, n)
        clustering = cluster_customers(recency, orders, spend, max_k=6, seed=seed)
        shop_median = float(np.median(spend))
        for index, profile in enumerate(clustering.profiles):
            members = clustering.labels == index
            r, f, m = (float(np.median(x[members])) for x in (recency, orders, spend))
            name = profile.name.lower()
            assert ("recent" in name) == (r <= RECENT_DAYS), (seed, profile.name, r)
            assert ("dormant" in name) == (r > DORMANT_DAYS), (seed, profile.name, r)
            assert ("one-off" in name) == (f <= 1), (seed, profile.name, f)
            assert ("frequent" in name) == (f >= FREQUENT_ORDERS), (seed, profile.name, f)
            assert ("low-spend" in name) == (m <= LOW_SPEND * shop_median), (seed, profile.name)
            assert ("high-spend" in name) == (m >= HIGH_SPEND * shop_median), (seed, profile.name)


def test_a_median_of_four_orders_is_never_one_off():
    # The running shop's case: quantile-based words called this cluster "one-off".
    recency = np.array([10.0] * 30 + [200.0] * 30 + [50.0] * 30)
    orders = np.array([12.0] * 30 + [4.0] * 30 + [6.0] * 30)
    spend = orders * 30
    names = [p.name for p in cluster_customers(recency, orders, spend, max_k=3).profiles]
    assert all("one-off" not in name for name in names), names
    assert any(name.startswith("Dormant occasional") for name in names), names


def _random_buyers(customers: int = 200, days: int = 200) -> Purchases:
    """Everyone buys at random times: nothing in the past predicts the next 30 days."""
    rng = np.random.default_rng(5)
    start = AS_OF.timestamp() - days * 86400
    count = customers * 3
    return Purchases(
        customer=rng.integers(0, customers, count),
        at=start + rng.uniform(0, days, count) * 86400,
        value=np.full(count, 30.0),
    )


@pytest.mark.django_db
def test_a_propensity_model_no_better_than_chance_drives_no_segment():
    from saleor_personalization.segments.propensity import MIN_AUC, trust

    purchases = _random_buyers()
    result = purchase_propensity(purchases, AS_OF)
    verdict = trust(result)
    assert result.auc is not None
    assert not verdict.trusted
    assert verdict.interval[0] <= 0.5 or result.auc < MIN_AUC
    for k, (customer, at, value) in enumerate(
        zip(purchases.customer, purchases.at, purchases.value, strict=True)
    ):
        Interaction.objects.create(
            customer_id=int(customer) + 1,
            product_id=1,
            kind="purchase",
            unit_price=value,
            basket_ref=f"r{k}",
            occurred_at=datetime.fromtimestamp(at, tz=UTC),
            source_key=f"r{k}",
        )
    CustomerProfile.objects.bulk_create(CustomerProfile(customer_id=c) for c in range(1, 201))
    report = compute_learned_segments(as_of=AS_OF)
    likely = Segment.objects.get(key="likely-buyers")
    assert report.likely_buyers == 0
    assert not SegmentMembership.objects.filter(segment=likely, left_at__isnull=True).exists()
    # The segment says why it is empty, in words a merchant reads.
    assert likely.description.startswith("Empty: the propensity model is no better than chance")
    assert "holdout AUC" in likely.description
    assert likely.definition["used"] is False
    assert "is empty" in "\n".join(report.summary())
    assert not CustomerProfile.objects.exclude(purchase_propensity=None).exists()


def test_a_clearly_better_than_chance_model_is_trusted():
    from saleor_personalization.segments.propensity import trust

    verdict = trust(purchase_propensity(_regular_buyers(), AS_OF))
    assert verdict.trusted
    assert verdict.interval[0] > 0.5


def test_a_cluster_keeps_its_key_when_it_continues_an_earlier_one():
    previous = {"cluster-1": set(range(50)), "cluster-2": set(range(50, 100))}
    # Renumbered by k-means (spend order flipped), grown by newcomers 100..139.
    clusters = [set(range(50, 100)) | set(range(100, 140)), set(range(48))]
    assert carried_keys(clusters, previous, ["cluster-1", "cluster-2"]) == [
        "cluster-2",
        "cluster-1",
    ]


def test_a_split_or_a_new_group_gets_a_key_never_used_before():
    previous = {"cluster-1": set(range(40)), "cluster-2": set(range(40, 100))}
    # cluster-1 splits in halves (neither holds most of it); a group of newcomers forms.
    clusters = [set(range(20)), set(range(20, 40)), set(range(40, 100)), set(range(200, 230))]
    used = ["cluster-1", "cluster-2", "cluster-3", "cluster-7"]  # 3 and 7: inactive
    assert carried_keys(clusters, previous, used) == [
        "cluster-8",
        "cluster-9",
        "cluster-2",
        "cluster-10",
    ]
    # The first run numbers clusters in the order given (by spend).
    assert carried_keys(clusters[:2], {}, []) == ["cluster-1", "cluster-2"]


def _orders(customers: range, count: int, value: float, last: datetime, gap_days: int = 7):
    for customer in customers:
        for n in range(count):
            at = last - timedelta(days=gap_days * n)
            ref = f"c{customer}-{at:%Y%m%d}-{value}"
            Interaction.objects.create(
                customer_id=customer,
                product_id=1,
                kind="purchase",
                quantity=1,
                unit_price=value,
                basket_ref=ref,
                occurred_at=at,
                source_key=ref,
            )


@pytest.mark.django_db
def test_recomputed_clusters_keep_their_keys_when_their_spend_order_changes():
    """A voucher targeted at ``cluster-2`` must go on reaching the same customers."""
    _orders(range(1, 41), 20, 250.0, AS_OF - timedelta(days=3))  # frequent, high spend
    _orders(range(41, 81), 4, 150.0, AS_OF - timedelta(days=40), gap_days=20)
    _orders(range(81, 121), 1, 40.0, AS_OF - timedelta(days=300))
    for customer in range(1, 121):
        CustomerProfile.objects.create(customer_id=customer)
    compute_learned_segments(as_of=AS_OF)

    def members() -> dict[str, set[int]]:
        rows = SegmentMembership.objects.filter(
            left_at__isnull=True, segment__key__startswith="cluster-"
        ).values_list("segment__key", "customer_id")
        grouped: dict[str, set[int]] = {}
        for key, customer in rows:
            grouped.setdefault(key, set()).add(customer)
        return grouped

    first = members()
    assert first["cluster-1"] == set(range(1, 41))  # the first run numbers by spend
    assert first["cluster-2"] == set(range(41, 81))
    # The middle group now outspends everyone: k-means would number it first.
    _orders(range(41, 81), 1, 20000.0, AS_OF + timedelta(days=1))
    report = compute_learned_segments(as_of=AS_OF + timedelta(days=2))
    assert report.clusters[0][0] == "cluster-2"  # listed first (by spend), key kept
    assert members() == first
