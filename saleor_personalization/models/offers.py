"""Segment offers: per-customer voucher codes, and the holdout that gets none."""

from django.db import models
from django.db.models import Q


class SegmentOffer(models.Model):
    """One customer's place in one campaign: a code of their own, or the holdout.

    A campaign is a Saleor voucher targeted at a segment (``voucher:<id>``) or a
    Dashboard automation (``winback``, ``abandoner``). While an offer is open
    (``closed_at`` empty) the customer gets no second one for that campaign: the
    database refuses it, so two workers issuing at once cannot double up; issuing never
    gives a customer a second offer of the same campaign voucher, open or not.

    ``email_hash`` (SHA-256 of the lower-cased address at issue time) lets a guest
    checkout with the owner's address use the code without keeping the address: the
    code is sent by reading the customer's address from Saleor at send time.
    ``redeemed_at`` is set when a checkout claims the code, inside the order's
    transaction where Saleor has one; ``order_ref`` is then ``checkout:<token>`` until
    the order exists, and the order's id after.
    """

    campaign = models.CharField(max_length=64)
    segment_key = models.SlugField(max_length=100)
    voucher_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    email_hash = models.CharField(max_length=64, blank=True, default="")
    code = models.CharField(max_length=64, null=True, blank=True, unique=True)
    holdout = models.BooleanField(default=False)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    order_ref = models.CharField(max_length=64, blank=True, default="")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer_id"],
                condition=Q(closed_at__isnull=True),
                name="sp_offer_one_open_per_campaign",
            ),
            models.CheckConstraint(
                condition=Q(holdout=True, code__isnull=True) | Q(holdout=False, code__isnull=False),
                name="sp_offer_code_unless_holdout",
            ),
        ]
        indexes = [
            models.Index(fields=["customer_id", "issued_at"], name="sp_offer_customer"),
            models.Index(fields=["campaign", "issued_at"], name="sp_offer_campaign"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} for {self.customer_id}"
