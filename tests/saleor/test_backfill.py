"""Backfill and reconcile read Saleor's own tables, in batches, idempotently."""

from datetime import timedelta

from tests.saleor.requirements import require_saleor

require_saleor()

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from saleor_personalization.models import (  # noqa: E402
    CartState,
    CustomerProfile,
    Interaction,
    InteractionKind,
    ItemProfile,
)
from saleor_personalization.services.backfill import backfill  # noqa: E402

pytestmark = pytest.mark.django_db


def test_backfill_reads_orders_catalogue_customers_and_checkouts(
    order_with_lines, product_list, customer_user, checkout_with_item
):
    report = backfill(batch_size=1)

    lines = list(order_with_lines.lines.all())
    purchases = Interaction.objects.filter(kind=InteractionKind.PURCHASE)
    assert report.orders == 1
    assert report.purchases_recorded == len(lines) == purchases.count()
    assert set(purchases.values_list("product_id", flat=True)) == {
        line.variant.product_id for line in lines
    }
    assert set(purchases.values_list("basket_ref", flat=True)) == {str(order_with_lines.number)}
    assert ItemProfile.objects.filter(product_id__in=[p.pk for p in product_list]).count() == len(
        product_list
    )
    assert CustomerProfile.objects.filter(customer_id=customer_user.pk).exists()
    assert CartState.objects.filter(token=str(checkout_with_item.token)).exists()
    assert report.cart_events_recorded >= 1

    again = backfill(batch_size=2)
    assert again.purchases_recorded == 0
    assert again.cart_events_recorded == 0
    assert Interaction.objects.filter(kind=InteractionKind.PURCHASE).count() == len(lines)


def test_reconcile_erases_profiles_of_accounts_deleted_behind_the_plugins_back(
    customer_user, order_with_lines
):
    backfill()
    customer_id = order_with_lines.user_id
    assert Interaction.objects.filter(customer_id=customer_id).exists()
    order_with_lines.user.delete()  # an ORM delete: no hook fires

    report = backfill()
    assert report.customers_erased >= 1
    # Saleor keeps the order under the customer's email; it must not be learnt again.
    assert not Interaction.objects.exists()
    assert backfill().purchases_recorded == 0
    assert not Interaction.objects.filter(customer_id=customer_id).exists()
    assert not CustomerProfile.objects.filter(customer_id=customer_id).exists()


def test_backfill_command_prints_its_report(order_with_lines, capsys):
    call_command("personalization_backfill", "--batch-size", "100")
    out = capsys.readouterr().out
    assert "orders read" in out
    assert "purchases recorded" in out


def test_beat_schedule_gains_the_reconcile_entry_without_touching_settings():
    from saleor.celeryconf import app

    entry = settings.CELERY_BEAT_SCHEDULE["saleor-personalization-reconcile"]
    assert entry["task"] == "saleor_personalization.reconcile"
    assert app.conf.beat_schedule["saleor-personalization-reconcile"] is entry
    assert "saleor_personalization.reconcile" in app.tasks
    assert "saleor_personalization.record_cart" in app.tasks


def _make_guest(order, email):
    order.user = None
    order.user_email = email
    order.save(update_fields=["user", "user_email"])


def test_backfill_claims_guest_orders_only_once_saleor_links_them_and_counts_follow(
    customer_user, order_with_lines
):
    from saleor.order.utils import match_orders_with_new_user

    _make_guest(order_with_lines, customer_user.email)
    backfill()
    purchases = Interaction.objects.filter(kind=InteractionKind.PURCHASE)
    # Same address as an account, but Saleor has not linked the order: no proof.
    assert set(purchases.values_list("customer_id", flat=True)) == {None}
    assert CustomerProfile.objects.get(customer_id=customer_user.pk).orders_count == 0

    # Saleor links it (what confirmAccount or setPassword do): a plain UPDATE, no hook,
    # ``updated_at`` untouched. The nightly reconcile, whose window no longer covers
    # the order, still finds it.
    match_orders_with_new_user(customer_user)
    report = backfill(since=timezone.now() + timedelta(days=1))
    assert report.orders == 0
    assert report.guest_purchases_claimed == purchases.count()
    assert set(purchases.values_list("customer_id", flat=True)) == {customer_user.pk}
    profile = CustomerProfile.objects.get(customer_id=customer_user.pk)
    assert profile.orders_count == 1
    assert profile.total_spent == sum(
        line.quantity * line.unit_price_gross_amount for line in order_with_lines.lines.all()
    )
    assert backfill().guest_purchases_claimed == 0
    assert CustomerProfile.objects.get(customer_id=customer_user.pk).orders_count == 1


CUSTOMER_UPDATE = """
mutation update($id: ID!, $input: CustomerInput!) {
  customerUpdate(id: $id, input: $input) { errors { field code message } }
}
"""


def test_customer_update_that_links_guest_orders_claims_them_with_counts(
    personalization_config,
    staff_api_client,
    permission_manage_users,
    customer_user,
    order_with_lines,
):
    import graphene

    _make_guest(order_with_lines, "old-guest@example.com")
    backfill()
    assert CustomerProfile.objects.get(customer_id=customer_user.pk).orders_count == 0

    staff_api_client.user.user_permissions.add(permission_manage_users)
    body = staff_api_client.post_graphql(
        CUSTOMER_UPDATE,
        {
            "id": graphene.Node.to_global_id("User", customer_user.pk),
            "input": {"email": "old-guest@example.com"},
        },
    ).json()
    assert body["data"]["customerUpdate"]["errors"] == []

    # Saleor linked the order on the email change; the hook claims it at once.
    purchases = Interaction.objects.filter(kind=InteractionKind.PURCHASE)
    assert set(purchases.values_list("customer_id", flat=True)) == {customer_user.pk}
    assert CustomerProfile.objects.get(customer_id=customer_user.pk).orders_count == 1


def test_backfill_forgets_addresses_of_checkouts_saleor_deleted(checkout_with_item):
    checkout_with_item.email = "shopper@example.com"
    checkout_with_item.save(update_fields=["email"])
    backfill()
    token = str(checkout_with_item.token)
    assert CartState.objects.get(token=token).email == "shopper@example.com"

    checkout_with_item.delete()  # checkoutDelete and expiry fire no plugin hook
    report = backfill()
    assert report.cart_addresses_forgotten == 1
    assert CartState.objects.get(token=token).email == ""
