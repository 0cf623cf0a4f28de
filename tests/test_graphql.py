"""The GraphQL API in standalone mode: queries, mutations, errors, rights, limits."""

import base64
import functools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from saleor_personalization.events.attribution import recommendation_id
from saleor_personalization.events.erasure import erase_customer
from saleor_personalization.graphql.cost import query_cost
from saleor_personalization.graphql.ids import served_recommendation_id
from saleor_personalization.models import (
    CartState,
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemChannel,
    ItemProfile,
    ListKind,
    ModelRun,
    ModelRunStatus,
    RecommendationClick,
    RecommendationList,
    Segment,
    SegmentMembership,
    SegmentOffer,
    SubjectType,
)
from saleor_personalization.standalone.graphql_backend import issue_token

pytestmark = pytest.mark.django_db

CHANNEL = "default-channel"
ITEMS = "items { product { id name } reason source recommendationId score } warnings"


def gid(kind: str, pk: int) -> str:
    return base64.b64encode(f"{kind}:{pk}".encode()).decode()


@pytest.fixture(autouse=True)
def shop():
    cache.clear()
    now = timezone.now()
    for pk in range(1, 31):
        item = ItemProfile.objects.create(
            product_id=pk,
            name=f"Product {pk}",
            category_id=100 + pk % 5,
            price_amount=Decimal("9.50"),
            currency="GBP",
            created_at=now,
        )
        ItemChannel.objects.create(item=item, channel=CHANNEL, is_available=pk != 30, in_stock=True)

    def entries(ids):
        return [{"product_id": p, "score": 1.0 / (k + 1), "reason": "r"} for k, p in enumerate(ids)]

    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.PERSONAL,
        subject_type=SubjectType.CUSTOMER,
        subject_id=1,
        entries=entries([30, 2, 3, 4, 5, 6]),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.PERSONAL,
        subject_type=SubjectType.CUSTOMER,
        subject_id=2,
        entries=entries([20, 21, 22]),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.BUY_AGAIN,
        subject_type=SubjectType.CUSTOMER,
        subject_id=2,
        entries=entries([24, 25, 30, 26]),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.POPULAR,
        channel=CHANNEL,
        entries=entries(range(10, 30)),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.SIMILAR,
        subject_type=SubjectType.PRODUCT,
        subject_id=2,
        entries=entries([7, 8, 2]),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.BOUGHT_TOGETHER,
        subject_type=SubjectType.PRODUCT,
        subject_id=2,
        entries=entries([9, 11]),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.BOUGHT_TOGETHER,
        subject_type=SubjectType.PRODUCT,
        subject_id=3,
        entries=entries([12, 9]),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.TRENDING,
        channel=CHANNEL,
        entries=entries([15, 16, 17]),
    )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.TRENDING,
        subject_type=SubjectType.CATEGORY,
        subject_id=101,
        channel=CHANNEL,
        entries=entries([16, 6]),
    )
    CartState.objects.create(token="cart-1", channel=CHANNEL, customer_id=1, lines={"v2": [2, 1]})
    CartState.objects.create(token="guest", channel=CHANNEL, lines={"v3": [3, 1]})
    segment = Segment.objects.create(key="repeat-buyers", name="Repeat buyers")
    SegmentMembership.objects.create(segment=segment, customer_id=1, entered_at=now)
    SegmentMembership.objects.create(segment=segment, customer_id=2, entered_at=now)


