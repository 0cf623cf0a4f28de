"""The interaction log: what shoppers did, one row per event, written once.

Ids are plain integer columns rather than foreign keys to Saleor's tables so that a
product or customer deletion in Saleor never cascades into (or locks) this large table;
erasure is done explicitly by the plugin.
"""

from django.db import models
from django.db.models import Q

from .identity import ANONYMOUS_ID_LENGTH


class InteractionKind(models.TextChoices):
    VIEW = "view", "Product view"
    ADD_TO_CART = "add_to_cart", "Add to cart"
    REMOVE_FROM_CART = "remove_from_cart", "Remove from cart"
    CHECKOUT_STARTED = "checkout_started", "Checkout started"
    PURCHASE = "purchase", "Purchase"
    RECOMMENDATION_CLICK = "recommendation_click", "Recommendation click"


class Interaction(models.Model):
    """One shopper event.

    ``source_key`` identifies where the event came from (an order line, a checkout line
    change, a storefront event id). It is unique, so replaying a hook, a retried task or
    reloading an export inserts nothing twice.
    """

    customer_id = models.BigIntegerField(null=True, blank=True)
    anonymous_id = models.CharField(max_length=ANONYMOUS_ID_LENGTH, blank=True, default="")
    product_id = models.BigIntegerField()
    variant_id = models.BigIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=255, blank=True, default="")
    kind = models.CharField(max_length=32, choices=InteractionKind.choices)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    basket_ref = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Order number, invoice or checkout token that groups events into a basket.",
    )
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    source_key = models.CharField(max_length=191, unique=True)

    class Meta:
        app_label = "saleor_personalization"
        indexes = [
            models.Index(fields=["customer_id", "occurred_at"], name="sp_interaction_customer"),
            models.Index(fields=["anonymous_id", "occurred_at"], name="sp_interaction_anonymous"),
            models.Index(fields=["product_id", "kind"], name="sp_interaction_product"),
            models.Index(fields=["occurred_at"], name="sp_interaction_occurred"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(customer_id__isnull=False) | ~Q(anonymous_id=""),
                name="sp_interaction_has_identity",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="sp_interaction_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=InteractionKind.values), name="sp_interaction_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        who = f"customer {self.customer_id}" if self.customer_id else f"anon {self.anonymous_id}"
        return f"{who} {self.kind} product {self.product_id}"
