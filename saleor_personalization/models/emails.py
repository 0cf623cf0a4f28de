"""Abandoned-checkout emails: one row per checkout and step, and who opted out."""

from django.db import models
from django.utils import timezone


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Not sent (stopped or not allowed)"
    FAILED = "failed", "Failed after retries"


class AbandonedEmail(models.Model):
    """Step ``step`` of the reminder sequence for one checkout.

    The unique (checkout, step) pair is what makes sending exactly-once: a duplicate
    scan cannot create a second row, and the sender locks the row while it sends, so
    two workers (or a retried task) cannot both send it.
    """

    checkout_token = models.CharField(max_length=64)
    step = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    # The customer whose personal content (history, consent, code) the email used;
    # None for a guest or for an address that is not the account's own.
    customer_id = models.BigIntegerField(null=True, blank=True)
    # SHA-256 of the address, never the address: the sender reads the address from
    # the checkout when it sends; opt-outs, unsubscribe links and erasure match the hash.
    recipient_hash = models.CharField(max_length=64, blank=True, default="")
    language = models.CharField(max_length=8, blank=True, default="")
    channel = models.CharField(max_length=255, blank=True, default="")
    subject = models.CharField(max_length=255, blank=True, default="")
    message_id = models.CharField(max_length=255, blank=True, default="")
    voucher_code = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    order_ref = models.CharField(max_length=64, blank=True, default="")
    revenue = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")

    class Meta:
        app_label = "saleor_personalization"
        constraints = [
            models.UniqueConstraint(
                fields=["checkout_token", "step"], name="sp_abandoned_email_once"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="sp_abandoned_email_status"),
            models.Index(fields=["recipient_hash"], name="sp_abandoned_email_rcpt_hash"),
        ]

    def __str__(self) -> str:
        return f"step {self.step} for {self.checkout_token} ({self.status})"


class EmailOptOut(models.Model):
    """An address that unsubscribed; kept as a hash, so it outlives erasure safely."""

    email_hash = models.CharField(max_length=64, primary_key=True)
    opted_out_at = models.DateTimeField()

    class Meta:
        app_label = "saleor_personalization"

    def __str__(self) -> str:
        return f"opt-out {self.email_hash[:8]}"