def gql(client, query, variables=None, token=None, **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = client.post(
        "/graphql/",
        {"query": query, "variables": variables or {}},
        content_type="application/json",
        **headers,
    )
    return response.status_code, response.json()


def codes(body) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


CUSTOMER_1 = issue_token(customer_id=1)
CUSTOMER_2 = issue_token(customer_id=2)
STAFF = issue_token(staff=True)


def products_of(body, field):
    return [base64.b64decode(i["product"]["id"]).decode() for i in body["data"][field]["items"]]


def test_personalized_products_for_a_customer_follow_their_list_and_the_rules(client):
    status, body = gql(
        client,
        f'{{ personalizedProducts(channel: "{CHANNEL}", first: 4) {{ {ITEMS} }} }}',
        token=CUSTOMER_1,
    )
    assert status == 200, body
    # 30 is unavailable in the channel, 2 is in the customer's cart: both left out.
    assert products_of(body, "personalizedProducts") == [
        "Product:3",
        "Product:4",
        "Product:5",
        "Product:6",
    ]
    item = body["data"]["personalizedProducts"]["items"][0]
    assert item["source"] == "personal"
    assert item["recommendationId"]


def test_customers_only_ever_get_their_own_list(client):
    _, mine = gql(
        client, f'{{ personalizedProducts(channel: "{CHANNEL}") {{ {ITEMS} }} }}', token=CUSTOMER_2
    )
    assert products_of(mine, "personalizedProducts")[:3] == [
        "Product:20",
        "Product:21",
        "Product:22",
    ]
    # No argument names another customer: an anonymous id is ignored once logged in.
    _, again = gql(
        client,
        f'{{ personalizedProducts(channel: "{CHANNEL}", anonymousId: "x1") {{ {ITEMS} }} }}',
        token=CUSTOMER_2,
    )
    assert products_of(again, "personalizedProducts") == products_of(mine, "personalizedProducts")


def test_buy_again_is_its_own_list_and_discovery_share_mixes_the_two(client):
    _, body = gql(
        client,
        f'{{ buyAgainProducts(channel: "{CHANNEL}", first: 3) {{ {ITEMS} }} }}',
        token=CUSTOMER_2,
    )
    # 30 is unavailable in the channel: left out as from every list.
    assert products_of(body, "buyAgainProducts") == ["Product:24", "Product:25", "Product:26"]
    assert {i["source"] for i in body["data"]["buyAgainProducts"]["items"]} == {"buy_again"}

    query = (
        f'{{ personalizedProducts(channel: "{CHANNEL}", first: 4, discoveryShare: 0.5) '
        f"{{ {ITEMS} }} }}"
    )
    _, mixed = gql(client, query, token=CUSTOMER_2)
    assert products_of(mixed, "personalizedProducts") == [
        "Product:20",
        "Product:24",
        "Product:21",
        "Product:25",
    ]
    # A quarter: every prefix as close to a quarter as whole places allow, so the
    # first place is the majority's.
    _, quarter = gql(client, query.replace("0.5", "0.25"), token=CUSTOMER_2)
    assert products_of(quarter, "personalizedProducts") == [
        "Product:24",
        "Product:20",
        "Product:25",
        "Product:26",
    ]
    # 0: buy again only, the very answer buyAgainProducts gives; its short list is not
    # filled up with discovery or bestsellers.
    _, only_again = gql(client, query.replace("0.5", "0"), token=CUSTOMER_2)
    _, again = gql(
        client,
        f'{{ buyAgainProducts(channel: "{CHANNEL}", first: 4) {{ {ITEMS} }} }}',
        token=CUSTOMER_2,
    )
    assert products_of(only_again, "personalizedProducts") == products_of(again, "buyAgainProducts")
    assert products_of(only_again, "personalizedProducts")[:3] == [
        "Product:24",
        "Product:25",
        "Product:26",
    ]

    _, anonymous = gql(client, f'{{ buyAgainProducts(channel: "{CHANNEL}") {{ {ITEMS} }} }}')
    assert anonymous["data"]["buyAgainProducts"]["items"] == []
    assert "not logged in" in anonymous["data"]["buyAgainProducts"]["warnings"][0]
    # The storefront snippet sends its anonymousId to every list: taken here too.
    _, visitor = gql(
        client,
        f'{{ buyAgainProducts(channel: "{CHANNEL}", anonymousId: "a1b2c3") {{ {ITEMS} }} }}',
    )
    assert "errors" not in visitor
    assert visitor["data"]["buyAgainProducts"]["items"] == []

    _, bad = gql(client, query.replace("0.5", "1.5"), token=CUSTOMER_2)
    assert codes(bad) == ["INVALID_ARGUMENT"]
    assert bad["errors"][0]["extensions"]["field"] == "discoveryShare"


def test_buy_again_before_any_model_is_what_the_customer_bought(client):
    for k, product in enumerate((7, 8, 7)):
        Interaction.objects.create(
            customer_id=3,
            product_id=product,
            channel=CHANNEL,
            kind=InteractionKind.PURCHASE,
            basket_ref=f"order-{k}",
            occurred_at=timezone.now() - timedelta(days=60 - k),
            source_key=f"buy-again-{k}",
        )
    _, body = gql(
        client,
        f'{{ buyAgainProducts(channel: "{CHANNEL}") {{ {ITEMS} }} }}',
        token=issue_token(customer_id=3),
    )
    assert products_of(body, "buyAgainProducts") == ["Product:7", "Product:8"]  # twice first
    assert body["data"]["buyAgainProducts"]["items"][0]["reason"] == "You bought this before"


def test_anonymous_shoppers_get_the_popular_list(client):
    _, body = gql(
        client, f'{{ personalizedProducts(channel: "{CHANNEL}", first: 3) {{ {ITEMS} }} }}'
    )
    assert products_of(body, "personalizedProducts") == ["Product:10", "Product:11", "Product:12"]
    assert {i["source"] for i in body["data"]["personalizedProducts"]["items"]} == {"popular"}


def test_first_out_of_range_is_capped_and_said_so_or_refused(client):
    _, body = gql(
        client, f'{{ personalizedProducts(channel: "{CHANNEL}", first: 500) {{ {ITEMS} }} }}'
    )
    assert body["data"]["personalizedProducts"]["warnings"] == [
        "first capped at 100 (asked for 500)."
    ]
    _, body = gql(
        client, f'{{ personalizedProducts(channel: "{CHANNEL}", first: 0) {{ {ITEMS} }} }}'
    )
    assert codes(body) == ["INVALID_ARGUMENT"]
    assert body["errors"][0]["extensions"]["field"] == "first"


def test_similar_bought_together_trending_and_rerank(client):
    query = f"""{{
      similar: similarProducts(product: "{gid("Product", 2)}", channel: "{CHANNEL}") {{ {ITEMS} }}
      fbt: frequentlyBoughtTogether(product: "{gid("Product", 2)}", channel: "{CHANNEL}")
        {{ {ITEMS} }}
      trending: trendingProducts(channel: "{CHANNEL}", first: 2) {{ {ITEMS} }}
      inCategory: trendingProducts(channel: "{CHANNEL}", category: "{gid("Category", 101)}")
        {{ {ITEMS} }}
      rerank: rerankProducts(
        products: ["{gid("Product", 9)}", "{gid("Product", 5)}", "{gid("Product", 3)}"],
        channel: "{CHANNEL}") {{ {ITEMS} }}
    }}"""
    status, body = gql(client, query, token=CUSTOMER_1)
    assert status == 200, body
    assert products_of(body, "similar") == ["Product:7", "Product:8"]
    assert products_of(body, "fbt") == ["Product:9", "Product:11"]
    assert products_of(body, "trending") == ["Product:15", "Product:16"]
    assert products_of(body, "inCategory") == ["Product:16", "Product:6"]
    # On the customer's list (3 before 5) first, then the storefront's order.
    assert products_of(body, "rerank") == ["Product:3", "Product:5", "Product:9"]

    # A product that no longer exists is left out, as a hidden one (30, unavailable in
    # the channel) is: the page still reranks, and neither answer tells which is which.
    status, body = gql(
        client,
        f"""{{ rerank: rerankProducts(channel: "{CHANNEL}", products: [
          "{gid("Product", 5)}", "{gid("Product", 99999)}", "{gid("Product", 30)}",
          "{gid("Product", 3)}"]) {{ {ITEMS} }} }}""",
        token=CUSTOMER_1,
    )
    assert "errors" not in body, body
    assert products_of(body, "rerank") == ["Product:3", "Product:5"]


def test_no_list_offers_the_cart_or_a_recent_purchase_unless_customers_reorder_it(client):
    now = timezone.now()
    for product, days_ago in ((8, 2), (16, 2), (7, 60)):
        Interaction.objects.create(
            customer_id=1,
            product_id=product,
            channel=CHANNEL,
            kind=InteractionKind.PURCHASE,
            occurred_at=now - timedelta(days=days_ago),
            source_key=f"rules-test-{product}",
        )
    RecommendationList.objects.create(
        generated_at=now,
        kind=ListKind.REORDER,
        entries=[{"product_id": 16, "score": 0.5, "reason": ""}],
    )
    query = f"""{{
      similar: similarProducts(product: "{gid("Product", 2)}", channel: "{CHANNEL}") {{ {ITEMS} }}
      fbt: frequentlyBoughtTogether(product: "{gid("Product", 3)}", channel: "{CHANNEL}")
        {{ {ITEMS} }}
      trending: trendingProducts(channel: "{CHANNEL}") {{ {ITEMS} }}
      rerank: rerankProducts(
        products: ["{gid("Product", 9)}", "{gid("Product", 2)}", "{gid("Product", 8)}",
                   "{gid("Product", 5)}"],
        channel: "{CHANNEL}") {{ {ITEMS} }}
    }}"""
    status, body = gql(client, query, token=CUSTOMER_1)
    assert status == 200, body
    # 8 was bought two days ago; 7 two months ago is fair game again.
    assert products_of(body, "similar") == ["Product:7"]
    assert products_of(body, "fbt") == ["Product:12", "Product:9"]
    # 16 was bought two days ago too, but customers reorder it.
    assert products_of(body, "trending") == ["Product:15", "Product:16", "Product:17"]
    # 2 is in the customer's cart, 8 a recent purchase.
    assert products_of(body, "rerank") == ["Product:5", "Product:9"]
    # Another customer, with no cart and no purchases, sees the lists whole.
    status, body = gql(client, query, token=CUSTOMER_2)
    assert products_of(body, "similar") == ["Product:7", "Product:8"]
    assert products_of(body, "rerank") == ["Product:9", "Product:2", "Product:8", "Product:5"]


def test_bought_together_for_a_checkout_belongs_to_its_owner(client):
    query = (
        f'{{ frequentlyBoughtTogether(checkout: "cart-1", channel: "{CHANNEL}") {{ {ITEMS} }} }}'
    )
    _, body = gql(client, query, token=CUSTOMER_1)
    assert products_of(body, "frequentlyBoughtTogether") == ["Product:9", "Product:11"]
    _, body = gql(client, query, token=CUSTOMER_2)
    assert codes(body) == ["NOT_FOUND"]
    _, body = gql(client, query)
    assert codes(body) == ["NOT_FOUND"]
    guest = f'{{ frequentlyBoughtTogether(checkout: "guest", channel: "{CHANNEL}") {{ {ITEMS} }} }}'
    _, body = gql(client, guest)
    assert products_of(body, "frequentlyBoughtTogether") == ["Product:12", "Product:9"]
    both = (
        f'{{ frequentlyBoughtTogether(checkout: "guest", product: "{gid("Product", 2)}", '
        f'channel: "{CHANNEL}") {{ {ITEMS} }} }}'
    )
    assert codes(gql(client, both)[1]) == ["INVALID_ARGUMENT"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ trendingProducts(channel: "nope") { warnings } }', "UNKNOWN_CHANNEL"),
        (
            f'{{ similarProducts(product: "garbage", channel: "{CHANNEL}") {{ warnings }} }}',
            "INVALID_ID",
        ),
        (
            f'{{ similarProducts(product: "{gid("Category", 2)}", channel: "{CHANNEL}") '
            "{ warnings } }",
            "INVALID_ID",
        ),
        (
            f'{{ similarProducts(product: "{gid("Product", 999)}", channel: "{CHANNEL}") '
            "{ warnings } }",
            "NOT_FOUND",
        ),
        (
            f'{{ frequentlyBoughtTogether(checkout: "missing", channel: "{CHANNEL}") '
            "{ warnings } }",
            "NOT_FOUND",
        ),
        (
            f'{{ personalizedProducts(channel: "{CHANNEL}", anonymousId: "bad id!") '
            "{ warnings } }",
            "INVALID_ARGUMENT",
        ),
        ("{ nothingHere }", "GRAPHQL_ERROR"),
        ("{ personalizedProducts(", "GRAPHQL_ERROR"),
    ],
)
def test_bad_input_gets_a_coded_error_and_no_stack_trace(client, query, code):
    status, body = gql(client, query)
    assert codes(body) == [code], body
    assert "Traceback" not in str(body)
    assert status in (200, 400)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("{ personalizationModelRuns(first: -1) { id } }", "first"),
        ("{ personalizationSegments { key sizes(days: -1) { date size } } }", "days"),
        (
            f'{{ rerankProducts(products: ["garbage"], channel: "{CHANNEL}") {{ warnings }} }}',
            "products",
        ),
    ],
)
def test_out_of_range_arguments_name_the_argument_sent(client, query, field):
    """Found on a running shop: first: -1 returned one run, days: -1 was taken, and a bad
    rerank id blamed an argument called "product"."""
    _, body = gql(client, query, token=STAFF)
    assert codes(body) in (["INVALID_ARGUMENT"], ["INVALID_ID"]), body
    assert body["errors"][0]["extensions"]["field"] == field, body


