"""Real-time personalization inside Saleor (issue 13): lists follow what shoppers do now.

A small shop (four categories, customers and guests, ten weeks of orders imported with
``orderBulkCreate``) is trained once through the plugin's task; then, without another
training:

- an anonymous visitor views three products (``trackEvent``) and ``personalizedProducts``
  changes and says why; with the session switched off in the Dashboard it is as before;
- a customer orders through Saleor's checkout and their personal list is rescored;
- a product created with ``productCreate`` gets neighbours and joins a similar list.

Saleor's test settings run Celery tasks eagerly: each hook's task runs as the worker
would, in the same process, when the mutation's transaction commits.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import random  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

import pytest  # noqa: E402
from django.utils import timezone  # noqa: E402

from tests.saleor.scenario import PLUGIN_PATH, gid, pk_of, post, run_task  # noqa: E402
from tests.saleor.test_shop_over_time import CATALOGUE, shop  # noqa: E402, F401

pytestmark = [pytest.mark.django_db, pytest.mark.saleor]

TRACK = """mutation($input: PersonalizationTrackEventInput!) {
  trackEvent(input: $input) { recorded } }"""
PERSONALIZED = """query($channel: String!, $anonymousId: String) {
  personalizedProducts(channel: $channel, first: 10, anonymousId: $anonymousId) {
    items { product { id name } reason source } } }"""
SIMILAR = """query($product: ID!, $channel: String!) {
  similarProducts(product: $product, channel: $channel, first: 10) {
    items { product { id name } reason } } }"""


def _history(store, rng, weeks: int = 10) -> list[dict]:
    """Orders over the last ``weeks``: each customer mostly from one category."""
    by_category: dict[str, list] = {}
    for product in store.products:
        by_category.setdefault(product.category.name, []).append(product)
    start = timezone.now() - timedelta(weeks=weeks)
    orders = []
    for n, customer in enumerate(store.customers):
        favourite = list(CATALOGUE)[n % len(CATALOGUE)]
        for _ in range(rng.randint(3, 5)):
            pool = by_category[favourite] if rng.random() < 0.8 else store.products
            basket = rng.sample(pool, 2)
            when = start + timedelta(days=rng.uniform(0, weeks * 7 - 2))
            orders.append(
                store.bulk_order(
                    user=customer.user, address=customer.address, products=basket, created_at=when
                )
            )
    for email in store.guests:
        favourite = rng.choice(list(CATALOGUE))
        when = start + timedelta(days=rng.uniform(0, weeks * 7 - 2))
        orders.append(
            store.bulk_order(
                email=email, products=rng.sample(by_category[favourite], 3), created_at=when
            )
        )
    return sorted(orders, key=lambda o: o["createdAt"])


@pytest.fixture
def trained(shop, set_plugin_setting):  # noqa: F811
    """The shop's history imported, backfilled and trained once (the live model)."""
    from saleor_personalization.models import ItemNeighbours, ModelRun
    from saleor_personalization.services.backfill import backfill as run_backfill
    from saleor_personalization.tasks import train_model_task

    run_backfill()
    assert shop.bulk_import(_history(shop, random.Random(13))) > 50
    result = run_task(train_model_task, params={"epochs": 10, "components": 16})
    run = ModelRun.objects.get(pk=result["run"])
    assert run.is_live, (run.status, run.error, run.metrics.get("gate"))
    assert ItemNeighbours.objects.count() >= len(shop.products) - 2
    return run


def _personal_entries(customer_id: int, kind: str = "personal") -> tuple[list[dict], object]:
    from saleor_personalization.models import ListKey, RecommendationList, SubjectType

    key = ListKey.of(kind, SubjectType.CUSTOMER, customer_id)
    row = RecommendationList.objects.get(**key.lookup())
    return list(row.entries), row.generated_at


def _served(client, channel: str, anonymous_id: str | None = None) -> list[tuple[int, str]]:
    body = post(
        client, PERSONALIZED, {"channel": channel, "anonymousId": anonymous_id}, path=PLUGIN_PATH
    )
    assert body.get("data"), body
    return [
        (pk_of(item["product"]["id"]), item["reason"])
        for item in body["data"]["personalizedProducts"]["items"]
    ]


