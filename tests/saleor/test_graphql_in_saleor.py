"""The GraphQL API inside real Saleor, on both exposures.

``plugin``: ``/plugins/global/saleor.personalization/graphql/`` (the plugin's own URL);
``saleor``: Saleor's ``/graphql/`` with the single-endpoint option installed. Each
field runs as anonymous, customer, another customer, staff and app.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    CustomerProfile,
    Interaction,
    InteractionKind,
    ListKind,
    ModelRun,
    ModelRunStatus,
    RecommendationList,
    Segment,
    SegmentMembership,
    SubjectType,
)
from saleor_personalization.services.backfill import backfill as run_backfill  # noqa: E402

pytestmark = pytest.mark.django_db

PLUGIN_PATH = "/plugins/global/saleor.personalization/graphql/"

PRODUCT_FIELDS = """
  items {
    product {
      id name
      pricing { priceRange { start { gross { amount currency } } } }
      thumbnail { url }
    }
    reason source recommendationId
  }
  warnings
"""


@pytest.fixture(params=["plugin", "saleor"])
def exposure(request):
    if request.param == "saleor":
        from saleor_personalization.saleor_adapter.schema_patch import install

        install()
    return request.param


@pytest.fixture
def clients(
    exposure, api_client, user_api_client, staff_api_client, app_api_client, customer_user2
):
    from saleor.graphql.tests.fixtures import ApiClient

    built = {
        "anonymous": api_client,
        "customer": user_api_client,
        "other": ApiClient(user=customer_user2),
        "staff": staff_api_client,
        "app": app_api_client,
    }
    if exposure == "plugin":
        for client in built.values():
            client.api_path = PLUGIN_PATH
    return built


def call(client, query, variables=None):
    response = client.post({"query": query, "variables": variables or {}})
    body = response.json()
    body["_status"] = response.status_code
    return body


def codes(body):
    return [e["extensions"].get("code") for e in body.get("errors", [])]


def ids(body, field):
    return [
        int(graphene.Node.from_global_id(i["product"]["id"])[1])
        for i in body["data"][field]["items"]
    ]


@pytest.fixture
def shop(personalization_config, product_list, channel_USD, customer_user):
    """Three published products, synced; personal and popular lists."""
    run_backfill()
    p1, p2, p3 = (p.pk for p in product_list)
    now = timezone.now()

    def entries(products):
        return [{"product_id": p, "score": 1.0, "reason": "Because you bought X"} for p in products]

    RecommendationList.objects.create(
        kind=ListKind.PERSONAL,
        subject_type=SubjectType.CUSTOMER,
        subject_id=customer_user.pk,
        entries=entries([p3, p1]),
        generated_at=now,
    )
    RecommendationList.objects.create(
        kind=ListKind.POPULAR,
        channel=channel_USD.slug,
        entries=entries([p2, p1, p3]),
        generated_at=now,
    )
    RecommendationList.objects.create(
        kind=ListKind.SIMILAR,
        subject_type=SubjectType.PRODUCT,
        subject_id=p1,
        entries=entries([p2, p3]),
        generated_at=now,
    )
    RecommendationList.objects.create(
        kind=ListKind.BOUGHT_TOGETHER,
        subject_type=SubjectType.PRODUCT,
        subject_id=p1,
        entries=entries([p3]),
        generated_at=now,
    )
    return product_list


def personalized(channel="main", first=10):
    return (
        f'{{ personalizedProducts(channel: "{channel}", first: {first}) {{ {PRODUCT_FIELDS} }} }}'
    )


def test_lists_are_saleor_products_with_channel_pricing(shop, clients, channel_USD):
    p1, p2, p3 = (p.pk for p in shop)
    body = call(clients["customer"], personalized(channel_USD.slug))
    assert body["_status"] == 200, body
    assert ids(body, "personalizedProducts")[:2] == [p3, p1]
    first = body["data"]["personalizedProducts"]["items"][0]
    assert first["product"]["pricing"]["priceRange"]["start"]["gross"]["currency"] == "USD"
    assert first["source"] == "personal"
    assert first["reason"] == "Because you bought X"
    # Anyone else: not this customer's list.
    assert (
        ids(call(clients["anonymous"], personalized(channel_USD.slug)), "personalizedProducts")[0]
        == p2
    )
    assert (
        ids(call(clients["other"], personalized(channel_USD.slug)), "personalizedProducts")[0] == p2
    )


def test_products_hidden_in_saleor_never_leak(shop, clients, channel_USD):
    p1, p2, p3 = shop
    p3.channel_listings.filter(channel=channel_USD).update(is_published=False)
    p1.channel_listings.filter(channel=channel_USD).update(visible_in_listings=False)
    # The plugin's own availability copy is stale on purpose: Saleor's rules decide.
    for who in ("customer", "anonymous", "other"):
        body = call(clients[who], personalized(channel_USD.slug))
        assert ids(body, "personalizedProducts") == [p2.pk], (who, body)


def test_similar_and_bought_together(shop, clients, channel_USD, checkout_with_item):
    p1, p2, p3 = (p.pk for p in shop)
    product = graphene.Node.to_global_id("Product", p1)
    query = f"""{{
      similarProducts(product: "{product}", channel: "{channel_USD.slug}") {{ {PRODUCT_FIELDS} }}
      frequentlyBoughtTogether(product: "{product}", channel: "{channel_USD.slug}")
        {{ {PRODUCT_FIELDS} }}
    }}"""
    for who in ("anonymous", "customer", "staff", "app"):
        body = call(clients[who], query)
        assert ids(body, "similarProducts") == [p2, p3], (who, body)
        assert ids(body, "frequentlyBoughtTogether") == [p3], (who, body)


def test_a_product_kept_out_of_listings_still_has_its_page_lists(shop, clients, channel_USD):
    """Found on a running shop: a published product a merchant keeps out of listings is
    on sale on its page (Saleor's product(id) shows it), but similarProducts answered
    NOT_FOUND for it. It still never appears in a list; an unpublished one is missing."""
    p1, p2, p3 = shop
    p1.channel_listings.filter(channel=channel_USD).update(visible_in_listings=False)
    query = f"""{{
      similarProducts(product: "{graphene.Node.to_global_id("Product", p1.pk)}",
                      channel: "{channel_USD.slug}") {{ {PRODUCT_FIELDS} }}
    }}"""
    for who in ("anonymous", "customer"):
        body = call(clients[who], query)
        assert ids(body, "similarProducts") == [p2.pk, p3.pk], (who, body)
    asked_from_p2 = query.replace(
        graphene.Node.to_global_id("Product", p1.pk), graphene.Node.to_global_id("Product", p2.pk)
    )
    assert p1.pk not in ids(call(clients["anonymous"], asked_from_p2), "similarProducts")
    p1.channel_listings.filter(channel=channel_USD).update(is_published=False)
    assert codes(call(clients["anonymous"], query)) == ["NOT_FOUND"]


def test_a_customers_checkout_is_theirs(
    shop, clients, channel_USD, checkout_with_item, customer_user
):
    checkout_with_item.user = customer_user
    checkout_with_item.save(update_fields=["user"])
    query = (
        f'{{ frequentlyBoughtTogether(checkout: "{checkout_with_item.token}", '
        f'channel: "{channel_USD.slug}") {{ warnings }} }}'
    )
    assert call(clients["customer"], query)["data"]["frequentlyBoughtTogether"] == {"warnings": []}
    assert codes(call(clients["other"], query)) == ["NOT_FOUND"]
    assert codes(call(clients["anonymous"], query)) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ trendingProducts(channel: "no-such-channel") { warnings } }', "UNKNOWN_CHANNEL"),
        ('{ similarProducts(product: "bad", channel: "main") { warnings } }', "INVALID_ID"),
        (
            '{ similarProducts(product: "UHJvZHVjdDo5OTk5OTk=", channel: "main") { warnings } }',
            "NOT_FOUND",
        ),
        (
            '{ frequentlyBoughtTogether(checkout: "not-a-token", channel: "main") { warnings } }',
            "NOT_FOUND",
        ),
        ('{ personalizedProducts(channel: "main", first: -1) { warnings } }', "INVALID_ARGUMENT"),
    ],
)
def test_errors_have_codes(shop, clients, channel_USD, query, code):
    body = call(clients["anonymous"], query.replace('"main"', f'"{channel_USD.slug}"'))
    assert codes(body) == [code], body
    assert "Traceback" not in str(body)


def test_first_is_capped_and_said_so(shop, clients, channel_USD):
    body = call(clients["anonymous"], personalized(channel_USD.slug, first=1000))
    assert body["data"]["personalizedProducts"]["warnings"] == [
        "first capped at 100 (asked for 1000)."
    ]


def test_an_expired_or_revoked_token_is_refused(shop, clients, customer_user):
    from datetime import timedelta

    from saleor.core.jwt import JWT_ACCESS_TYPE, jwt_encode, jwt_user_payload

    expired = jwt_encode(jwt_user_payload(customer_user, JWT_ACCESS_TYPE, timedelta(seconds=-60)))
    client = clients["anonymous"]
    response = client.post({"query": "{ mySegments { key } }"}, HTTP_AUTHORIZATION=f"JWT {expired}")
    body = response.json()
    assert "INVALID_TOKEN" in codes(body) or response.status_code == 401, body
    assert not (body.get("data") or {}).get("mySegments")
    assert "Traceback" not in str(body)


def test_track_event_for_anonymous_customer_and_app(shop, clients, channel_USD):
    p1 = shop[0].pk
    mutation = """mutation($input: PersonalizationTrackEventInput!) {
      trackEvent(input: $input) { recorded } }"""
    view = {
        "kind": "PRODUCT_VIEW",
        "channel": channel_USD.slug,
        "product": graphene.Node.to_global_id("Product", p1),
    }
    anonymous = call(clients["anonymous"], mutation, {"input": {**view, "anonymousId": "web-1"}})
    assert anonymous["data"]["trackEvent"] == {"recorded": True}, anonymous
    assert codes(call(clients["anonymous"], mutation, {"input": view})) == ["INVALID_ARGUMENT"]
    customer = call(clients["customer"], mutation, {"input": view})
    assert customer["data"]["trackEvent"] == {"recorded": True}
    views = Interaction.objects.filter(kind=InteractionKind.VIEW, product_id=p1)
    assert views.filter(anonymous_id="s:web-1").count() == 1
    assert views.filter(customer_id=clients["customer"].user.pk).count() == 1
    # An app tracks on behalf of an anonymous shopper.
    app = call(clients["app"], mutation, {"input": {**view, "anonymousId": "web-2"}})
    assert app["data"]["trackEvent"] == {"recorded": True}
    body = call(clients["anonymous"], personalized(channel_USD.slug))
    rid = body["data"]["personalizedProducts"]["items"][0]["recommendationId"]
    click = {
        "kind": "RECOMMENDATION_CLICK",
        "channel": channel_USD.slug,
        "recommendationId": rid,
        "anonymousId": "web-1",
    }
    assert call(clients["anonymous"], mutation, {"input": click})["data"]["trackEvent"] == {
        "recorded": True
    }


def test_segments_and_consent_are_the_customers_own(shop, clients, customer_user):
    segment = Segment.objects.create(key="repeat-buyers", name="Repeat buyers")
    SegmentMembership.objects.create(
        segment=segment, customer_id=customer_user.pk, entered_at=timezone.now()
    )
    query = "{ mySegments { key } }"
    assert call(clients["customer"], query)["data"]["mySegments"] == [{"key": "repeat-buyers"}]
    assert call(clients["other"], query)["data"]["mySegments"] == []
    assert codes(call(clients["anonymous"], query)) == ["NOT_AUTHENTICATED"]
    consent = "mutation { marketingConsentUpdate(granted: true) { granted } }"
    assert call(clients["customer"], consent)["data"]["marketingConsentUpdate"] == {"granted": True}
    assert CustomerProfile.objects.get(customer_id=customer_user.pk).marketing_consent
    assert codes(call(clients["anonymous"], consent)) == ["NOT_AUTHENTICATED"]
    assert codes(call(clients["app"], consent)) == ["NOT_AUTHENTICATED"]


def test_staff_fields_need_manage_plugins(shop, clients, permission_manage_plugins):
    ModelRun.objects.create(status=ModelRunStatus.SUCCEEDED, metrics={"all": {"ndcg": 0.3}})
    query = "{ personalizationModelRuns { status } personalizationStats { clicks } }"
    assert set(codes(call(clients["anonymous"], query))) == {"NOT_AUTHENTICATED"}
    assert set(codes(call(clients["customer"], query))) == {"PERMISSION_DENIED"}
    assert set(codes(call(clients["staff"], query))) == {"PERMISSION_DENIED"}
    assert set(codes(call(clients["app"], query))) == {"PERMISSION_DENIED"}
    clients["staff"].user.user_permissions.add(permission_manage_plugins)
    clients["app"].app.permissions.add(permission_manage_plugins)
    for who in ("staff", "app"):
        body = call(clients[who], query)
        assert body["data"]["personalizationModelRuns"] == [{"status": "succeeded"}], body
        assert body["data"]["personalizationStats"] == {"clicks": 0}
    rollback = "mutation { personalizationRollback { id } }"
    assert codes(call(clients["customer"], rollback)) == ["PERMISSION_DENIED"]
    assert codes(call(clients["staff"], rollback)) == ["NOT_FOUND"]  # nothing to roll back to


def test_plugin_endpoint_is_post_only_and_follows_the_plugin_switch(
    shop, api_client, personalization_config, channel_USD
):
    assert api_client.get(PLUGIN_PATH).status_code == 405
    personalization_config.active = False
    personalization_config.save(update_fields=["active"])
    api_client.api_path = PLUGIN_PATH
    response = api_client.post({"query": personalized(channel_USD.slug)})
    assert response.status_code == 503  # switched off, not a wrong URL
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


def test_plugin_endpoint_honours_storefront_traffic_switch(shop, api_client, site_settings):
    from saleor.graphql.storefront_traffic import clear_allow_storefront_traffic_cache

    site_settings.allow_storefront_traffic = False
    site_settings.save(update_fields=["allow_storefront_traffic"])
    clear_allow_storefront_traffic_cache()
    api_client.api_path = PLUGIN_PATH
    response = api_client.post({"query": "{ mySegments { key } }"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "STOREFRONT_TRAFFIC_NOT_ALLOWED"
    clear_allow_storefront_traffic_cache()


def test_single_endpoint_patch_keeps_saleors_schema_consistent():
    """Fails loudly if a Saleor upgrade changes what the patch relies on."""
    from saleor.graphql.api import schema

    from saleor_personalization.saleor_adapter.schema_patch import install

    install()
    query = schema.get_type("Query")
    for name in (
        "personalizedProducts",
        "buyAgainProducts",
        "similarProducts",
        "frequentlyBoughtTogether",
        "recentlyViewedProducts",
        "trendingProducts",
        "rerankProducts",
        "mySegments",
        "personalizationModelRuns",
        "personalizationStats",
    ):
        assert name in query.fields, name
    for name in ("trackEvent", "marketingConsentUpdate", "personalizationTrain"):
        assert name in schema.get_type("Mutation").fields, name
    item = (
        schema.get_type("PersonalizationProductList").fields["items"].type.of_type.of_type.of_type
    )
    assert item.fields["product"].type.of_type is schema.get_type("Product")
    # Saleor's own queries still work next to ours, with fragments on Product.
    from graphql import parse, validate

    document = parse(
        "fragment P on Product { id name } "
        '{ products(first: 1, channel: "x") { edges { node { ...P } } } '
        'personalizedProducts(channel: "x") { items { product { ...P } } } }'
    )
    assert validate(schema, document) == []


ROLES = ("anonymous", "customer", "other", "staff", "app")


def _field_cases(shop, channel):
    p1, p2, p3 = (graphene.Node.to_global_id("Product", p.pk) for p in shop)
    lists = "{ items { product { id name } reason } warnings }"
    return {
        "personalizedProducts": (
            f'personalizedProducts(channel: "{channel}", anonymousId: "w1") {lists}'
        ),
        "similarProducts": f'similarProducts(product: "{p1}", channel: "{channel}") {lists}',
        "frequentlyBoughtTogether": (
            f'frequentlyBoughtTogether(product: "{p1}", channel: "{channel}") {lists}'
        ),
        "recentlyViewedProducts": (
            f'recentlyViewedProducts(channel: "{channel}", anonymousId: "w1") {lists}'
        ),
        "trendingProducts": f'trendingProducts(channel: "{channel}") {lists}',
        "rerankProducts": (
            f'rerankProducts(products: ["{p3}", "{p2}"], channel: "{channel}", anonymousId: "w1") '
            f"{lists}"
        ),
        "mySegments": "mySegments { key }",
        "personalizationModelRuns": "personalizationModelRuns { id }",
        "personalizationLiveRun": "personalizationLiveRun { id }",
        "personalizationStats": "personalizationStats { clicks }",
        "myOffers": "myOffers { code }",
        "personalizationSegments": "personalizationSegments { key size }",
        "personalizationOfferReport": "personalizationOfferReport { campaign }",
        "personalizationEmailStats": "personalizationEmailStats { step }",
    }


MUTATIONS = {
    "trackEvent": (
        'trackEvent(input: {kind: PRODUCT_VIEW, channel: "CHANNEL", product: "P1", '
        'anonymousId: "w1"}) { recorded }'
    ),
    "marketingConsentUpdate": "marketingConsentUpdate(granted: false) { granted }",
    "personalizationTrain": "personalizationTrain { run { status } message }",
}

# What each role may do (without MANAGE_PLUGINS); anything else must be refused.
CUSTOMER_ONLY = {"mySegments", "myOffers", "marketingConsentUpdate"}
STAFF_ONLY = {
    "personalizationSegments",
    "personalizationOfferReport",
    "personalizationEmailStats",
    "personalizationModelRuns",
    "personalizationLiveRun",
    "personalizationStats",
    "personalizationTrain",
}


@pytest.mark.parametrize("role", ROLES)
def test_every_field_for_every_role(shop, clients, channel_USD, role, permission_manage_plugins):
    cases = _field_cases(shop, channel_USD.slug)
    product = graphene.Node.to_global_id("Product", shop[0].pk)
    for name, mutation in MUTATIONS.items():
        cases[name] = (
            "mutation { "
            + mutation.replace("CHANNEL", channel_USD.slug).replace("P1", product)
            + " }"
        )
    user_role = role in ("customer", "other", "staff")
    for name, selection in cases.items():
        query = selection if selection.startswith("mutation") else f"{{ {selection} }}"
        body = call(clients[role], query)
        if name in STAFF_ONLY:
            expected = "NOT_AUTHENTICATED" if role == "anonymous" else "PERMISSION_DENIED"
            assert codes(body) == [expected], (role, name, body)
        elif name in CUSTOMER_ONLY and not user_role:
            assert codes(body) == ["NOT_AUTHENTICATED"], (role, name, body)
        else:
            assert "errors" not in body, (role, name, body)
            assert body["data"][name] is not None, (role, name, body)
    # With MANAGE_PLUGINS, staff and apps reach the staff fields.
    if role in ("staff", "app"):
        holder = clients[role].user if role == "staff" else clients[role].app
        (holder.user_permissions if role == "staff" else holder.permissions).add(
            permission_manage_plugins
        )
        for name in sorted(STAFF_ONLY):
            body = call(clients[role], cases[name] if name in MUTATIONS else f"{{ {cases[name]} }}")
            if name == "personalizationTrain" and codes(body) == ["UNAVAILABLE"]:
                # Saleor's test settings run Celery eagerly (no broker): the mutation
                # refuses to train inside the request, and says why.
                assert "No Celery broker is configured" in body["errors"][0]["message"]
                continue
            assert "errors" not in body, (role, name, body)
        ModelRun.objects.filter(status=ModelRunStatus.QUEUED).delete()


def test_a_longer_list_makes_no_more_queries(shop, clients, channel_USD):
    """Saleor's Product fields load through its dataloaders, our ids in one lookup."""
    from contextlib import ExitStack

    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    def count(query, field, expected):
        """Queries on every connection (Saleor reads products from its replica alias)."""
        with ExitStack() as stack:
            captured = [
                stack.enter_context(CaptureQueriesContext(connections[alias]))
                for alias in connections
            ]
            body = call(clients["anonymous"], query)
        assert body["_status"] == 200, body
        assert len(body["data"][field]["items"]) == expected, body
        return sum(len(c.captured_queries) for c in captured)

    # The first request of a test fills per-process caches (settings, plugins): not counted.
    count(personalized(channel_USD.slug, first=2), "personalizedProducts", 2)
    assert count(personalized(channel_USD.slug, first=1), "personalizedProducts", 1) == count(
        personalized(channel_USD.slug, first=3), "personalizedProducts", 3
    )

    def reranked(products):
        listed = ", ".join(f'"{graphene.Node.to_global_id("Product", p.pk)}"' for p in products)
        return (
            f'query {{ rerankProducts(channel: "{channel_USD.slug}", products: [{listed}]) '
            f"{{ {PRODUCT_FIELDS} }} }}"
        )

    assert count(reranked(shop[:1]), "rerankProducts", 1) == count(
        reranked(shop), "rerankProducts", 3
    )