def test_recently_viewed_for_anonymous_and_customer_are_separate(client):
    track = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    for product in (4, 5):
        status, body = gql(
            client,
            track,
            {
                "input": {
                    "kind": "PRODUCT_VIEW",
                    "channel": CHANNEL,
                    "product": gid("Product", product),
                    "anonymousId": "guest-1",
                }
            },
        )
        assert body["data"]["trackEvent"]["recorded"] is True, body
    query = (
        f'{{ recentlyViewedProducts(channel: "{CHANNEL}", anonymousId: "guest-1") {{ {ITEMS} }} }}'
    )
    _, body = gql(client, query)
    assert products_of(body, "recentlyViewedProducts") == ["Product:5", "Product:4"]
    _, body = gql(client, query, token=CUSTOMER_2)  # logged in: their own views (none)
    assert products_of(body, "recentlyViewedProducts") == []
    _, body = gql(client, query.replace("guest-1", "guest-2"))
    assert products_of(body, "recentlyViewedProducts") == []


def test_a_storefront_id_of_64_characters_is_taken_and_65_refused(client):
    """Found on a running shop: ids of 49-64 characters were refused though the error
    and README said 1-64 (a SHA-256 in hex is 64)."""
    track = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    view = {"kind": "PRODUCT_VIEW", "channel": CHANNEL, "product": gid("Product", 4)}
    longest = "f" * 64
    body = gql(client, track, {"input": {**view, "anonymousId": longest}})[1]
    assert body["data"]["trackEvent"] == {"recorded": True}, body
    assert Interaction.objects.filter(anonymous_id=f"s:{longest}").count() == 1
    query = (
        f'{{ recentlyViewedProducts(channel: "{CHANNEL}", anonymousId: "{longest}") '
        f"{{ {ITEMS} }} }}"
    )
    assert products_of(gql(client, query)[1], "recentlyViewedProducts") == ["Product:4"]
    body = gql(client, track, {"input": {**view, "anonymousId": longest + "f"}})[1]
    assert codes(body) == ["INVALID_ARGUMENT"]


