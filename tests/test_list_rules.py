"""The shopper-facing rules hold on every list a shopper is served.

One small shop where product 5 sits on every list there is: each served list kind
(storefront queries and the abandoned-cart email alike) must leave it out while the
customer's purchase of it is recent, and show it again once customers reorder it (or
the customer has bought it in two orders).
"""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from saleor_personalization.configuration import PersonalizationConfig
from saleor_personalization.emails.delivery import recommendations_for
from saleor_personalization.models import (
    CartState,
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemChannel,
    ItemProfile,
    ListEntry,
    ListKind,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.recommender import serving
from saleor_personalization.standalone.email_source import StandaloneCheckoutSource

pytestmark = pytest.mark.django_db

CHANNEL = "rules-channel"
CUSTOMER = 1
BOUGHT = 5
CATEGORY = 7
CONFIG = PersonalizationConfig()
SHOPPER = serving.Shopper(customer_id=CUSTOMER)


def _list(kind, entries, subject_type=SubjectType.NONE, subject_id=0, **key):
    row = RecommendationList(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        generated_at=timezone.now(),
        **key,
    )
    row.set_ranked([ListEntry(p, score=1.0 / (k + 1), reason="r") for k, p in enumerate(entries)])
    row.save()


@pytest.fixture
def shop():
    now = timezone.now()
    for pk in range(1, 21):
        ItemProfile.objects.create(
            product_id=pk,
            name=f"Product {pk}",
            category_id=CATEGORY if pk % 2 else None,
            price_amount=Decimal(5),
            currency="EUR",
            created_at=now - timedelta(days=pk),
        )
        ItemChannel.objects.create(item_id=pk, channel=CHANNEL, price_amount=Decimal(5))
    CustomerProfile.objects.create(customer_id=CUSTOMER, country="GB")
    for product, kind, days_ago in (
        (BOUGHT, InteractionKind.PURCHASE, 2),
        (BOUGHT, InteractionKind.VIEW, 3),
        (15, InteractionKind.VIEW, 1),
    ):
        Interaction.objects.create(
            customer_id=CUSTOMER,
            product_id=product,
            channel=CHANNEL,
            kind=kind,
            basket_ref="o-1" if kind == InteractionKind.PURCHASE else "",
            occurred_at=now - timedelta(days=days_ago),
            source_key=f"rules-{kind}-{product}",
        )
    customer = {"subject_type": SubjectType.CUSTOMER, "subject_id": CUSTOMER}
    _list(ListKind.PERSONAL, [BOUGHT, 6, 7], **customer)
    _list(ListKind.BUY_AGAIN, [BOUGHT, 17, 18], **customer)
    _list(ListKind.SIMILAR, [BOUGHT, 8], SubjectType.PRODUCT, 2)
    _list(ListKind.BOUGHT_TOGETHER, [BOUGHT, 9], SubjectType.PRODUCT, 3)
    _list(ListKind.BOUGHT_TOGETHER, [10, BOUGHT], SubjectType.PRODUCT, 4)
    _list(ListKind.BOUGHT_TOGETHER, [9, 16], SubjectType.PRODUCT, BOUGHT)
    _list(ListKind.TRENDING, [BOUGHT, 11], channel=CHANNEL)
    _list(ListKind.TRENDING, [BOUGHT, 13], SubjectType.CATEGORY, CATEGORY, channel=CHANNEL)
    _list(ListKind.POPULAR, [BOUGHT, 12], channel=CHANNEL)
    _list(ListKind.POPULAR, [BOUGHT, 14], SubjectType.COUNTRY, country="GB", channel=CHANNEL)


def _ids(items) -> list[int]:
    return [item.product_id for item in items]


def _without_personal_list() -> list[int]:
    RecommendationList.objects.filter(kind=ListKind.PERSONAL).delete()
    return _ids(serving.personalized(SHOPPER, CHANNEL, 10, CONFIG))


def _email() -> list[int]:
    source = StandaloneCheckoutSource()
    return _ids(recommendations_for([3], CUSTOMER, CHANNEL, 5, CONFIG, source))


SERVED: dict[str, Callable[[], list[int]]] = {
    "personalized": lambda: _ids(serving.personalized(SHOPPER, CHANNEL, 10, CONFIG)),
    "personalized_fallback": _without_personal_list,
    "personalized_mixed": lambda: _ids(
        serving.personalized(SHOPPER, CHANNEL, 10, CONFIG, discovery_share=0.5)
    ),
    "buy_again": lambda: _ids(serving.buy_again(SHOPPER, CHANNEL, 10, CONFIG)),
    "similar": lambda: _ids(serving.similar(2, CHANNEL, 10, CONFIG, SHOPPER)),
    "bought_together_product": lambda: _ids(
        serving.bought_together([3], CHANNEL, 10, CONFIG, SHOPPER)
    ),
    "bought_together_checkout": lambda: _ids(
        serving.bought_together([3, 4], CHANNEL, 10, CONFIG, SHOPPER)
    ),
    "trending": lambda: _ids(serving.trending(CHANNEL, 10, CONFIG, shopper=SHOPPER)),
    "trending_category": lambda: _ids(
        serving.trending(CHANNEL, 10, CONFIG, category_id=CATEGORY, shopper=SHOPPER)
    ),
    "recently_viewed": lambda: _ids(serving.recently_viewed(SHOPPER, CHANNEL, 10, CONFIG)),
    "rerank": lambda: _ids(serving.rerank(SHOPPER, [15, BOUGHT, 16], CHANNEL, CONFIG)),
    "abandoned_cart_email": _email,
}


# "For you" is discovery: nothing the customer ever bought, reordered or not.
DISCOVERY = {"personalized", "personalized_fallback"}


@pytest.mark.parametrize("served", SERVED, ids=list(SERVED))
def test_a_recent_purchase_is_left_out_unless_customers_reorder_it(shop, served):
    shown = SERVED[served]()
    assert shown, "the list must have something to show, or the absence proves nothing"
    assert BOUGHT not in shown

    _list(ListKind.REORDER, [BOUGHT])
    assert (BOUGHT in SERVED[served]()) is (served not in DISCOVERY)


@pytest.mark.parametrize("served", SERVED, ids=list(SERVED))
def test_a_recent_purchase_the_customer_reorders_stays(shop, served):
    """Bought in two orders, the product is one this customer buys again: it stays in
    view right after the second purchase, as on lists the writer ranks."""
    assert BOUGHT not in SERVED[served]()
    Interaction.objects.create(
        customer_id=CUSTOMER,
        product_id=BOUGHT,
        channel=CHANNEL,
        kind=InteractionKind.PURCHASE,
        basket_ref="o-0",
        occurred_at=timezone.now() - timedelta(days=60),
        source_key="rules-earlier-order",
    )
    assert (BOUGHT in SERVED[served]()) is (served not in DISCOVERY)


# A product each list shows, to put in the cart (discovery shows no purchase).
IN_LIST = {"personalized": 6, "personalized_fallback": 14}


@pytest.mark.parametrize("served", SERVED, ids=list(SERVED))
def test_the_cart_is_left_out_of_every_list(shop, served):
    _list(ListKind.REORDER, [BOUGHT])
    product = IN_LIST.get(served, BOUGHT)
    assert product in SERVED[served]()
    CartState.objects.create(token="open", customer_id=CUSTOMER, lines={"v": [product, 1]})
    assert product not in SERVED[served]()


def test_for_you_never_shows_a_purchase_through_the_session_or_the_bestsellers(shop):
    """Found on a running shop: the bestsellers that fill a short list and the session's
    neighbours brought back products the customer had bought."""
    Interaction.objects.filter(kind=InteractionKind.PURCHASE).update(
        occurred_at=timezone.now() - timedelta(days=CONFIG.recently_bought_days + 1)
    )
    _list(ListKind.REORDER, [BOUGHT])
    for served in DISCOVERY:
        shown = SERVED[served]()
        assert shown
        assert BOUGHT not in shown


def test_every_serving_function_is_checked_above():
    """A new list kind served without a case here fails, not slips past the rules."""
    public = {
        name
        for name, value in vars(serving).items()
        if callable(value)
        and getattr(value, "__module__", "") == serving.__name__
        and not name.startswith("_")
    }
    assert {"personalized", "similar", "bought_together", "trending", "rerank"} <= public
    uncovered = {name for name in public if not any(case.startswith(name) for case in SERVED)}
    assert not uncovered


def test_a_purchase_older_than_the_window_is_shown_again(shop):
    Interaction.objects.filter(kind=InteractionKind.PURCHASE).update(
        occurred_at=timezone.now() - timedelta(days=CONFIG.recently_bought_days + 1)
    )
    assert BOUGHT in SERVED["personalized_mixed"]()  # from the "buy again" places
    assert BOUGHT in SERVED["buy_again"]()
    assert BOUGHT not in SERVED["personalized"]()
