"""Cart snapshots and orders become the right events, exactly once."""

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from saleor_personalization.events.erasure import erase_customer
from saleor_personalization.events.identity import (
    address_digest,
    checkout_identity,
    email_identity,
    is_valid_storefront_id,
    link_checkout,
    merge_identities,
    same_address,
    storefront_identity,
)
from saleor_personalization.events.recording import (
    OrderClaim,
    claim_orders,
    forget_cart_addresses,
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
    SubjectType,
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


def test_an_id_merged_into_one_customer_cannot_be_taken_over_by_another():
    """Found on a running shop: a customer copied someone's storefront id into their
    own checkout's metadata and the id, with its history, moved to them."""
    anon = storefront_identity("owned-by-seven")
    record_cart(cart((1, 11, 1), at=0, anonymous_id=anon, customer_id=7, token="tok-7"))
    Interaction.objects.create(
        anonymous_id=anon, product_id=9, kind=InteractionKind.VIEW, occurred_at=T0, source_key="v7"
    )
    assert merge_identities([anon], 8) == 0
    record_cart(cart((1, 21, 1), at=1, anonymous_id=anon, customer_id=8, token="tok-8"))
    assert AnonymousIdentity.objects.get(anonymous_id=anon).customer_id == 7
    assert Interaction.objects.get(source_key="v7").customer_id is None
    assert not Interaction.objects.filter(customer_id=8, anonymous_id=anon).exists()
    # Their own id still merges.
    assert merge_identities([anon, storefront_identity("sevens-phone")], 7) >= 1


def test_guest_cart_is_keyed_by_its_checkout_not_by_the_typed_email():
    record_cart(cart((1, 11, 1), at=0, email="Guest@Example.com"))
    event = Interaction.objects.filter(kind=InteractionKind.ADD_TO_CART).get()
    assert (event.customer_id, event.anonymous_id) == (None, checkout_identity("tok-1"))


def test_a_typed_email_never_ties_a_cart_or_history_to_an_account():
    """The attack: a guest types a customer's address into a checkout."""
    victim = 31
    record_order(order(order_id="o-victim", customer_id=victim, email="victim@example.com"))
    # Even an email id merged by an older release stands for nobody.
    AnonymousIdentity.objects.create(
        anonymous_id=email_identity("victim@example.com"), customer_id=victim
    )
    anon = storefront_identity("attacker-browser")
    Interaction.objects.create(
        anonymous_id=anon, product_id=9, kind=InteractionKind.VIEW, occurred_at=T0, source_key="v-a"
    )
    record_cart(
        cart((1, 11, 1), at=0, token="tok-a", email="victim@example.com", anonymous_id=anon)
    )
    record_cart(cart((1, 11, 2), at=1, token="tok-a", email="attacker@example.com"))

    state = CartState.objects.get(token="tok-a")
    assert state.customer_id is None
    assert state.anonymous_id == anon
    assert (
        not Interaction.objects.filter(customer_id=victim)
        .exclude(kind=InteractionKind.PURCHASE)
        .exists()
    )
    assert Interaction.objects.get(source_key="v-a").customer_id is None
    assert merge_identities([email_identity("victim@example.com")], victim) == 0
    # A guest order with the victim's address is the guest's, not the victim's.
    record_order(order(order_id="o-guest", email="victim@example.com", checkout_token="tok-a"))
    assert CustomerProfile.objects.get(customer_id=victim).orders_count == 1
    assert not Interaction.objects.filter(customer_id=victim, basket_ref="o-guest").exists()
    assert Interaction.objects.get(source_key="v-a").customer_id is None


def test_attaching_a_checkout_to_an_account_merges_its_storefront_history():
    anon = storefront_identity("guest-then-login")
    link_checkout("tok-att", anon)
    Interaction.objects.create(
        anonymous_id=anon, product_id=9, kind=InteractionKind.VIEW, occurred_at=T0, source_key="v-g"
    )
    record_cart(cart((1, 11, 1), at=0, token="tok-att"))
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {None}
    # checkoutCustomerAttach: the next snapshot carries the checkout's user.
    result = record_cart(cart((1, 11, 1), at=1, token="tok-att", customer_id=41))
    assert result.merged == 2
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {41}
    assert CartState.objects.get(token="tok-att").customer_id == 41
    # A storefront id tied after the attach (tasks can run out of order) joins too.
    later = storefront_identity("second-tab")
    Interaction.objects.create(
        anonymous_id=later,
        product_id=9,
        kind=InteractionKind.VIEW,
        occurred_at=T0,
        source_key="v-t",
    )
    assert link_checkout("tok-att", later) == 1
    # Detached again: the cart is no longer the account's.
    record_cart(cart((1, 11, 1), at=2, token="tok-att"))
    assert CartState.objects.get(token="tok-att").customer_id is None


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
    assert "c@example.com" not in str(CustomerProfile.objects.values().get(customer_id=5))


def test_order_closes_its_checkout_and_merges_the_accounts_cart():
    anon = storefront_identity("shopper")
    record_cart(cart((1, 11, 2), at=0, anonymous_id=anon, token="tok-9", customer_id=4))
    record_order(order(customer_id=4, checkout_token="tok-9"))

    state = CartState.objects.get(token="tok-9")
    assert state.completed_at is not None
    assert state.order_ref == "1001"
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {4}
    # A late checkout_updated for the completed checkout changes nothing.
    record_cart(cart(at=11, anonymous_id=anon, token="tok-9"))
    assert not Interaction.objects.filter(kind=InteractionKind.REMOVE_FROM_CART).exists()


def test_guest_orders_join_an_account_only_when_saleor_links_them():
    anon = storefront_identity("guest-browser")
    link_checkout("tok-g", anon)
    Interaction.objects.create(
        anonymous_id=anon, product_id=9, kind=InteractionKind.VIEW, occurred_at=T0, source_key="v-l"
    )
    record_order(order(order_id="o-linked", email="later@example.com", checkout_token="tok-g"))
    record_order(order(order_id="o-unlinked", email="later@example.com", at=20))
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {None}
    assert CartState.objects.get(token="tok-g").email == ""

    # Saleor linked o-linked to account 12 (the address was confirmed): it alone moves,
    # with its checkout's browsing, and the account's counts follow.
    claims = [OrderClaim("o-linked", 12, "tok-g")]
    assert claim_orders(claims) == 2
    assert claim_orders(claims) == 0
    assert Interaction.objects.get(source_key="v-l").customer_id == 12
    unlinked = Interaction.objects.filter(source_key__startswith="order:o-unlinked:")
    assert set(unlinked.values_list("customer_id", flat=True)) == {None}
    profile = CustomerProfile.objects.get(customer_id=12)
    assert (profile.orders_count, profile.total_spent) == (1, Decimal("25.500"))


def test_bulk_recording_claims_orders_saleor_linked_since():
    record_orders_bulk([order(order_id="o-b", email="b@example.com")])
    assert record_orders_bulk([order(order_id="o-b", customer_id=13, email="b@example.com")]) == 0
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {13}
    assert CustomerProfile.objects.get(customer_id=13).orders_count == 1


def test_addresses_of_closed_or_stale_carts_are_forgotten():
    record_cart(cart((1, 11, 1), at=0, token="t-open", email="open@example.com"))
    record_cart(cart((1, 11, 1), at=0, token="t-gone", email="gone@example.com"))
    record_cart(cart((1, 11, 1), at=-60 * 24 * 30, token="t-old", email="old@example.com"))
    forgotten = forget_cart_addresses(idle_before=T0 - timedelta(days=14), closed_tokens=["t-gone"])
    assert forgotten == 2
    assert dict(CartState.objects.values_list("token", "email")) == {
        "t-open": "open@example.com",
        "t-gone": "",
        "t-old": "",
    }


def test_address_digests_are_keyed_and_normalised(settings):
    digest = address_digest(" Ann@Example.com ")
    assert digest == address_digest("ann@example.com")
    assert digest != hashlib.sha256(b"ann@example.com").hexdigest()
    assert same_address(digest, "ANN@example.com")
    assert not same_address(digest, "bob@example.com")
    settings.SECRET_KEY = "another-key"
    assert address_digest("ann@example.com") != digest


def test_erasure_removes_every_trace_of_the_customer_and_nobody_else():
    anon = storefront_identity("erase-me")
    record_cart(cart((1, 11, 1), at=0, anonymous_id=anon, token="tok-e", customer_id=3))
    record_order(order(customer_id=3, email="gone@example.com", checkout_token="tok-e"))
    record_order(order(order_id="o-guest", email="gone@example.com"))
    record_order(order(order_id="o-other", customer_id=99, email="stay@example.com"))
    RecommendationList.objects.create(
        kind=ListKind.PERSONAL,
        subject_type=SubjectType.CUSTOMER,
        subject_id=3,
        channel="c",
        entries=[],
        generated_at=T0,
    )

    report = erase_customer(3, "gone@example.com")

    assert report.deleted["interactions"] == 5
    assert not Interaction.objects.filter(customer_id=3).exists()
    assert not Interaction.objects.filter(anonymous_id=email_identity("gone@example.com")).exists()
    assert not CartState.objects.filter(token="tok-e").exists()
    assert not CustomerProfile.objects.filter(customer_id=3).exists()
    assert not AnonymousIdentity.objects.filter(customer_id=3).exists()
    assert not RecommendationList.objects.filter(subject_id=3).exists()
    assert Interaction.objects.filter(customer_id=99).count() == 2
    assert CustomerProfile.objects.filter(customer_id=99).exists()


def test_snapshot_payload_round_trips():
    snapshot = order(customer_id=1, email="x@example.com", checkout_token="t")
    assert OrderSnapshot.from_payload(snapshot.to_payload()) == snapshot
    c = cart((1, 11, 1), at=0, email="x@example.com", anonymous_id="s:1")
    assert CartSnapshot.from_payload(c.to_payload()) == c


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("abc-123_x.y", True),
        ("a" * 64, True),
        ("", False),
        ("a" * 65, False),
        ("has space", False),
        ("é", False),
    ],
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
    anon = storefront_identity("browser-1")
    Interaction.objects.create(
        anonymous_id=anon,
        product_id=5,
        kind=InteractionKind.VIEW,
        occurred_at=T0,
        source_key="view-1",
    )
    assert link_checkout("tok-link", anon) == 0
    record_cart(cart((5, 51, 1), at=0, token="tok-link", customer_id=21))
    record_order(order(order_id="o-link", customer_id=21, checkout_token="tok-link"))
    assert Interaction.objects.get(source_key="view-1").customer_id == 21


