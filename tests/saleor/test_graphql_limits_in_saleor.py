# ruff: noqa: F811  (fixtures imported from the base module are redefined as arguments)
"""Attacks on the GraphQL surface inside real Saleor, on both exposures.

Cost and depth (nesting, ``last:``, missing ``first``, batches, aliases), client
mistakes answered 400, spoofed forwarded addresses, replayed recommendation ids,
hidden products, the plugin switched off, and fields that fail alone on ``/graphql/``.
"""

from tests.saleor.requirements import require_saleor

require_saleor()

import graphene  # noqa: E402
import pytest  # noqa: E402
from django.core.cache import cache  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    Interaction,
    ModelRun,
    ModelRunStatus,
    RecommendationClick,
)
from tests.saleor.test_graphql_in_saleor import (  # noqa: E402, F401  (fixtures)
    PLUGIN_PATH,
    call,
    clients,
    codes,
    exposure,
    shop,
)

pytestmark = pytest.mark.django_db

TRACK = """mutation($input: PersonalizationTrackEventInput!) {
  trackEvent(input: $input) { recorded } }"""


def refused(body, exposure):
    """The plugin endpoint refuses the request (400); /graphql/ nulls our fields alone."""
    assert "QUERY_TOO_COMPLEX" in codes(body), body
    if exposure == "plugin":
        assert body["_status"] == 400, body
        assert "data" not in body
    else:
        assert all(value is None for value in (body.get("data") or {}).values()), body


def nested(levels: int, first: int = 10) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"variants {{ product {{ {inner} }} }}"
    return (
        f'personalizedProducts(channel: "CHANNEL", first: {first}) '
        f"{{ items {{ product {{ {inner} }} }} }}"
    )


def test_nesting_multiplies_the_cost(shop, clients, exposure, channel_USD):
    # One level of variants is an ordinary product page...
    body = call(clients["anonymous"], "{ " + nested(1).replace("CHANNEL", channel_USD.slug) + " }")
    assert "errors" not in body, body
    # ... three levels is the attack that took 36 s: each unpaged list counts 10 items.
    body = call(clients["anonymous"], "{ " + nested(3).replace("CHANNEL", channel_USD.slug) + " }")
    refused(body, exposure)


def test_depth_is_limited(shop, clients, exposure, channel_USD):
    parents = "name"
    for _ in range(8):
        parents = f"parent {{ {parents} }}"
    query = (
        f'{{ trendingProducts(channel: "{channel_USD.slug}", first: 1) '
        f"{{ items {{ product {{ category {{ {parents} }} }} }} }} }}"
    )
    body = call(clients["anonymous"], query)
    refused(body, exposure)
    assert "deeper than 10" in str(body)


def test_last_and_a_missing_first_are_counted(shop, clients, exposure, channel_USD):
    variants = "productVariants(last: 100) { edges { node { id } } }"
    query = (
        f'{{ personalizedProducts(channel: "{channel_USD.slug}", first: 100) '
        f"{{ items {{ product {{ {variants} }} }} }} }}"
    )
    refused(call(clients["anonymous"], query), exposure)
    if exposure == "plugin":
        no_first = (
            f'{{ personalizedProducts(channel: "{channel_USD.slug}") '
            "{ items { product { id } } } }"
        )
        body = call(clients["anonymous"], no_first)
        # field, items and product, each once per item of the default page of 10
        assert body["extensions"]["cost"]["requestedQueryCost"] == 30, body


def aliases(count: int, channel: str, first: int = 100) -> str:
    return " ".join(
        f'a{k}: personalizedProducts(channel: "{channel}", first: {first}) '
        "{ items { product { id } } }"
        for k in range(count)
    )


def test_aliases_are_summed_and_saleors_fields_still_answer(shop, clients, exposure, channel_USD):
    body = call(clients["anonymous"], f"{{ {aliases(60, channel_USD.slug)} }}")
    refused(body, exposure)
    if exposure == "saleor":
        body = call(clients["anonymous"], f"{{ shop {{ name }} {aliases(60, channel_USD.slug)} }}")
        assert body["data"]["shop"]["name"], body
        assert body["data"]["a0"] is None
        assert set(codes(body)) == {"QUERY_TOO_COMPLEX"}


