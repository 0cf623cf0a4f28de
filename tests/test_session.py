"""Session context, neighbours and the session blend (issue 13), on PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from saleor_personalization.models import (
    CartState,
    Interaction,
    InteractionKind,
    ItemNeighbours,
    ItemProfile,
    ListKey,
    ListKind,
    ModelRunStatus,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.recommender.activity import read_activity, read_session
from saleor_personalization.recommender.neighbours import (
    NeighbourParams,
    neighbour_lists,
    place_new_product,
    read_neighbours,
    write_neighbours,
)
from saleor_personalization.recommender.pipeline import live_model, start_run, train_run
from saleor_personalization.recommender.session import (
    SessionContext,
    SessionEvent,
    SessionSettings,
    blend,
    context_from_events,
    session_list,
)

from .shop import CATEGORIES, CHANNEL, END, FAST, build_shop

pytestmark = pytest.mark.django_db


def _event(n, kind, minutes_ago, *, customer=None, anonymous="", product=1):
    return Interaction(
        customer_id=customer,
        anonymous_id=anonymous,
        product_id=product,
        kind=kind,
        occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
        source_key=f"t:{n}",
    )


# The context reader ---------------------------------------------------------------------


def test_session_is_read_in_one_query_newest_first_and_bounded():
    now = timezone.now()
    rows = [
        _event(1, InteractionKind.VIEW, 5, anonymous="s:a", product=11),
        _event(2, InteractionKind.VIEW, 4, anonymous="s:a", product=12),
        _event(3, InteractionKind.ADD_TO_CART, 3, anonymous="s:a", product=13),
        _event(4, InteractionKind.VIEW, 60 * 30, anonymous="s:a", product=14),  # too old
        _event(5, InteractionKind.VIEW, 2, anonymous="s:b", product=15),  # someone else
        _event(6, InteractionKind.RECOMMENDATION_CLICK, 1, anonymous="s:a", product=16),
    ]
    Interaction.objects.bulk_create(rows)
    settings = SessionSettings(max_events=20, hours=24)
    with CaptureQueriesContext(connection) as queries:
        context = read_session(customer_id=None, anonymous_id="s:a", settings=settings, now=now)
    assert len(queries) == 1
    assert context.product_ids == [13, 12, 11]
    assert context.products[0].kind == InteractionKind.ADD_TO_CART
    assert context.products[0].weight > context.products[1].weight > context.products[2].weight

    short = read_session(
        customer_id=None, anonymous_id="s:a", settings=SessionSettings(max_events=2), now=now
    )
    assert short.product_ids == [13, 12]
    off = read_session(
        customer_id=None, anonymous_id="s:a", settings=SessionSettings(enabled=False), now=now
    )
    assert not off


def _purchase(n, days_ago, *, customer, product, basket):
    event = _event(n, InteractionKind.PURCHASE, days_ago * 24 * 60, customer=customer)
    event.product_id, event.basket_ref = product, basket
    return event


def test_cart_purchases_and_session_are_read_in_one_query():
    """What every answer needs of the shopper (their carts, what they bought, their
    session) is one round trip, and each part keeps its own bounds and owner."""
    now = timezone.now()
    Interaction.objects.bulk_create(
        [
            _purchase(1, 90, customer=7, product=31, basket="o1"),
            _purchase(2, 40, customer=7, product=31, basket="o2"),
            _purchase(3, 2, customer=7, product=32, basket="o3"),
            _purchase(4, 2, customer=8, product=33, basket="o4"),  # someone else
            _event(5, InteractionKind.VIEW, 30, customer=7, product=34),
            _event(6, InteractionKind.VIEW, 20, anonymous="s:c", product=35),
            _event(7, InteractionKind.VIEW, 60 * 30, customer=7, product=36),  # too old
        ]
    )
    CartState.objects.create(
        token="open", customer_id=7, lines={"v1": [41, 1], "v2": [42, 2]}, last_change_at=now
    )
    CartState.objects.create(
        token="done", customer_id=7, lines={"v3": [43, 1]}, last_change_at=now, completed_at=now
    )
    CartState.objects.create(token="other", customer_id=8, lines={"v4": [44, 1]})
    settings = SessionSettings(max_events=20, hours=24)
    with CaptureQueriesContext(connection) as queries:
        activity = read_activity(7, "s:c", session=settings, now=now)
    assert len(queries) == 1
    assert activity.cart == {41, 42}
    assert set(activity.purchases) == {31, 32}
    assert activity.purchases[31].orders == 2
    assert activity.bought(30, now=now) == {32}
    # The session: the last 24 hours (the purchase 2 days ago is not in it), the
    # anonymous id's views too.
    assert activity.session().product_ids == [35, 34]

    nothing = read_activity(7, cart=False, purchases=False, session=None)
    assert nothing.cart == frozenset()
    assert not nothing.purchases
    assert not nothing.events
    with CaptureQueriesContext(connection) as queries:
        assert not read_activity(None, "", session=settings).purchases
    assert len(queries) == 0


def test_a_visitors_purchases_are_what_their_completed_checkouts_held():
    """A guest's order is recorded under their address; the storefront's id knows it by
    the checkout it completed."""
    now = timezone.now()
    for token, lines, completed in (
        ("paid-1", {"v1": [61, 1], "v2": [62, 1]}, now - timedelta(days=40)),
        ("paid-2", {"v1": [61, 2]}, now - timedelta(days=1)),
        ("open", {"v3": [63, 1]}, None),
    ):
        CartState.objects.create(
            token=token, anonymous_id="s:v", lines=lines, completed_at=completed
        )
    activity = read_activity(None, "s:v")
    assert activity.cart == {63}
    assert set(activity.purchases) == {61, 62}
    assert activity.purchases[61].orders == 2
    assert activity.bought(30, now=now) == {61}


def test_a_recent_purchase_is_left_out_unless_reordered():
    """The recent-purchase rule as every list applies it: a product bought in the last
    N days is left out, unless the shopper bought it in two or more orders; products
    bought longer ago stay (discovery leaves out everything owned, separately)."""
    from saleor_personalization.configuration import PersonalizationConfig
    from saleor_personalization.recommender import serving
    from saleor_personalization.recommender.rules import ShopperRules

    Interaction.objects.bulk_create(
        [
            _purchase(1, 3, customer=9, product=51, basket="a"),
            _purchase(2, 2, customer=9, product=52, basket="a"),
            _purchase(3, 1, customer=9, product=52, basket="b"),
            _purchase(4, 60, customer=9, product=53, basket="c"),
        ]
    )
    config = PersonalizationConfig(recently_bought_days=30)
    rules = ShopperRules(serving.Shopper(customer_id=9), CHANNEL, config)
    assert rules.excluded == {51}
    assert rules.owned == {51, 52, 53}


def test_a_customers_session_includes_what_they_did_before_signing_in():
    Interaction.objects.bulk_create(
        [
            _event(1, InteractionKind.VIEW, 10, anonymous="s:c", product=21),
            _event(2, InteractionKind.PURCHASE, 5, customer=7, product=22),
            _event(3, InteractionKind.VIEW, 3, customer=8, product=23),
        ]
    )
    context = read_session(customer_id=7, anonymous_id="s:c", settings=SessionSettings())
    assert context.product_ids == [22, 21]


def test_a_removal_takes_back_an_add():
    context = context_from_events(
        [
            SessionEvent(31, InteractionKind.REMOVE_FROM_CART),
            SessionEvent(31, InteractionKind.ADD_TO_CART),
            SessionEvent(32, InteractionKind.REMOVE_FROM_CART),
            SessionEvent(33, InteractionKind.VIEW),
        ]
    )
    weights = {p.product_id: p.weight for p in context.products}
    assert 32 not in weights  # removed without an add: nothing left of it
    assert weights[31] == pytest.approx(1.0)  # added and removed: a view's weight


def test_a_product_added_then_bought_is_explained_as_bought():
    """The explanation names the furthest the shopper went with a product, though an
    add weighs more than a purchase as a sign of interest now."""
    context = context_from_events(
        [
            SessionEvent(41, InteractionKind.PURCHASE),
            SessionEvent(41, InteractionKind.ADD_TO_CART),
            SessionEvent(41, InteractionKind.VIEW),
            SessionEvent(42, InteractionKind.ADD_TO_CART),
            SessionEvent(42, InteractionKind.VIEW),
        ]
    )
    kinds = {p.product_id: p.kind for p in context.products}
    assert kinds == {41: InteractionKind.PURCHASE, 42: InteractionKind.ADD_TO_CART}


# The blend ------------------------------------------------------------------------------

BASE = [{"product_id": p, "score": 10 - p, "reason": "Bestseller"} for p in range(1, 9)]
NEIGHBOURS = {100: [(7, 1.0), (8, 0.8), (200, 0.5)], 101: [(8, 1.0)]}
VIEWED = context_from_events([SessionEvent(100, "view"), SessionEvent(101, "view")])


def test_blend_lifts_neighbours_of_what_was_viewed_and_says_why():
    out = blend(BASE, VIEWED, NEIGHBOURS, weight=0.9, names={100: "Red spade", 101: "Rake"})
    ids = [e.product_id for e in out]
    assert ids[:3] == [8, 7, 200]
    # 8: Rake (viewed before, 0.85 x 1.0) lifts it more than Red spade (1.0 x 0.8) does.
    assert out[0].reason == "Because you viewed Rake"
    assert out[1].reason == "Because you viewed Red spade"
    assert out[2].source == "session"
    assert {e.reason for e in out[3:]} == {"Bestseller"}
    assert 100 not in ids
    assert 101 not in ids


def test_blend_without_context_or_weight_keeps_the_list():
    assert [e.product_id for e in blend(BASE, SessionContext(), NEIGHBOURS, weight=0.9)] == list(
        range(1, 9)
    )
    kept = blend(BASE, VIEWED, NEIGHBOURS, weight=0.0)
    assert [e.product_id for e in kept] == list(range(1, 9))


def test_the_session_switched_off_serves_the_base_list_unchanged():
    off = session_list(BASE, VIEWED, NEIGHBOURS, SessionSettings(enabled=False), personal=False)
    assert [(e.product_id, e.reason) for e in off] == [(p, "Bestseller") for p in range(1, 9)]


def test_a_personal_list_keeps_its_order_against_a_weak_session():
    out = session_list(BASE, VIEWED, NEIGHBOURS, SessionSettings(weight=0.2), personal=True)
    ids = [e.product_id for e in out]
    assert ids[:2] == [1, 2]  # the customer's best stay on top...
    assert ids.index(8) < 7  # ...what the session lifts moves up behind them
    assert 200 in ids


# Neighbours from the live model --------------------------------------------------------


@pytest.fixture
def live(media):
    build_shop()
    run = train_run(start_run(FAST))
    assert run.status == ModelRunStatus.SUCCEEDED, run.error
    return live_model()


def test_neighbours_are_mostly_of_the_same_category_and_stored_small(live):
    run, model = live
    lists = neighbour_lists(model, NeighbourParams(size=10))
    assert len(lists) == len(model.item_ids)
    same = [sum(p // 100 == a // 100 for p, _ in items) / len(items) for a, items in lists.items()]
    assert sum(same) / len(same) > 0.6
    write_neighbours(run, model, NeighbourParams(size=10))
    stored = read_neighbours([101, 205])
    assert set(stored) == {101, 205}
    assert all(len(items) <= 10 for items in stored.values())
    assert stored[101] == [(p, pytest.approx(w, abs=1e-5)) for p, w in lists[101]]


def test_a_new_product_gets_neighbours_from_its_features_without_training(live):
    run, model = live
    write_neighbours(run, model)
    name, words = CATEGORIES[2]
    ItemProfile.objects.create(
        product_id=999,
        name="Green spade",
        category_id=2,
        category_path=[name, "Spade"],
        product_type="Spade",
        created_at=timezone.now(),
    )
    placed = place_new_product(run, model, 999)
    assert placed is not None
    assert placed.neighbours > 0
    own = read_neighbours([999])[999]
    assert [p // 100 for p, _ in own[:5]].count(2) >= 4
    assert ItemNeighbours.objects.get(product_id=999).from_features
    # ...and it is now a neighbour of the garden products it is closest to.
    assert placed.joined_neighbours > 0
    closest = own[0][0]
    assert 999 in [p for p, _ in read_neighbours([closest])[closest]]
    # Its own product page has a "similar" list at once, explained by its name.
    similar = RecommendationList.read(ListKey.of(ListKind.SIMILAR, SubjectType.PRODUCT, 999))
    assert [e.product_id for e in similar[:5]] == [p for p, _ in own[:5]]
    assert {e.reason for e in similar} == {"Similar to Green spade"}
    # A product the model was trained on keeps the neighbours of its training.
    assert place_new_product(run, model, int(model.item_ids[0])) is None


# Serving: the session through the shopper rules ----------------------------------------


@pytest.fixture
def scored(live):
    from saleor_personalization.recommender.pipeline import score_lists

    score_lists(now=END)
    assert ItemNeighbours.objects.count() > 0
    return live


def _views(shopper_id: str, products) -> None:
    Interaction.objects.bulk_create(
        [
            _event(
                f"{shopper_id}-{k}", InteractionKind.VIEW, 10 - k, anonymous=shopper_id, product=p
            )
            for k, p in enumerate(products)
        ]
    )


def test_an_anonymous_session_bends_the_bestsellers_through_the_rules(scored):
    from saleor_personalization.configuration import PersonalizationConfig
    from saleor_personalization.models import CartState
    from saleor_personalization.recommender import serving

    config = PersonalizationConfig()
    shopper = serving.Shopper(anonymous_id="s:visitor")
    before = serving.personalized(shopper, CHANNEL, 10, config)
    assert {item.reason for item in before} <= {"Bestseller"}

    garden = [201, 204, 207]
    _views("s:visitor", garden)
    after = serving.personalized(shopper, CHANNEL, 10, config)
    ids = [item.product_id for item in after]
    assert ids != [item.product_id for item in before]
    assert not set(garden) & set(ids)
    assert [p // 100 for p in ids[:5]].count(2) >= 3  # the diversity rule allows three
    names = set(ItemProfile.objects.filter(product_id__in=garden).values_list("name", flat=True))
    because = [i.reason.removeprefix("Because you viewed ") for i in after if "viewed" in i.reason]
    assert because
    assert set(because) <= names

    # Switched off: the list is what it was before the session.
    off = PersonalizationConfig(session_weight=0)
    assert serving.personalized(shopper, CHANNEL, 10, off) == before

    # What the session lifts is still left out when it is in the cart.
    lifted = next(i.product_id for i in after if "viewed" in i.reason)
    CartState.objects.create(
        token="cart-1",
        anonymous_id="s:visitor",
        lines={"v1": [lifted, 1]},
        last_change_at=timezone.now(),
    )
    assert lifted not in [i.product_id for i in serving.personalized(shopper, CHANNEL, 10, config)]


def test_rerank_moves_the_sessions_neighbours_up_without_adding_or_dropping(scored):
    from saleor_personalization.configuration import PersonalizationConfig
    from saleor_personalization.recommender import serving

    page = [101, 102, 103, 301, 302, 303, 201, 202, 203]
    shopper = serving.Shopper(anonymous_id="s:reranker")
    assert [
        i.product_id for i in serving.rerank(shopper, page, CHANNEL, PersonalizationConfig())
    ] == page
    _views("s:reranker", [204, 205, 206])
    reranked = [
        i.product_id for i in serving.rerank(shopper, page, CHANNEL, PersonalizationConfig())
    ]
    assert sorted(reranked) == sorted(page)
    assert [p // 100 for p in reranked[:3]] == [2, 2, 2]


def test_buy_again_follows_the_session_among_the_customers_own_products(scored):
    """Viewing toys moves the toy a kitchen customer once bought up their "buy again"
    list, says why, and brings in nothing they never bought."""
    from saleor_personalization.configuration import PersonalizationConfig
    from saleor_personalization.recommender import serving
    from saleor_personalization.recommender.activity import read_activity

    config = PersonalizationConfig(session_weight=0.5)
    for customer in range(1, 241):
        shopper = serving.Shopper(customer_id=customer)
        before = [i.product_id for i in serving.buy_again(shopper, CHANNEL, 10, config)]
        favourite = 1 + customer % 3
        others = [k for k, p in enumerate(before) if p // 100 != favourite and k >= 3]
        if others:
            break
    else:
        pytest.fail("no customer has a product of another category low on their list")
    stray = before[others[0]]
    owned = set(read_activity(customer).purchases)
    viewed = [p for p in range(stray // 100 * 100, stray // 100 * 100 + 21) if p not in owned][:3]
    Interaction.objects.bulk_create(
        [
            _event(f"b{k}", InteractionKind.VIEW, 5 - k, customer=customer, product=p)
            for k, p in enumerate(viewed)
        ]
    )
    after = serving.buy_again(shopper, CHANNEL, 10, config)
    ids = [i.product_id for i in after]
    assert set(ids) <= owned
    assert ids.index(stray) < others[0]
    assert any(i.reason.startswith("Because you viewed") for i in after if i.product_id == stray)
    # Switched off, the list is what it was.
    off = PersonalizationConfig(session_weight=0)
    assert [i.product_id for i in serving.buy_again(shopper, CHANNEL, 10, off)] == before


def test_a_customer_without_a_list_gets_the_fallback_following_the_session_as_a_visitor(scored):
    """Found on a running shop: a signed-in customer with no orders who viewed two
    products got only "Because you viewed" items at the personal weight, the
    bestsellers pushed below them."""
    from saleor_personalization.configuration import PersonalizationConfig
    from saleor_personalization.recommender import serving

    config = PersonalizationConfig()
    viewed = [201, 204]
    _views("s:same-views", viewed)
    Interaction.objects.bulk_create(
        [
            _event(f"new-{k}", InteractionKind.VIEW, 10 - k, customer=9999, product=p)
            for k, p in enumerate(viewed)
        ]
    )
    visitor = serving.personalized(
        serving.Shopper(anonymous_id="s:same-views"), CHANNEL, 10, config
    )
    customer = serving.personalized(serving.Shopper(customer_id=9999), CHANNEL, 10, config)
    assert {i.reason for i in visitor} & {"Bestseller"}
    assert [(i.product_id, i.reason) for i in customer] == [
        (i.product_id, i.reason) for i in visitor
    ]


def test_a_new_variant_of_a_known_product_finds_that_product_first(live):
    """A new product is compared with the known products' vectors made from shared
    features, as its own is: a variant with a known product's features is placed next to
    that product (the full vectors, holding each product's id embedding, missed some)."""
    run, model = live
    write_neighbours(run, model)
    known = list(ItemProfile.objects.filter(product_id__in=model.item_ids.tolist())[:12])
    for offset, profile in enumerate(known):
        variant = ItemProfile.objects.get(pk=profile.pk)  # every feature the same
        variant.product_id, variant.created_at = 5000 + offset, timezone.now()
        variant.save(force_insert=True)
    for offset, profile in enumerate(known):
        assert place_new_product(run, model, 5000 + offset) is not None
        weights = dict(read_neighbours([5000 + offset])[5000 + offset])
        # First, or tied for first with products of the very same features.
        assert weights.get(profile.product_id) == max(weights.values())