def test_anonymous_events_follow_the_dashboards_anonymous_switch(client, settings):
    """Found on a running shop: with "Also record anonymous shoppers" off, trackEvent
    still recorded a visitor's views."""
    settings.PERSONALIZATION_CONFIGURATION = {"track_anonymous": False}
    track = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    view = {"kind": "PRODUCT_VIEW", "channel": CHANNEL, "product": gid("Product", 4)}
    body = gql(client, track, {"input": {**view, "anonymousId": "visitor-off"}})[1]
    assert body["data"]["trackEvent"] == {"recorded": False}, body
    assert not Interaction.objects.filter(anonymous_id="s:visitor-off").exists()
    # A customer is still recorded.
    body = gql(client, track, {"input": view}, token=CUSTOMER_1)[1]
    assert body["data"]["trackEvent"] == {"recorded": True}, body


def test_track_event_is_validated_idempotent_and_rate_limited(client, settings):
    track = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    view = {
        "kind": "PRODUCT_VIEW",
        "channel": CHANNEL,
        "product": gid("Product", 3),
        "eventId": "e1",
    }
    assert gql(client, track, {"input": view}, token=CUSTOMER_1)[1]["data"]["trackEvent"] == {
        "recorded": True
    }
    assert gql(client, track, {"input": view}, token=CUSTOMER_1)[1]["data"]["trackEvent"] == {
        "recorded": False
    }
    assert Interaction.objects.filter(kind=InteractionKind.VIEW, customer_id=1).count() == 1
    # Neither logged in nor an anonymous id; a product that is not in the channel.
    assert codes(gql(client, track, {"input": {**view, "eventId": "e2"}})[1]) == [
        "INVALID_ARGUMENT"
    ]
    unavailable = {**view, "product": gid("Product", 30), "eventId": "e3"}
    assert codes(gql(client, track, {"input": unavailable}, token=CUSTOMER_1)[1]) == ["NOT_FOUND"]
    forged = {"kind": "RECOMMENDATION_CLICK", "channel": CHANNEL, "recommendationId": "x:y"}
    assert codes(gql(client, track, {"input": forged}, token=CUSTOMER_1)[1]) == ["INVALID_ID"]
    limit = 120  # the default "Tracked events per client per minute"
    recorded = 1
    for k in range(limit + 5):
        _, body = gql(client, track, {"input": {**view, "eventId": f"n{k}"}}, token=CUSTOMER_2)
        if codes(body) == ["RATE_LIMITED"]:
            break
        recorded += 1
    assert recorded == limit + 1  # customer 2's 120, after customer 1's 1
    # Another client is not affected.
    assert gql(client, track, {"input": {**view, "eventId": "other"}}, token=CUSTOMER_1)[1]["data"][
        "trackEvent"
    ] == {"recorded": True}


def test_clicks_are_attributed_to_orders_in_staff_stats(client):
    _, body = gql(
        client,
        f'{{ personalizedProducts(channel: "{CHANNEL}", first: 2) {{ {ITEMS} }} }}',
        token=CUSTOMER_1,
    )
    rid = body["data"]["personalizedProducts"]["items"][0]["recommendationId"]
    click = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    payload = {
        "input": {"kind": "RECOMMENDATION_CLICK", "channel": CHANNEL, "recommendationId": rid}
    }
    assert gql(client, click, payload, token=CUSTOMER_1)[1]["data"]["trackEvent"]["recorded"]
    assert not gql(client, click, payload, token=CUSTOMER_1)[1]["data"]["trackEvent"]["recorded"]
    Interaction.objects.create(
        customer_id=1,
        product_id=3,
        kind=InteractionKind.PURCHASE,
        quantity=2,
        unit_price=Decimal("9.50"),
        basket_ref="order-1",
        occurred_at=timezone.now() + timedelta(hours=1),
        source_key="order-1:3",
    )
    stats = """{ personalizationStats(days: 7) { clicks attributedOrders attributedRevenue
      activeCustomers customersWithLists personalListShare
      sources { source clicks attributedOrders attributedRevenue } lists { kind lists } } }"""
    _, body = gql(client, stats, token=STAFF)
    data = body["data"]["personalizationStats"]
    assert data["clicks"] == 1
    assert data["attributedOrders"] == 1
    assert data["attributedRevenue"] == pytest.approx(19.0)
    assert data["sources"] == [
        {"source": "personal", "clicks": 1, "attributedOrders": 1, "attributedRevenue": 19.0}
    ]
    assert data["activeCustomers"] == 1
    assert data["customersWithLists"] == 1
    for token in (None, CUSTOMER_1):
        assert codes(gql(client, stats, token=token)[1]) in (
            ["NOT_AUTHENTICATED"],
            ["PERMISSION_DENIED"],
        )


