"""Cart snapshots and orders become the right events, exactly once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from saleor_personalization.events.erasure import erase_customer
from saleor_personalization.events.identity import (
    checkout_identity,
    email_identity,
    is_valid_storefront_id,
    merge_identities,
    storefront_identity,
)
from saleor_personalization.events.recording import (
    record_cart,
    record_order,
    record_orders_bulk,
)
from saleor_personalization.events.types import CartSnapshot, LineSnapshot, OrderSnapshot
from saleor_personalization.models import (
    AnonymousIdentity,
    CartState,
    CustomerProfile,
    Interaction,
    InteractionKind,
    ListKind,
    RecommendationList,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def cart(*lines, at=0, token="tok-1", **kw) -> CartSnapshot:
    return CartSnapshot(
        token=token,
        channel="default-channel",
        occurred_at=T0 + timedelta(minutes=at),
        lines=tuple(LineSnapshot(product_id=p, variant_id=v, quantity=q) for p, v, q in lines),
        **kw,
    )


def kinds():
    return list(Interaction.objects.order_by("id").values_list("kind", "product_id", "quantity"))


def test_adds_and_removes_come_from_the_difference_between_snapshots():
    record_cart(cart((1, 11, 2), at=0))
    record_cart(cart((1, 11, 2), (2, 21, 1), at=1))
    record_cart(cart((1, 11, 1), (2, 21, 1), at=2))
    record_cart(cart((2, 21, 1), at=3))
    assert kinds() == [
        (InteractionKind.ADD_TO_CART, 1, 2),
        (InteractionKind.ADD_TO_CART, 2, 1),
        (InteractionKind.REMOVE_FROM_CART, 1, 1),
        (InteractionKind.REMOVE_FROM_CART, 1, 1),
    ]
    assert CartState.objects.get(token="tok-1").lines == {"v21": [2, 1]}


def test_replayed_snapshot_records_nothing():
    snapshot = cart((1, 11, 2), at=0)
    assert record_cart(snapshot).created == 1
    assert record_cart(snapshot).created == 0
    assert Interaction.objects.count() == 1


def test_late_older_snapshot_is_ignored():
    record_cart(cart((1, 11, 1), at=5))
    record_cart(cart((1, 11, 3), at=1))
    assert kinds() == [(InteractionKind.ADD_TO_CART, 1, 1)]


def test_re_adding_after_removal_is_a_new_event():
    record_cart(cart((1, 11, 1), at=0))
    record_cart(cart(at=1))
    record_cart(cart((1, 11, 1), at=2))
    assert [k for k, _, _ in kinds()] == [
        InteractionKind.ADD_TO_CART,
        InteractionKind.REMOVE_FROM_CART,
        InteractionKind.ADD_TO_CART,
    ]


def test_two_lines_of_one_variant_are_summed():
    record_cart(cart((1, 11, 1), (1, 11, 2), at=0))
    assert kinds() == [(InteractionKind.ADD_TO_CART, 1, 3)]


def test_giving_an_email_starts_checkout_for_each_line():
    record_cart(cart((1, 11, 1), (2, 21, 2), at=0))
    record_cart(cart((1, 11, 1), (2, 21, 2), at=1, email="ann@example.com"))
    started = Interaction.objects.filter(kind=InteractionKind.CHECKOUT_STARTED)
    assert sorted(started.values_list("product_id", "quantity")) == [(1, 1), (2, 2)]
    record_cart(cart((1, 11, 1), (2, 21, 2), at=2, email="ann@example.com"))
    assert started.count() == 2


def test_anonymous_cart_events_are_keyed_by_storefront_id_then_merged_on_login():
    anon = storefront_identity("abc-123")
    record_cart(cart((1, 11, 1), at=0, anonymous_id=anon))
    event = Interaction.objects.get()
    assert (event.customer_id, event.anonymous_id) == (None, anon)

    record_cart(cart((1, 11, 1), (2, 21, 1), at=1, anonymous_id=anon, customer_id=7))
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {7}
    assert AnonymousIdentity.objects.filter(anonymous_id=anon, customer_id=7).exists()


def test_events_under_a_merged_id_go_to_the_customer_at_once():
    anon = storefront_identity("known")
    merge_identities([anon], 9)
    record_cart(cart((1, 11, 1), at=0, anonymous_id=anon, token="tok-2"))
    assert Interaction.objects.get().customer_id == 9


def test_guest_cart_is_keyed_by_hashed_email():
    record_cart(cart((1, 11, 1), at=0, email="Guest@Example.com"))
    event = Interaction.objects.filter(kind=InteractionKind.ADD_TO_CART).get()
    assert event.anonymous_id == email_identity("guest@example.com")
    assert "example" not in event.anonymous_id


def order(order_id="o-1", customer_id=None, email="", checkout_token="", at=10, lines=None):
    return OrderSnapshot(
        order_id=order_id,
        number="1001",
        channel="default-channel",
        occurred_at=T0 + timedelta(minutes=at),
        customer_id=customer_id,
        email=email,
        checkout_token=checkout_token,
        currency="USD",
        lines=lines
        or (
            LineSnapshot(1, 11, 2, Decimal("10.00"), "USD", "line-a"),
            LineSnapshot(2, 21, 1, Decimal("5.50"), "USD", "line-b"),
        ),
    )


def test_order_records_purchases_once_and_updates_the_profile():
    snapshot = order(customer_id=5, email="c@example.com")
    assert record_order(snapshot).created == 2
    assert record_order(snapshot).created == 0
    profile = CustomerProfile.objects.get(customer_id=5)
    assert profile.orders_count == 1
    assert profile.total_spent == Decimal("25.500")
    assert profile.email == "c@example.com"


def test_order_closes_its_checkout_and_merges_the_guest_cart():
    anon = storefront_identity("shopper")
    record_cart(cart((1, 11, 2), at=0, anonymous_id=anon, token="tok-9"))
    record_order(order(customer_id=4, checkout_token="tok-9"))

    state = CartState.objects.get(token="tok-9")
    assert state.completed_at is not None
    assert state.order_ref == "1001"
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {4}
    # A late checkout_updated for the completed checkout changes nothing.
    record_cart(cart(at=11, anonymous_id=anon, token="tok-9"))
    assert not Interaction.objects.filter(kind=InteractionKind.REMOVE_FROM_CART).exists()


def test_guest_order_then_registration_merges_by_email():
    record_order(order(email="later@example.com"))
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {None}
    merge_identities([email_identity("later@example.com")], 12)
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {12}


def test_erasure_removes_every_trace_of_the_customer_and_nobody_else():
    anon = storefront_identity("erase-me")
    record_cart(cart((1, 11, 1), at=0, anonymous_id=anon, token="tok-e"))
    record_order(order(customer_id=3, email="gone@example.com", checkout_token="tok-e"))
    record_order(order(order_id="o-guest", email="gone@example.com"))
    record_order(order(order_id="o-other", customer_id=99, email="stay@example.com"))
    RecommendationList.objects.create(
        kind=ListKind.PERSONAL, subject="3", channel="c", items=[], generated_at=T0
    )

    report = erase_customer(3, "gone@example.com")

    assert report.deleted["interactions"] == 5
    assert not Interaction.objects.filter(customer_id=3).exists()
    assert not Interaction.objects.filter(anonymous_id=email_identity("gone@example.com")).exists()
    assert not CartState.objects.filter(token="tok-e").exists()
    assert not CustomerProfile.objects.filter(customer_id=3).exists()
    assert not AnonymousIdentity.objects.filter(customer_id=3).exists()
    assert not RecommendationList.objects.filter(subject="3").exists()
    assert Interaction.objects.filter(customer_id=99).count() == 2
    assert CustomerProfile.objects.filter(customer_id=99).exists()


def test_snapshot_payload_round_trips():
    snapshot = order(customer_id=1, email="x@example.com", checkout_token="t")
    assert OrderSnapshot.from_payload(snapshot.to_payload()) == snapshot
    c = cart((1, 11, 1), at=0, email="x@example.com", anonymous_id="s:1")
    assert CartSnapshot.from_payload(c.to_payload()) == c


@pytest.mark.parametrize(
    ("value", "valid"),
    [("abc-123_x.y", True), ("", False), ("a" * 49, False), ("has space", False), ("é", False)],
)
def test_storefront_ids_are_validated(value, valid):
    assert is_valid_storefront_id(value) is valid


def test_checkout_identity_is_namespaced():
    assert checkout_identity("t") == "c:t"


def test_erased_history_is_never_recorded_again_but_new_activity_is():
    old = order(order_id="o-old", customer_id=3, email="gone@example.com", at=0)
    record_order(old)
    erase_customer(3, "gone@example.com")

    # Saleor keeps the order, now without its user; a reconcile reads it again.
    guest_copy = order(order_id="o-old", email="gone@example.com", at=0)
    assert record_order(guest_copy).created == 0
    assert record_orders_bulk([guest_copy, old]) == 0
    assert record_cart(cart((1, 11, 1), at=0, email="gone@example.com", token="t-x")).created == 0
    assert not Interaction.objects.exists()

    # The same person coming back later is a new start.
    later = order(order_id="o-new", email="gone@example.com", at=60 * 24 * 365 * 10)
    assert record_order(later).created == 2


def test_storefront_id_linked_to_a_checkout_is_merged_when_the_order_is_placed():
    from saleor_personalization.events.identity import link_checkout

    anon = storefront_identity("browser-1")
    Interaction.objects.create(
        anonymous_id=anon,
        product_id=5,
        kind=InteractionKind.VIEW,
        occurred_at=T0,
        source_key="view-1",
    )
    assert link_checkout("tok-link", anon) == 0
    record_order(order(order_id="o-link", customer_id=21, checkout_token="tok-link"))
    assert Interaction.objects.get(source_key="view-1").customer_id == 21


def test_linking_a_checkout_of_a_known_customer_merges_at_once():
    from saleor_personalization.events.identity import link_checkout

    anon = storefront_identity("browser-2")
    Interaction.objects.create(
        anonymous_id=anon, product_id=5, kind=InteractionKind.VIEW, occurred_at=T0, source_key="v2"
    )
    assert link_checkout("tok-2", anon, customer_id=22) == 1
    assert link_checkout("tok-2", anon, customer_id=22) == 0
