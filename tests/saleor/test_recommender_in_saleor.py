"""Training and scoring run inside Saleor's Celery (writer-access rules) and read its data."""

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    ListKind,
    ModelRun,
    RecommendationList,
    SubjectType,
)
from saleor_personalization.services.backfill import backfill as run_backfill  # noqa: E402
from saleor_personalization.tasks import (  # noqa: E402
    score_all_task,
    train_model_task,
    training_tick_task,
)

pytestmark = pytest.mark.django_db


def test_training_without_history_fails_cleanly_and_shows_it_in_the_dashboard(
    personalization_config,
):
    result = train_model_task.apply(kwargs={"params": {"epochs": 2}}).get()
    run = ModelRun.objects.get(pk=result["run"])
    assert run.status == "failed"
    assert "not enough data" in run.error
    personalization_config.refresh_from_db()
    status = {i["name"]: i["value"] for i in personalization_config.configuration}
    assert status["model_status"].startswith(f"Run {run.pk}: failed")


def test_scoring_writes_popular_lists_from_saleor_orders(
    personalization_config, order_with_lines, channel_USD
):
    run_backfill()
    written = score_all_task.apply().get()
    assert written["popular"] >= 1
    popular = RecommendationList.objects.get(
        kind=ListKind.POPULAR, subject_type=SubjectType.NONE, channel=channel_USD.slug
    )
    lines = {line.variant.product_id for line in order_with_lines.lines.all()}
    assert {entry.product_id for entry in popular.ranked()} == lines


def test_tick_respects_the_dashboard(personalization_config, set_plugin_setting):
    set_plugin_setting("training_interval_hours", "0")
    assert training_tick_task.apply().get() == {"skipped": "scheduled training is off"}
    personalization_config.active = False
    personalization_config.save(update_fields=["active"])
    assert training_tick_task.apply().get() == {"skipped": "plugin inactive"}


def _guest_orders(products, channel, baskets):
    """Guest orders as Saleor stores them (no user, an email): a young shop's history."""
    from decimal import Decimal

    from saleor.order.models import Order, OrderLine

    for k, basket in enumerate(baskets):
        order = Order.objects.create(
            channel=channel,
            user_email=f"guest{k}@example.com",
            currency="USD",
            lines_count=len(basket),
        )
        for product in basket:
            variant = products[product].variants.first()
            OrderLine.objects.create(
                order=order,
                product_name=products[product].name,
                variant_name="",
                product_sku=variant.sku,
                is_shipping_required=False,
                is_gift_card=False,
                quantity=1,
                variant=variant,
                unit_price_net_amount=Decimal(10),
                unit_price_gross_amount=Decimal(10),
                total_price_net_amount=Decimal(10),
                total_price_gross_amount=Decimal(10),
                currency="USD",
            )


def test_a_young_shop_hears_what_training_lacks_and_serves_guest_baskets(
    personalization_config, product_list, product, channel_USD, user_api_client
):
    import graphene
    from saleor.product.models import Category

    # Products 0 and 1 sell together (a teapot and a mug: complements, not substitutes);
    # 2 sells with another product or alone.
    mugs = Category.objects.create(name="Mugs", slug="mugs")
    product_list[1].name, product_list[1].category = "Blue mug", mugs
    product_list[1].save(update_fields=["name", "category"])
    baskets = [[0, 1]] * 6 + [[2, 3]] * 3 + [[2]] * 3
    _guest_orders([*product_list, product], channel_USD, baskets)
    run_backfill()

    result = train_model_task.apply(kwargs={"params": {"epochs": 2}}).get()
    run = ModelRun.objects.get(pk=result["run"])
    assert run.status == "failed"
    assert "no orders by signed-in customers" in run.error
    assert "Training needs orders by signed-in customers spanning more than 8 weeks" in run.error
    assert "guest orders: 12" in run.error
    personalization_config.refresh_from_db()
    status = {i["name"]: i["value"] for i in personalization_config.configuration}
    assert "guest orders: 12" in status["model_status"]

    # The failed run still wrote the lists a young shop serves, from guest baskets.
    first, second = product_list[0].pk, product_list[1].pk
    together = RecommendationList.objects.get(kind=ListKind.BOUGHT_TOGETHER, subject_id=first)
    assert [e.product_id for e in together.ranked()] == [second]
    user_api_client.api_path = "/plugins/global/saleor.personalization/graphql/"
    product = graphene.Node.to_global_id("Product", first)
    body = user_api_client.post(
        {
            "query": f'{{ frequentlyBoughtTogether(product: "{product}", channel: '
            f'"{channel_USD.slug}") {{ items {{ product {{ id }} reason }} }} '
            f'personalizedProducts(channel: "{channel_USD.slug}") {{ items {{ source }} }} }}'
        }
    ).json()
    items = body["data"]["frequentlyBoughtTogether"]["items"]
    assert [graphene.Node.from_global_id(i["product"]["id"])[1] for i in items] == [str(second)]
    assert items[0]["reason"] == f"Often bought with {product_list[0].name}"
    assert {i["source"] for i in body["data"]["personalizedProducts"]["items"]} == {"popular"}


def test_rolling_back_to_a_rejected_run_keeps_its_history(
    personalization_config, staff_api_client, permission_manage_plugins, settings, tmp_path
):
    """Through the staff mutation: the run goes live and still says it was rejected."""
    import graphene

    from saleor_personalization.models import ModelRunStatus
    from saleor_personalization.recommender.pipeline import start_run, train_run
    from tests.shop import FAST, build_shop

    settings.MEDIA_ROOT = str(tmp_path)
    build_shop(customers=60, weeks=12)
    live = train_run(start_run(FAST))
    assert live.is_live, live.error
    reason = "NDCG@10 0.1000 is below the live model's 0.2000"
    rejected = ModelRun.objects.create(
        status=ModelRunStatus.REJECTED,
        artifact=live.artifact,
        artifact_sha256=live.artifact_sha256,
        metrics={"gate": {"promote": False, "reason": reason}},
    )
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    staff_api_client.api_path = "/plugins/global/saleor.personalization/graphql/"
    run_id = graphene.Node.to_global_id("PersonalizationModelRun", rejected.pk)
    body = staff_api_client.post(
        {"query": f'mutation {{ personalizationRollback(run: "{run_id}") {{ status isLive }} }}'}
    ).json()
    assert body["data"]["personalizationRollback"] == {"status": "rejected", "isLive": True}
    runs = staff_api_client.post(
        {"query": "{ personalizationModelRuns { id status isLive } }"}
    ).json()["data"]["personalizationModelRuns"]
    by_id = {run["id"]: (run["status"], run["isLive"]) for run in runs}
    assert by_id[run_id] == ("rejected", True)
    assert by_id[graphene.Node.to_global_id("PersonalizationModelRun", live.pk)] == (
        "succeeded",
        False,
    )
    rejected.refresh_from_db()
    assert rejected.metrics["gate"]["reason"] == reason