def test_an_anonymous_visitors_list_follows_three_views_and_says_why(
    shop,  # noqa: F811
    trained,
    set_plugin_setting,
):
    channel = shop.channel.slug
    before = _served(shop.anonymous, channel, "web-77")
    assert {reason for _, reason in before} <= {"Bestseller", "New in the shop"}

    garden = [p for p in shop.products if p.category.name == "Snacks"][:3]
    for product in garden:
        body = post(
            shop.anonymous,
            TRACK,
            {
                "input": {
                    "kind": "PRODUCT_VIEW",
                    "channel": channel,
                    "product": gid("Product", product.pk),
                    "anonymousId": "web-77",
                }
            },
            path=PLUGIN_PATH,
        )
        assert body["data"]["trackEvent"] == {"recorded": True}, body

    after = _served(shop.anonymous, channel, "web-77")
    assert [p for p, _ in after] != [p for p, _ in before]
    viewed = {p.pk for p in garden}
    assert not viewed & {p for p, _ in after}  # what they look at is not offered back
    names = {p.name for p in garden}
    explained = [reason for _, reason in after if reason.startswith("Because you viewed ")]
    assert explained, after
    assert {reason.removeprefix("Because you viewed ") for reason in explained} <= names
    categories = {p.pk: p.category.name for p in shop.products}
    top = [categories[p] for p, _ in after[:5]]
    assert top.count("Snacks") >= 3, (top, after)
    # Another visitor's list did not move.
    assert _served(shop.anonymous, channel, "web-78") == before

    # With the session switched off in the Dashboard (weight 0), lists are as before.
    set_plugin_setting("recommendationsSessionWeight", "0")
    assert _served(shop.anonymous, channel, "web-77") == before


def test_a_visitor_who_just_bought_is_not_offered_it_again(
    shop,  # noqa: F811
    trained,
    set_plugin_setting,
):
    """A guest's order is recorded under their address, not under the storefront's id;
    the lists served to that id still leave out what its checkout bought (the
    recent-purchase rule), while another visitor is still offered it. The session is
    off: its cart add alone would keep the product out (what a shopper has in front
    of them is not offered back)."""
    from saleor_personalization.models import ListKey, ListKind, RecommendationList
    from tests.saleor.scenario import UPDATE_METADATA, data_of

    set_plugin_setting("recommendationsSessionWeight", "0")
    channel = shop.channel.slug
    offered = [p for p, _ in _served(shop.anonymous, channel, "web-buyer")]
    product = next(p for p in shop.products if p.pk in offered)
    # One customers do not reorder (the rule keeps reorders on every list).
    reorder = RecommendationList.objects.filter(**ListKey(ListKind.REORDER).lookup()).first()
    if reorder is not None:
        reorder.entries = [e for e in reorder.entries if e["product_id"] != product.pk]
        reorder.save()
    checkout = shop.open_checkout(shop.anonymous, "new-guest@example.org", [product])
    data_of(
        post(
            shop.anonymous,
            UPDATE_METADATA,
            {
                "id": checkout["id"],
                "input": [{"key": "personalization_anonymous_id", "value": "web-buyer"}],
            },
        ),
        "updateMetadata",
    )
    assert data_of(shop.pay_and_complete(shop.anonymous, checkout["id"]), "checkoutComplete")[
        "order"
    ]

    assert product.pk not in [p for p, _ in _served(shop.anonymous, channel, "web-buyer")]
    assert product.pk in [p for p, _ in _served(shop.anonymous, channel, "web-other")]


