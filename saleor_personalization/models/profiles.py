"""The feature store: what the model knows about products and customers."""

from django.db import models
from django.db.models import Q


class ItemProfile(models.Model):
    """A product as the recommender sees it.

    ``product_id`` is Saleor's product primary key inside Saleor; standalone, the loader
    allocates ids and keeps the source's own code in ``external_ref``.
    """

    product_id = models.BigIntegerField(primary_key=True)
    external_ref = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Product slug in Saleor, stock code in an order export.",
    )
    name = models.CharField(max_length=250)
    category_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    category_path = models.JSONField(default=list, blank=True, help_text="Root-to-leaf names.")
    product_type = models.CharField(max_length=250, blank=True, default="")
    attributes = models.JSONField(default=list, blank=True, help_text='["slug:value", ...]')
    collections = models.JSONField(default=list, blank=True)
    price_amount = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            models.UniqueConstraint(
                fields=["external_ref"],
                condition=~Q(external_ref=""),
                name="sp_item_external_ref_unique",
            ),
            models.CheckConstraint(
                condition=Q(price_amount__isnull=True) | Q(price_amount__gte=0),
                name="sp_item_price_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ItemChannel(models.Model):
    """Per-channel state a business rule needs: published, available, in stock."""

    item = models.ForeignKey(ItemProfile, on_delete=models.CASCADE, related_name="channels")
    channel = models.CharField(max_length=255)
    is_available = models.BooleanField(
        default=True, help_text="Published, visible in listings and available for purchase."
    )
    in_stock = models.BooleanField(default=True)
    price_amount = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            models.UniqueConstraint(fields=["item", "channel"], name="sp_item_channel_unique"),
        ]
        indexes = [
            models.Index(fields=["channel", "is_available"], name="sp_item_channel_available"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}@{self.channel}"


class CustomerProfile(models.Model):
    """A customer's features and order summary, keyed by Saleor's user id.

    No address is stored: ``email_digest`` (a keyed hash, see
    ``events.identity.address_digest``) is enough to match an address, and a sender
    reads the current address from Saleor (``saleor_adapter.customers.customer_emails``).
    """

    customer_id = models.BigIntegerField(primary_key=True)
    email_digest = models.CharField(
        max_length=64, blank=True, default="", help_text="Keyed hash of the account's email."
    )
    country = models.CharField(max_length=2, blank=True, default="", help_text="ISO 3166-1 alpha-2")
    language_code = models.CharField(max_length=35, blank=True, default="")
    first_seen_at = models.DateTimeField(null=True, blank=True)
    orders_count = models.PositiveIntegerField(default=0)
    total_spent = models.DecimalField(max_digits=14, decimal_places=3, default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    last_order_at = models.DateTimeField(null=True, blank=True)
    marketing_consent = models.BooleanField(default=False)
    purchase_propensity = models.FloatField(
        null=True, blank=True, help_text="Chance of an order in the next 30 days (learned)."
    )
    consent_updated_at = models.DateTimeField(null=True, blank=True)
    metadata_consent = models.BooleanField(
        null=True,
        blank=True,
        help_text=(
            "The consent metadata key's value as last imported: only a change of it grants or "
            "withdraws, so a stale key never overrides the customer's own later choice."
        ),
    )
    attributes = models.JSONField(
        default=list,
        blank=True,
        help_text="'key=value' pairs of the customer metadata keys mapped in the settings.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "saleor_personalization"
        indexes = [
            models.Index(fields=["email_digest"], name="sp_customer_email_digest"),
            models.Index(fields=["last_order_at"], name="sp_customer_last_order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_spent__gte=0), name="sp_customer_spent_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id}"