def test_recommendation_ids_are_signed_and_carry_the_list():
    rid = recommendation_id("similar", 5, timezone.now())
    assert rid.startswith("similar.5.")
    assert rid != recommendation_id("similar", 6, timezone.now())


def test_my_segments_and_consent_are_the_callers_own(client):
    query = "{ mySegments { key name } }"
    assert gql(client, query, token=CUSTOMER_1)[1]["data"]["mySegments"] == [
        {"key": "repeat-buyers", "name": "Repeat buyers"}
    ]
    assert codes(gql(client, query)[1]) == ["NOT_AUTHENTICATED"]
    consent = "mutation { marketingConsentUpdate(granted: true) { granted updatedAt } }"
    assert gql(client, consent, token=CUSTOMER_1)[1]["data"]["marketingConsentUpdate"]["granted"]
    assert CustomerProfile.objects.get(customer_id=1).marketing_consent is True
    assert not CustomerProfile.objects.filter(customer_id=2, marketing_consent=True).exists()
    assert codes(gql(client, consent)[1]) == ["NOT_AUTHENTICATED"]


def test_tokens_that_are_forged_or_expired_are_refused(client, settings):
    query = "{ mySegments { key } }"
    assert codes(gql(client, query, token="not-a-token")[1]) == ["INVALID_TOKEN"]
    assert codes(gql(client, query, HTTP_AUTHORIZATION="Basic abc")[1]) == ["INVALID_TOKEN"]
    settings.SECRET_KEY = "another-secret"
    assert codes(gql(client, query, token=CUSTOMER_1)[1]) == ["INVALID_TOKEN"]


def test_staff_fields_need_a_staff_token(client, media):
    ModelRun.objects.create(status=ModelRunStatus.SUCCEEDED, metrics={"all": {"ndcg": 0.3}})
    runs = "{ personalizationModelRuns { id status isLive metrics } personalizationLiveRun { id } }"
    _, body = gql(client, runs, token=STAFF)
    assert body["data"]["personalizationModelRuns"][0]["status"] == "succeeded"
    assert body["data"]["personalizationLiveRun"] is None
    assert set(codes(gql(client, runs, token=CUSTOMER_1)[1])) == {"PERMISSION_DENIED"}
    assert set(codes(gql(client, runs)[1])) == {"NOT_AUTHENTICATED"}
    train = 'mutation { personalizationTrain(params: "{\\"epochs\\": -3}") { message } }'
    assert codes(gql(client, train, token=STAFF)[1]) == ["INVALID_ARGUMENT"]
    not_an_object = 'mutation { personalizationTrain(params: "[1, 2]") { message } }'
    _, body = gql(client, not_an_object, token=STAFF)
    assert codes(body) == ["INVALID_ARGUMENT"]
    assert "JSON object" in body["errors"][0]["message"]
    assert codes(gql(client, train, token=CUSTOMER_1)[1]) == ["PERMISSION_DENIED"]
    missing = gid("PersonalizationModelRun", 999)
    rollback = f'mutation {{ personalizationRollback(run: "{missing}") {{ id }} }}'
    assert codes(gql(client, rollback, token=STAFF)[1]) == ["NOT_FOUND"]
    assert codes(gql(client, rollback, token=CUSTOMER_2)[1]) == ["PERMISSION_DENIED"]
    assert codes(
        gql(client, 'mutation { personalizationRollback(run: "x") { id } }', token=STAFF)[1]
    ) == ["INVALID_ID"]


def test_query_cost_is_limited_and_reported(client):
    heavy = " ".join(
        f'q{k}: personalizedProducts(channel: "{CHANNEL}", first: 100) {{ {ITEMS} }}'
        for k in range(20)
    )
    status, body = gql(client, f"{{ {heavy} }}")
    assert status == 400
    assert codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["extensions"]["cost"] == {"requestedQueryCost": 6000, "maximumAvailable": 5000}
    # Without first, the default page of 10 is what comes back and what is counted.
    _, body = gql(client, f'{{ trendingProducts(channel: "{CHANNEL}") {{ {ITEMS} }} }}')
    assert len(body["data"]["trendingProducts"]["items"]) == 3
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10 + 10 + 10


def test_query_cost_counts_every_operation_list_items_and_fragments(client):
    from graphql import parse

    from saleor_personalization.standalone.graphql_view import schema

    document = parse(
        'query A($n: Int) { a: trendingProducts(channel: "c", first: $n) { ...F } }'
        ' query B { rerankProducts(products: ["x", "y", "z"], channel: "c") { warnings } }'
        " fragment F on PersonalizationProductList { items { reason product { id } } }"
    )
    # A: field, items and product once per item (20); B: the field once per product (3).
    assert query_cost(schema(), document, {"n": 20}).cost == 20 * 3 + 3
    assert query_cost(schema(), document, {"n": 5000}).cost == 100 * 3 + 3  # capped as served
    # A variable's default counts as if it were sent.
    defaulted = parse(
        'query A($n: Int = 100) { trendingProducts(channel: "c", first: $n) '
        "{ items { product { id } } } }"
    )
    assert query_cost(schema(), defaulted).cost == query_cost(schema(), defaulted, {"n": 100}).cost
    assert query_cost(schema(), defaulted, {"n": 2}).cost < query_cost(schema(), defaulted).cost
    # The operation the client does not name is counted too.
    unnamed = f'query A {{ trendingProducts(channel: "{CHANNEL}") {{ warnings }} }}'
    hidden = " ".join(
        f'h{k}: personalizedProducts(channel: "{CHANNEL}", first: 100) {{ {ITEMS} }}'
        for k in range(20)
    )
    status, body = gql_raw(
        client, {"query": f"{unnamed} query B {{ {hidden} }}", "operationName": "A"}
    )
    assert (status, codes(body)) == (400, ["QUERY_TOO_COMPLEX"])


def gql_raw(client, payload, **headers):
    response = client.post("/graphql/", payload, content_type="application/json", **headers)
    return response.status_code, response.json()