def test_a_customers_list_is_rescored_after_an_order_without_training(shop, trained):  # noqa: F811
    from saleor_personalization.models import ModelRun

    customer = shop.customers[2]
    entries_before, written_before = _personal_entries(customer.user.pk)
    new_to_them = [e["product_id"] for e in entries_before][:2]  # "for you": never bought
    runs = ModelRun.objects.count()
    bought = [p for p in shop.products if p.pk in new_to_them]
    shop.place_order(customer, bought, timezone.now())

    entries_after, written_after = _personal_entries(customer.user.pk)
    assert written_after > written_before
    assert ModelRun.objects.count() == runs  # no training
    assert entries_after != entries_before
    # What they just bought is in their history now: it is no discovery any more, and
    # their "buy again" list was rewritten with it.
    assert not {p.pk for p in bought} & {e["product_id"] for e in entries_after}
    _, again_written = _personal_entries(customer.user.pk, "buy_again")
    assert again_written == written_after


BOTH = """query($channel: String!) {
  forYou: personalizedProducts(channel: $channel, first: 10) { items { product { id } reason } }
  buyAgain: buyAgainProducts(channel: $channel, first: 10) {
    items { product { id } reason source } warnings }
  mixed: personalizedProducts(channel: $channel, first: 10, discoveryShare: 0.5) {
    items { product { id } } }
}"""


def test_a_customer_is_served_both_lists_on_both_endpoints(shop, trained):  # noqa: F811
    """'for you' never shows what the customer bought; 'buy again' leads with it; a
    discovery share mixes them. On the plugin's endpoint and on Saleor's /graphql/."""
    from saleor_personalization.models import Interaction, InteractionKind
    from saleor_personalization.saleor_adapter.schema_patch import install

    install()  # the single-endpoint option, as a Saleor process applies it at start
    customer = shop.customers[4]
    owned = set(
        Interaction.objects.filter(
            customer_id=customer.user.pk, kind=InteractionKind.PURCHASE
        ).values_list("product_id", flat=True)
    )
    assert owned
    answers = []
    for path in (PLUGIN_PATH, "/graphql/"):
        body = post(customer.client, BOTH, {"channel": shop.channel.slug}, path=path)
        assert not body.get("errors"), body
        data = body["data"]
        for_you = [pk_of(i["product"]["id"]) for i in data["forYou"]["items"]]
        again = [pk_of(i["product"]["id"]) for i in data["buyAgain"]["items"]]
        mixed = [pk_of(i["product"]["id"]) for i in data["mixed"]["items"]]
        assert for_you
        assert not set(for_you) & owned
        assert again
        assert again[0] in owned
        assert data["buyAgain"]["items"][0]["reason"] == "You bought this before"
        assert {i["source"] for i in data["buyAgain"]["items"]} == {"buy_again"}
        assert set(mixed) & set(for_you)
        assert set(mixed) & set(again)
        answers.append((for_you, again, mixed))
    assert answers[0] == answers[1]
    # A visitor has nothing to buy again, and is told why the list is empty.
    body = post(shop.anonymous, BOTH, {"channel": shop.channel.slug}, path=PLUGIN_PATH)
    assert body["data"]["buyAgain"]["items"] == []
    assert body["data"]["buyAgain"]["warnings"]


def test_a_new_product_joins_a_similar_list_without_training(shop, trained):  # noqa: F811
    from saleor_personalization.models import ItemNeighbours, ModelRun

    runs = ModelRun.objects.count()
    product = shop.create_product(
        "Dark Chocolate Fudge Bar", shop.categories["Snacks"], shop.product_type, Decimal(7)
    )
    assert ModelRun.objects.count() == runs
    row = ItemNeighbours.objects.get(product_id=product.pk)
    assert row.from_features
    neighbour_ids = [p for p, _ in row.neighbours]
    categories = {p.pk: p.category.name for p in shop.products}
    assert [categories.get(p) for p in neighbour_ids[:3]].count("Snacks") >= 2

    # Shown on a storefront as similar to its closest product.
    closest = neighbour_ids[0]
    body = post(
        shop.anonymous,
        SIMILAR,
        {"product": gid("Product", closest), "channel": shop.channel.slug},
        path=PLUGIN_PATH,
    )
    similar = [pk_of(i["product"]["id"]) for i in body["data"]["similarProducts"]["items"]]
    assert product.pk in similar, (body, row.neighbours[:5])