def test_a_batch_shares_one_budget(shop, clients, exposure, channel_USD, settings):
    settings.GRAPHQL_BATCH_MAX_COUNT = 10  # Saleor's default is 1; a shop may allow more
    entry = {"query": f"{{ {aliases(5, channel_USD.slug)} }}"}  # 5 x 300 = 1500
    response = clients["anonymous"].post([entry] * 10)
    bodies = response.json()
    assert len(bodies) == 10
    answered = [b for b in bodies if "QUERY_TOO_COMPLEX" not in codes(b)]
    # 5000 / 1500: at most three operations' worth of our fields ever runs.
    assert len(answered) <= 3, bodies
    if exposure == "plugin":
        assert response.status_code == 400
        assert answered == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {
                "query": "query($n: Int) "
                '{ trendingProducts(channel: "c", first: $n) { warnings } }',
                "variables": {"n": 2**31},
            },
            "INVALID_VARIABLES",
        ),
        (
            {"query": "query A { mySegments { key } }", "operationName": "B"},
            "INVALID_OPERATION",
        ),
        (
            {"query": "query A { mySegments { key } } query B { myOffers { code } }"},
            "INVALID_OPERATION",
        ),
        (
            {
                "query": "query($c: String!) { trendingProducts(channel: $c) { warnings } }",
                "variables": {"c": "default\u0000"},
            },
            "INVALID_ARGUMENT",
        ),
        (
            {
                "query": TRACK,
                "variables": {
                    "input": {
                        "kind": "PRODUCT_VIEW",
                        "channel": "main",
                        "product": "UHJvZHVjdDox",
                        "anonymousId": "a",
                        "eventId": "e\u0000",
                    }
                },
            },
            "INVALID_ARGUMENT",
        ),
    ],
    ids=["int-2^31", "unknown-operation", "two-operations", "nul-channel", "nul-event-id"],
)
def test_client_mistakes_are_400_on_the_plugin_endpoint(shop, api_client, payload, code):
    api_client.api_path = PLUGIN_PATH
    response = api_client.post(payload)
    assert response.status_code == 400, response.content
    assert {e["extensions"]["code"] for e in response.json()["errors"]} == {code}
    assert not Interaction.objects.filter(kind="view").exists()


def test_a_nul_byte_fails_our_field_alone_on_graphql(shop, api_client, channel_USD):
    from saleor_personalization.saleor_adapter.schema_patch import install

    install()
    body = api_client.post(
        {
            "query": "query($c: String!) "
            "{ shop { name } trendingProducts(channel: $c) { warnings } }",
            "variables": {"c": f"{channel_USD.slug}\u0000"},
        }
    ).json()
    assert body["data"]["shop"]["name"]
    assert body["data"]["trendingProducts"] is None
    assert codes(body) == ["INVALID_ARGUMENT"]


def test_rotating_x_forwarded_for_buys_no_budget(
    shop, clients, exposure, channel_USD, set_plugin_setting
):
    set_plugin_setting("track_rate_limit", "3")
    cache.clear()
    view = {
        "kind": "PRODUCT_VIEW",
        "channel": channel_USD.slug,
        "product": graphene.Node.to_global_id("Product", shop[0].pk),
    }
    results = []
    for k in range(5):
        response = clients["anonymous"].post(
            {"query": TRACK, "variables": {"input": {**view, "anonymousId": f"bot-{k}"}}},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{k}",
        )
        results.append(codes(response.json()))
    assert results == [[], [], [], ["RATE_LIMITED"], ["RATE_LIMITED"]]
    # With Saleor behind a proxy the admin listed, each forwarded client has its own budget.
    set_plugin_setting("trusted_proxies", "127.0.0.1")
    cache.clear()
    for k in range(5):
        response = clients["anonymous"].post(
            {"query": TRACK, "variables": {"input": {**view, "anonymousId": f"web-{k}"}}},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{k}",
        )
        assert codes(response.json()) == [], response.json()


def test_a_replayed_recommendation_id_records_nothing(shop, clients, exposure, channel_USD):
    query = (
        f'{{ personalizedProducts(channel: "{channel_USD.slug}") '
        "{ items { recommendationId } } }"
    )
    rid = call(clients["customer"], query)["data"]["personalizedProducts"]["items"][0][
        "recommendationId"
    ]

    def click(who, **extra):
        payload = {
            "kind": "RECOMMENDATION_CLICK",
            "channel": channel_USD.slug,
            "recommendationId": rid,
        }
        return call(clients[who], TRACK, {"input": {**payload, **extra}})

    assert codes(click("other")) == ["INVALID_ID"]
    for k in range(10):
        assert codes(click("anonymous", anonymousId=f"bot-{k}", eventId=f"e{k}")) == ["INVALID_ID"]
    assert not RecommendationClick.objects.exists()
    assert click("customer", eventId="1")["data"]["trackEvent"] == {"recorded": True}
    assert click("customer", eventId="2")["data"]["trackEvent"] == {"recorded": False}
    assert RecommendationClick.objects.count() == 1


def test_a_hidden_product_answers_as_a_missing_one(shop, clients, exposure, channel_USD):
    hidden = shop[0]
    hidden.channel_listings.filter(channel=channel_USD).update(is_published=False)
    query = '{{ similarProducts(product: "{}", channel: "{}") {{ items {{ reason }} }} }}'
    answers = [
        call(clients["anonymous"], query.format(gid, channel_USD.slug))
        for gid in (
            graphene.Node.to_global_id("Product", hidden.pk),
            graphene.Node.to_global_id("Product", 10**9),
        )
    ]
    for body in answers:
        body.pop("extensions", None)
        body.pop("_status")
        for error in body["errors"]:
            error.pop("locations", None)
    assert answers[0] == answers[1]
    assert codes(answers[0]) == ["NOT_FOUND"]


