"""Send one reminder email, exactly once.

The row is locked (``SELECT ... FOR UPDATE SKIP LOCKED``) for the whole send: a second
worker, or a duplicate task, finds it locked or no longer pending and returns without
sending. The status becomes ``sent`` in the same transaction as the SMTP hand-off; if
SMTP fails the transaction rolls back, the row stays pending and Celery retries.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction

from ..configuration import PersonalizationConfig
from ..models import AbandonedEmail, CartState, EmailStatus
from ..offers.redemption import live_offer
from ..recommender import serving
from .content import CheckoutSource, EmailProduct
from .render import RenderedEmail, render_email
from .sequence import refusal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    use_tls: bool
    use_ssl: bool


@dataclass(frozen=True)
class SendResult:
    status: str  # "sent", "skipped", "busy", "not-pending"
    reason: str = ""


def smtp_connection(smtp: SmtpSettings | None):
    """An SMTP connection from the plugin's settings, else Django's email backend."""
    if smtp is None or not smtp.host:
        return get_connection()
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=smtp.host,
        port=smtp.port,
        username=smtp.username or None,
        password=smtp.password or None,
        use_tls=smtp.use_tls and not smtp.use_ssl,
        use_ssl=smtp.use_ssl,
        timeout=15,
    )


def stop_reason(row: AbandonedEmail, config: PersonalizationConfig) -> str:
    """Checks made again at send time: the sequence stops as soon as one holds."""
    if not config.abandoned_emails_enabled:
        return "abandoned-checkout emails are switched off"
    if not config.abandoned_recovery_url:
        return "no checkout recovery URL is configured"
    cart = (
        CartState.objects.filter(token=row.checkout_token).values("completed_at", "lines").first()
    )
    if cart is None or cart["completed_at"] is not None:
        return "checkout completed"
    if not cart["lines"]:
        return "checkout emptied"
    return refusal(row.recipient, row.customer_id, config)


def recommendations_for(
    product_ids: list[int],
    customer_id: int | None,
    channel: str,
    count: int,
    config: PersonalizationConfig,
    source: CheckoutSource,
) -> list[EmailProduct]:
    if not count:
        return []
    items = serving.bought_together(product_ids, channel, count, config)
    if len(items) < count:
        shopper = serving.Shopper(customer_id=customer_id)
        seen = {i.product_id for i in items} | set(product_ids)
        items += [
            i
            for i in serving.personalized(shopper, channel, count * 2, config)
            if i.product_id not in seen
        ]
    return source.products([i.product_id for i in items[:count]], channel)


def _message(
    rendered: RenderedEmail, row: AbandonedEmail, sender: str, connection
) -> EmailMultiAlternatives:
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else None
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender,
        to=[row.recipient],
        connection=connection,
        headers={
            "Message-ID": make_msgid(f"abandoned-{row.pk}", domain=domain),
            "List-Unsubscribe": f"<{rendered.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Personalization-Step": str(row.step),
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def send_abandoned_email(
    email_id: int,
    *,
    source: CheckoutSource,
    config: PersonalizationConfig,
    smtp: SmtpSettings | None,
    now: datetime,
) -> SendResult:
    with transaction.atomic():
        row = AbandonedEmail.objects.select_for_update(skip_locked=True).filter(pk=email_id).first()
        if row is None:
            return SendResult("busy", "another worker holds this email")
        if row.status != EmailStatus.PENDING:
            return SendResult("not-pending", row.status)
        reason = stop_reason(row, config)
        content = None if reason else source.content(row.checkout_token)
        if not reason and (content is None or content.completed):
            reason = "checkout no longer exists" if content is None else "checkout completed"
        if not reason and not content.lines:
            reason = "checkout emptied"
        if not reason and not content.channel_active:
            reason = "channel inactive"
        if reason:
            row.status, row.error = EmailStatus.SKIPPED, reason
            row.save(update_fields=["status", "error"])
            return SendResult("skipped", reason)

        last_step = len(config.abandoned_step_hours)
        offer = None
        if row.step == last_step and config.abandoned_include_offer and row.customer_id:
            offer = live_offer(row.customer_id, now)
        recommended = (
            recommendations_for(
                [line.product_id for line in content.lines],
                row.customer_id,
                content.channel,
                config.abandoned_recommendations,
                config,
                source,
            )
            if row.step >= 2
            else []
        )
        shop = source.shop()
        rendered = render_email(
            content=content,
            step=row.step,
            email_id=row.pk,
            config=config,
            shop=shop,
            recommendations=recommended,
            voucher_code=offer.code if offer else "",
            voucher_expires=offer.expires_at if offer else None,
        )
        sender_address = config.sender_address or shop.sender_address or settings.DEFAULT_FROM_EMAIL
        sender = formataddr((config.sender_name or shop.name, sender_address))
        message_id = ""
        if config.email_send_via_smtp:
            message = _message(rendered, row, sender, smtp_connection(smtp))
            message.send(fail_silently=False)
            message_id = message.extra_headers["Message-ID"]
        if config.email_emit_notify_event:
            source.notify(
                {
                    "recipient_email": row.recipient,
                    "subject": rendered.subject,
                    "html": rendered.html,
                    "text": rendered.text,
                    "checkout_token": row.checkout_token,
                    "step": row.step,
                    "language": row.language,
                    "recovery_url": rendered.recovery_url,
                    "unsubscribe_url": rendered.unsubscribe_url,
                    "voucher_code": offer.code if offer else "",
                    "lines": [
                        {"name": line.name, "quantity": line.quantity, "image_url": line.image_url}
                        for line in content.lines
                    ],
                },
                content.channel,
            )
        row.status = EmailStatus.SENT
        row.sent_at = now
        row.subject = rendered.subject[:255]
        row.message_id = message_id
        row.voucher_code = offer.code if offer else ""
        row.attempts += 1
        row.error = ""
        row.save()
        return SendResult("sent")


def mark_failed(email_id: int, error: str) -> None:
    AbandonedEmail.objects.filter(pk=email_id, status=EmailStatus.PENDING).update(
        status=EmailStatus.FAILED, error=error[:2000]
    )
