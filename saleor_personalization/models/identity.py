"""Who is behind an anonymous id, and what each checkout held when we last saw it."""

from django.db import models
from django.db.models import Q

# A namespaced id: "s:" and a storefront id of up to 64 characters (a SHA-256 in hex
# fits), "c:" and a checkout token, "e:" and an address digest.
ANONYMOUS_ID_LENGTH = 80


class AnonymousIdentity(models.Model):
    """An anonymous id (storefront id, checkout) proven to be a customer's.

    Rows are written on proof only: a checkout the customer is logged in to or attached
    to, or an order Saleor placed or linked under the account. Events recorded later
    under the anonymous id are attributed to the customer at once. A guest's email id
    is never one of them: anyone can type an address.
    """

    anonymous_id = models.CharField(max_length=ANONYMOUS_ID_LENGTH, primary_key=True)
    customer_id = models.BigIntegerField(db_index=True)
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "saleor_personalization"

    def __str__(self) -> str:
        return f"{self.anonymous_id} -> {self.customer_id}"


class CartState(models.Model):
    """The last seen contents of a checkout, to turn snapshots into add/remove events.

    ``lines`` maps a line key (variant id) to ``[product_id, quantity]``. ``version``
    grows with every change and is part of each event's source key, so a replayed
    snapshot produces no new events and a later real change always does.

    ``customer_id`` is the account the checkout provably belongs to: the checkout's
    ``user`` as Saleor set it (an authenticated request or ``checkoutCustomerAttach``),
    or the account that placed its order; never an account matched by the typed email.
    ``email`` is the checkout's own address, kept only while reminders may still be
    sent: cleared when the checkout completes, when Saleor deletes it, or once it has
    been idle past the reminder window (the nightly reconcile).
    """

    token = models.CharField(max_length=64, primary_key=True)
    channel = models.CharField(max_length=255, blank=True, default="")
    customer_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    anonymous_id = models.CharField(max_length=ANONYMOUS_ID_LENGTH, blank=True, default="")
    email = models.EmailField(blank=True, default="", db_index=True)
    language_code = models.CharField(max_length=35, blank=True, default="")
    lines = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=0)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    last_change_at = models.DateTimeField(null=True, blank=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    order_ref = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        app_label = "saleor_personalization"
        indexes = [
            # The abandoned-checkout scan: open carts with an address, by idle time.
            models.Index(
                fields=["last_change_at"],
                condition=Q(completed_at__isnull=True) & ~Q(email=""),
                name="sp_cart_abandonable",
            ),
        ]

    def __str__(self) -> str:
        return f"cart {self.token} v{self.version}"


class ErasedIdentity(models.Model):
    """A customer or guest identity whose data was erased, and when.

    Saleor keeps orders of deleted customers (with their email) for accounting, so a
    reconcile would otherwise learn them again. Activity from before ``erased_at`` is
    never recorded for these identities; new activity after it is. Only namespaced ids
    are stored (``u:<customer id>``, ``e:<email hash>``), never an address.
    """

    identity = models.CharField(max_length=ANONYMOUS_ID_LENGTH, primary_key=True)
    erased_at = models.DateTimeField()

    class Meta:
        app_label = "saleor_personalization"

    def __str__(self) -> str:
        return f"{self.identity} erased {self.erased_at:%Y-%m-%d}"