def test_staff_errors_do_not_show_server_paths(
    shop, clients, exposure, permission_manage_plugins, settings
):
    run = ModelRun.objects.create(
        status=ModelRunStatus.SUCCEEDED, artifact="models/run-1.npz", metrics={}
    )
    clients["staff"].user.user_permissions.add(permission_manage_plugins)
    run_id = graphene.Node.to_global_id("PersonalizationModelRun", run.pk)
    body = call(
        clients["staff"], f'mutation {{ personalizationRollback(run: "{run_id}") {{ id }} }}'
    )
    assert codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == (
        "The run's model file is missing or damaged; see the server log."
    )
    assert "run-1.npz" not in str(body)
    assert "No such file" not in str(body)
    ModelRun.objects.create(
        status=ModelRunStatus.FAILED,
        error="OSError: [Errno 28] No space left on device: '/srv/saleor/media/models/run-2.npz'",
    )
    body = call(clients["staff"], "{ personalizationModelRuns { error } }")
    errors = [run["error"] for run in body["data"]["personalizationModelRuns"]]
    assert "OSError: [Errno 28] No space left on device: 'run-2.npz'" in errors
    assert "/srv/" not in str(body)


def test_plugin_off_graphql_answers_unavailable_with_503(shop, api_client, personalization_config):
    personalization_config.active = False
    personalization_config.save(update_fields=["active"])
    api_client.api_path = PLUGIN_PATH
    response = api_client.post({"query": "{ mySegments { key } }"})
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


def test_on_graphql_our_fields_fail_alone(
    shop,
    api_client,
    staff_api_client,
    personalization_config,
    channel_USD,
    permission_manage_plugins,
):
    from saleor_personalization.saleor_adapter.schema_patch import install

    install()
    slug = channel_USD.slug
    # Anonymous: Saleor's fields answer, ours says why it cannot.
    body = api_client.post({"query": "{ shop { name } me { email } mySegments { key } }"}).json()
    assert body["data"]["shop"]["name"]
    assert body["data"]["me"] is None
    assert body["data"]["mySegments"] is None
    assert codes(body) == ["NOT_AUTHENTICATED"]
    # One bad product id nulls its own list only.
    query = (
        f'{{ products(first: 2, channel: "{slug}") {{ edges {{ node {{ id }} }} }} '
        f'rerankProducts(products: ["bad"], channel: "{slug}") {{ warnings }} '
        f'trendingProducts(channel: "{slug}") {{ warnings }} }}'
    )
    body = api_client.post({"query": query}).json()
    assert len(body["data"]["products"]["edges"]) == 2
    assert body["data"]["rerankProducts"] is None
    assert body["data"]["trendingProducts"] == {"warnings": []}
    # Plugin off: every field of ours (staff ones too) is UNAVAILABLE; Saleor's answer.
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    personalization_config.active = False
    personalization_config.save(update_fields=["active"])
    body = api_client.post({"query": query}).json()
    assert len(body["data"]["products"]["edges"]) == 2
    assert set(codes(body)) == {"UNAVAILABLE"}
    body = staff_api_client.post(
        {
            "query": "{ shop { name } personalizationModelRuns { id } "
            "personalizationStats { clicks } }"
        }
    ).json()
    assert body["data"]["shop"]["name"]
    assert body["data"]["personalizationModelRuns"] is None
    assert set(codes(body)) == {"UNAVAILABLE"}


def test_the_single_endpoint_option_costs_saleor_requests_nothing(
    shop, api_client, personalization_config, channel_USD, monkeypatch
):
    """The setting is read once, at a process's first request; then never again."""
    from django.core.signals import request_started
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from saleor_personalization.saleor_adapter import schema_patch
    from saleor_personalization.saleor_adapter.schema_patch import (
        DISPATCH_UID,
        install_if_enabled,
    )

    # A fresh process: the receiver connected (as apps.py does), the patch not installed.
    monkeypatch.setattr(schema_patch, "_installed", False)
    request_started.connect(install_if_enabled, dispatch_uid=DISPATCH_UID)
    query = (
        f'{{ products(first: 1, channel: "{channel_USD.slug}") {{ edges {{ node {{ id }} }} }} }}'
    )

    def settings_reads() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api_client.post({"query": query}).status_code == 200
        return sum("plugins_pluginconfiguration" in q["sql"] for q in captured.captured_queries)

    first = settings_reads()
    later = [settings_reads() for _ in range(3)]
    assert later == [first - 1] * 3  # the receiver's read, once; Saleor's own are Saleor's
    assert not any(key[0] == DISPATCH_UID for key, *_ in request_started.receivers)