def test_the_add_that_created_a_guest_checkout_joins_the_visitor_it_is_linked_to():
    """Found on a running shop: the first cart add stayed under the checkout's id, so
    the visitor's session never saw it."""
    record_cart(cart((5, 51, 1), at=0, token="tok-first"))
    added = Interaction.objects.get(kind=InteractionKind.ADD_TO_CART)
    assert added.anonymous_id == checkout_identity("tok-first")
    anon = storefront_identity("visitor-first")
    assert link_checkout("tok-first", anon) == 0  # a guest's: nothing merged into an account
    added.refresh_from_db()
    assert (added.customer_id, added.anonymous_id) == (None, anon)


def test_a_guest_checkout_given_to_an_account_at_completion_keeps_its_history():
    """Saleor completes a guest checkout under the account whose address was typed."""
    anon = storefront_identity("typed-someone-elses-email")
    Interaction.objects.create(
        anonymous_id=anon, product_id=5, kind=InteractionKind.VIEW, occurred_at=T0, source_key="v-x"
    )
    link_checkout("tok-x", anon)
    record_cart(cart((5, 51, 1), at=0, token="tok-x", email="owner@example.com"))
    record_order(
        order(order_id="o-x", customer_id=22, email="owner@example.com", checkout_token="tok-x")
    )
    # The order is the account's, as Saleor says; the guest's browsing is not.
    assert Interaction.objects.filter(customer_id=22, kind=InteractionKind.PURCHASE).count() == 2
    assert Interaction.objects.get(source_key="v-x").customer_id is None
    assert not Interaction.objects.filter(customer_id=22, kind=InteractionKind.ADD_TO_CART).exists()
    assert not AnonymousIdentity.objects.filter(customer_id=22).exists()


def test_linking_a_checkout_of_a_known_customer_merges_at_once():
    anon = storefront_identity("browser-2")
    Interaction.objects.create(
        anonymous_id=anon, product_id=5, kind=InteractionKind.VIEW, occurred_at=T0, source_key="v2"
    )
    assert link_checkout("tok-2", anon, customer_id=22) == 1
    assert link_checkout("tok-2", anon, customer_id=22) == 0