def test_a_batch_shares_one_cost_budget(client):
    aliases = " ".join(
        f'q{k}: personalizedProducts(channel: "{CHANNEL}", first: 100) {{ {ITEMS} }}'
        for k in range(5)
    )
    entry = {"query": f"{{ {aliases} }}"}
    status, body = gql_raw(client, [entry])
    assert status == 200, body
    assert body[0]["extensions"]["cost"]["requestedQueryCost"] == 1500
    status, body = gql_raw(client, [entry] * 10)  # 10 x 1500 > 5000: nothing runs
    assert status == 400
    assert [codes(b) for b in body] == [["QUERY_TOO_COMPLEX"]] * 10
    assert all("data" not in b for b in body)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {
                "query": 'query($n: Int) { trendingProducts(channel: "c", first: $n) '
                "{ warnings } }",
                "variables": {"n": 2**31},
            },
            "INVALID_VARIABLES",
        ),
        (
            {
                "query": 'query A { trendingProducts(channel: "c") { warnings } }',
                "operationName": "Nope",
            },
            "INVALID_OPERATION",
        ),
        (
            {
                "query": "query A { mySegments { key } } query B { myOffers { code } }",
            },
            "INVALID_OPERATION",
        ),
        (
            {"query": "{ mySegments { key } } { myOffers { code } }"},
            "INVALID_OPERATION",
        ),
        (
            {
                "query": 'query($n: Int) { trendingProducts(channel: "c", first: $n) '
                "{ warnings } }",
                "variables": {"n": 1.5},
            },
            "INVALID_VARIABLES",
        ),
        (
            {
                "query": '{ personalizedProducts(channel: "c") { ...A } } '
                "fragment A on PersonalizationProductList { ...B } "
                "fragment B on PersonalizationProductList { ...A }"
            },
            "GRAPHQL_ERROR",
        ),
        (
            {"query": "{ mySegments { key } }" + " " * 3_000_000},
            "GRAPHQL_ERROR",
        ),
        (
            {
                "query": "query($c: String!) { trendingProducts(channel: $c) { warnings } }",
                "variables": {"c": "default-channel\u0000"},
            },
            "INVALID_ARGUMENT",
        ),
        (
            {
                "query": "mutation { trackEvent(input: {kind: PRODUCT_VIEW, "
                'channel: "default-channel", product: "UHJvZHVjdDoz", anonymousId: "a", '
                'eventId: "e\\u0000"}) { recorded } }',
            },
            "INVALID_ARGUMENT",
        ),
    ],
    ids=[
        "int-2^31",
        "unknown-operation",
        "two-operations",
        "two-unnamed",
        "int-fraction",
        "fragment-cycle",
        "over-django-upload-limit",
        "nul-var",
        "nul-lit",
    ],
)
def test_client_mistakes_are_400_with_a_code(client, payload, code):
    status, body = gql_raw(client, payload)
    assert status == 400, body
    assert set(codes(body)) == {code}, body
    assert not Interaction.objects.exists()


def test_aliases_past_the_rate_limit_are_refused_without_lookups(client, settings):
    """Found on a running shop: 600 aliased trackEvents took 14 s, each refused call still
    looking its product up."""
    settings.PERSONALIZATION_CONFIGURATION = {"track_rate_limit": 3}
    fields = [
        f'e{k}: trackEvent(input: {{kind: PRODUCT_VIEW, channel: "{CHANNEL}", '
        f'product: "{gid("Product", 3 if k < 5 else 999)}", anonymousId: "aliases"}}) '
        "{ recorded }"
        for k in range(8)
    ]
    _, body = gql(client, "mutation { " + " ".join(fields) + " }")
    assert codes(body) == ["RATE_LIMITED"] * 5, body  # the missing product is never looked up
    assert Interaction.objects.filter(anonymous_id="s:aliases").count() == 3  # the limit
    cache.clear()


def test_rate_limits_trust_forwarded_addresses_only_from_configured_proxies(client, settings):
    settings.PERSONALIZATION_CONFIGURATION = {"track_rate_limit": 3}
    track = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""

    def view(k, **headers):
        anonymous = {"kind": "PRODUCT_VIEW", "channel": CHANNEL, "product": gid("Product", 3)}
        return codes(
            gql(client, track, {"input": {**anonymous, "anonymousId": f"a{k}"}}, **headers)[1]
        )

    # Rotating X-Forwarded-For from an untrusted peer buys nothing.
    results = [view(k, HTTP_X_FORWARDED_FOR=f"203.0.113.{k}") for k in range(5)]
    assert results == [[], [], [], ["RATE_LIMITED"], ["RATE_LIMITED"]]
    cache.clear()
    # Behind a trusted proxy the forwarded client counts, each client on its own.
    settings.PERSONALIZATION_CONFIGURATION = {
        "track_rate_limit": 3,
        "trusted_proxies": "127.0.0.0/8, 10.0.0.1",
    }
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for k in range(3):
        assert view(k, HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.1", **proxy) == []
    assert view(9, HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.1", **proxy) == ["RATE_LIMITED"]
    # A spoofed leftmost entry is not the client: the proxy appended the real one.
    assert view(10, HTTP_X_FORWARDED_FOR="198.51.100.7, 192.0.2.5", **proxy) == []


def test_a_recommendation_id_counts_one_click_from_its_shopper_before_it_expires(client):
    from saleor_personalization.graphql.ids import served_recommendation_id

    click = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""

    def send(rid, token=None, **extra):
        payload = {"kind": "RECOMMENDATION_CLICK", "channel": CHANNEL, "recommendationId": rid}
        return gql(client, click, {"input": {**payload, **extra}}, token=token)[1]

    query = f'{{ personalizedProducts(channel: "{CHANNEL}", first: 2) {{ {ITEMS} }} }}'
    rid = gql(client, query, token=CUSTOMER_1)[1]["data"]["personalizedProducts"]["items"][0][
        "recommendationId"
    ]
    # Another customer, or an anonymous shopper with fresh ids, replaying it: refused.
    assert codes(send(rid, CUSTOMER_2)) == ["INVALID_ID"]
    for k in range(5):
        assert codes(send(rid, anonymousId=f"bot-{k}", eventId=f"e{k}")) == ["INVALID_ID"]
    assert not RecommendationClick.objects.exists()
    # Its shopper: one click, however many eventIds a replay invents.
    assert send(rid, CUSTOMER_1, eventId="a")["data"]["trackEvent"] == {"recorded": True}
    assert send(rid, CUSTOMER_1, eventId="b")["data"]["trackEvent"] == {"recorded": False}
    assert RecommendationClick.objects.count() == 1
    # An anonymous shopper's list is theirs; still theirs after logging in.
    anonymous = query.replace("first: 2", 'first: 2, anonymousId: "web-1"')
    rid = gql(client, anonymous)[1]["data"]["personalizedProducts"]["items"][0]["recommendationId"]
    assert codes(send(rid, anonymousId="web-2")) == ["INVALID_ID"]
    assert send(rid, CUSTOMER_2, anonymousId="web-1")["data"]["trackEvent"] == {"recorded": True}
    # The same served item sent by others who know the storefront id: still one click.
    assert send(rid, CUSTOMER_1, anonymousId="web-1")["data"]["trackEvent"] == {"recorded": False}
    assert send(rid, anonymousId="web-1", eventId="x")["data"]["trackEvent"] == {"recorded": False}
    # Expired: served more than a day ago.
    old = served_recommendation_id("personal", 3, timezone.now() - timedelta(hours=25), "u1")
    body = send(old, CUSTOMER_1)
    assert codes(body) == ["INVALID_ID"]
    assert "expired" in body["errors"][0]["message"]
    assert RecommendationClick.objects.count() == 2


def test_a_hidden_product_answers_as_a_missing_one(client):
    query = '{{ similarProducts(product: "{}", channel: "{}") {{ warnings }} }}'
    hidden = gql(client, query.format(gid("Product", 30), CHANNEL))[1]  # not available
    missing = gql(client, query.format(gid("Product", 999), CHANNEL))[1]
    assert codes(hidden) == codes(missing) == ["NOT_FOUND"]
    assert hidden["errors"][0]["message"] == missing["errors"][0]["message"]
    assert hidden["data"] == missing["data"] == {"similarProducts": None}


def test_only_post_and_json_are_accepted(client):
    assert client.get("/graphql/").status_code == 405
    assert client.get("/graphql/", HTTP_ACCEPT="text/html").status_code == 200  # GraphiQL
    response = client.post("/graphql/", "nonsense", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_ERROR"
    batch = [{"query": f'{{ trendingProducts(channel: "{CHANNEL}") {{ warnings }} }}'}] * 2
    response = client.post("/graphql/", batch, content_type="application/json")
    assert response.status_code == 200
    assert len(response.json()) == 2


def test_erasure_removes_clicks(client):
    rid = served_recommendation_id("personal", 3, timezone.now(), "u1")
    click = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    gql(
        client,
        click,
        {"input": {"kind": "RECOMMENDATION_CLICK", "channel": CHANNEL, "recommendationId": rid}},
        token=CUSTOMER_1,
    )
    assert RecommendationClick.objects.filter(customer_id=1).count() == 1
    report = erase_customer(1)
    assert report.deleted["recommendation_clicks"] == 1
    assert not RecommendationClick.objects.filter(customer_id=1).exists()


def test_token_command_prints_a_working_token(client, capsys):
    call_command("personalization_token", "--customer", "2")
    token = capsys.readouterr().out.strip()
    assert gql(client, "{ mySegments { key } }", token=token)[1]["data"]["mySegments"] == [
        {"key": "repeat-buyers"}
    ]


def test_my_offers_are_the_callers_own_live_codes(client):
    now = timezone.now()
    base = {"segment_key": "repeat-buyers", "voucher_id": 5, "issued_at": now}
    SegmentOffer.objects.create(
        campaign="voucher:5",
        customer_id=1,
        code="MINE",
        expires_at=now + timedelta(days=3),
        **base,
    )
    SegmentOffer.objects.create(
        campaign="voucher:5",
        customer_id=2,
        code="THEIRS",
        expires_at=now + timedelta(days=3),
        **base,
    )
    SegmentOffer.objects.create(
        campaign="voucher:6",
        customer_id=1,
        code="OLD",
        expires_at=now - timedelta(days=1),
        **base,
    )
    SegmentOffer.objects.create(
        campaign="voucher:7",
        customer_id=1,
        holdout=True,
        expires_at=now + timedelta(days=3),
        **base,
    )
    query = "{ myOffers { code segment campaign expiresAt } }"
    offers = gql(client, query, token=CUSTOMER_1)[1]["data"]["myOffers"]
    assert [o["code"] for o in offers] == ["MINE"]
    assert offers[0]["segment"] == "repeat-buyers"
    assert [o["code"] for o in gql(client, query, token=CUSTOMER_2)[1]["data"]["myOffers"]] == [
        "THEIRS"
    ]
    assert codes(gql(client, query)[1]) == ["NOT_AUTHENTICATED"]


def test_staff_see_segments_with_sizes_and_members(client):
    query = """{ personalizationSegments { key size members { customerId } sizes { size } }
      personalizationOfferReport { campaign issued } }"""
    body = gql(client, query, token=STAFF)[1]
    (segment,) = body["data"]["personalizationSegments"]
    assert segment["key"] == "repeat-buyers"
    assert segment["size"] == 2
    assert sorted(m["customerId"] for m in segment["members"]) == sorted(
        [gid("User", 1), gid("User", 2)]
    )
    assert body["data"]["personalizationOfferReport"] == []
    assert set(codes(gql(client, query, token=CUSTOMER_1)[1])) == {"PERMISSION_DENIED"}
    for first in (-1, 0, 101, 100000):
        members = f"{{ personalizationSegments {{ members(first: {first}) {{ customerId }} }} }}"
        assert codes(gql(client, members, token=STAFF)[1]) == ["INVALID_ARGUMENT"], first
    members = "{ personalizationSegments { members(first: 1) { customerId } } }"
    (segment,) = gql(client, members, token=STAFF)[1]["data"]["personalizationSegments"]
    assert len(segment["members"]) == 1


# Audiences, query counts and concurrent writes -------------------------------------

# The fields open to every shopper and those for the logged-in customer. Every other
# root field must be refused to customers and to anonymous callers: a staff field
# declared without the schema's staff(...) binder is caught here whatever its name.
STOREFRONT_FIELDS = {
    "personalizedProducts",
    "buyAgainProducts",
    "similarProducts",
    "frequentlyBoughtTogether",
    "recentlyViewedProducts",
    "trendingProducts",
    "rerankProducts",
    "trackEvent",
}
CUSTOMER_FIELDS = {"mySegments", "myOffers", "marketingConsentUpdate"}


def _root_fields():
    """(operation, field name, field) of every root field of the standalone schema."""
    from saleor_personalization.graphql.schema import build_schema
    from saleor_personalization.standalone.graphql_backend import StandaloneBackend

    schema = build_schema(StandaloneBackend())
    for operation, root in (
        ("query", schema.get_query_type()),
        ("mutation", schema.get_mutation_type()),
    ):
        for name, field in root.fields.items():
            yield operation, name, field


def _call(operation: str, name: str, field) -> str:
    """The smallest document calling ``field`` (staff fields take no required argument)."""
    from graphql.type import GraphQLNonNull

    required = [
        a for a, argument in field.args.items() if isinstance(argument.type, GraphQLNonNull)
    ]
    assert not required, f"{name}: give the staff-field test a value for {required}"
    return f"{operation} {{ {name} {{ __typename }} }}"


def test_every_staff_field_refuses_customers_and_anonymous_callers(client, media):
    runs_before = ModelRun.objects.count()
    staff_fields = []
    for operation, name, field in _root_fields():
        if name in STOREFRONT_FIELDS | CUSTOMER_FIELDS:
            continue
        staff_fields.append(name)
        document = _call(operation, name, field)
        assert codes(gql(client, document, token=CUSTOMER_1)[1]) == ["PERMISSION_DENIED"], name
        assert codes(gql(client, document)[1]) == ["NOT_AUTHENTICATED"], name
        _, body = gql(client, document, token=STAFF)
        assert "PERMISSION_DENIED" not in codes(body), name
        assert "NOT_AUTHENTICATED" not in codes(body), name
    # Refused before running: the train mutation queued nothing for the customer (and
    # the staff call, with no broker in these tests, answered UNAVAILABLE, queuing nothing).
    assert ModelRun.objects.count() == runs_before
    assert len(staff_fields) == 8, staff_fields  # the list above is not vacuous


def test_customer_fields_refuse_callers_who_are_not_a_customer(client):
    for operation, name, _field in _root_fields():
        if name not in CUSTOMER_FIELDS:
            continue
        args = "(granted: true)" if name == "marketingConsentUpdate" else ""
        document = f"{operation} {{ {name}{args} {{ __typename }} }}"
        assert codes(gql(client, document)[1]) == ["NOT_AUTHENTICATED"], name
        assert codes(gql(client, document, token=STAFF)[1]) == ["NOT_AUTHENTICATED"], name
        assert "errors" not in gql(client, document, token=CUSTOMER_1)[1], name


def _queries(client, document, variables) -> tuple[int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        status, body = gql(client, document, variables)
    assert status == 200, body
    assert "errors" not in body, body
    return len(captured.captured_queries), body


def test_a_longer_list_makes_no_more_queries(client):
    listed = f"""query($first: Int) {{
      personalizedProducts(channel: "{CHANNEL}", first: $first) {{ {ITEMS} }} }}"""
    few, small = _queries(client, listed, {"first": 2})
    many, large = _queries(client, listed, {"first": 20})
    assert len(small["data"]["personalizedProducts"]["items"]) == 2
    assert len(large["data"]["personalizedProducts"]["items"]) == 20
    assert many == few
    reranked = f"""query($products: [ID!]!) {{
      rerankProducts(channel: "{CHANNEL}", products: $products) {{ {ITEMS} }} }}"""
    few, small = _queries(client, reranked, {"products": [gid("Product", p) for p in (1, 2)]})
    many, large = _queries(
        client, reranked, {"products": [gid("Product", p) for p in range(1, 21)]}
    )
    assert len(small["data"]["rerankProducts"]["items"]) == 2
    assert len(large["data"]["rerankProducts"]["items"]) == 20
    assert many == few


def _post(*args, **kwargs):
    """``gql`` with a client of its own (one per thread)."""
    from django.test import Client

    return gql(Client(), *args, **kwargs)


def _at_once(calls: list) -> list:
    """Run the calls in threads released together (each thread has its own connection)."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # the assertion below shows it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_tracked_event_record_it_once():
    track = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    for round_ in range(5):
        view = {
            "kind": "PRODUCT_VIEW",
            "channel": CHANNEL,
            "product": gid("Product", 3),
            "eventId": f"retried-{round_}",
        }
        call = functools.partial(_post, track, {"input": view}, token=CUSTOMER_1)
        results = _at_once([call] * 6)
        recorded = [body["data"]["trackEvent"]["recorded"] for _, body in results]
        assert sorted(recorded) == [False] * 5 + [True], results
    assert Interaction.objects.filter(kind=InteractionKind.VIEW, customer_id=1).count() == 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_consent_updates_keep_the_last_choice_with_the_latest_time():
    consent = """mutation($granted: Boolean!) {
      marketingConsentUpdate(granted: $granted) { granted updatedAt } }"""
    for customer_id in range(40, 45):  # no profile yet: the first calls also create it
        token = issue_token(customer_id=customer_id)
        results = _at_once(
            [
                functools.partial(_post, consent, {"granted": k % 2 == 0}, token=token)
                for k in range(6)
            ]
        )
        answers = [body["data"]["marketingConsentUpdate"] for _, body in results]
        assert all(answers), results
        last = max(answers, key=lambda answer: answer["updatedAt"])
        profile = CustomerProfile.objects.get(customer_id=customer_id)
        assert profile.marketing_consent is last["granted"]
        assert profile.consent_updated_at.isoformat() == last["updatedAt"]
