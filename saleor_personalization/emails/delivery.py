"""Send one reminder email, exactly once, to the checkout's own address.

The row is locked (``SELECT ... FOR UPDATE SKIP LOCKED``) for the whole send: a second
worker, or a duplicate task, finds it locked or no longer pending and returns without
sending. The status becomes ``sent`` in the same transaction as the SMTP hand-off; if
SMTP fails the transaction rolls back, the row stays pending and Celery retries.

The address is read from the checkout at send time and never stored: the row keeps
its hash. Personal content (picks from history, the customer's code, their consent)
is used only for the account that owns the checkout, and only when the email goes to
that account's own address (:attr:`CheckoutContent.shopper_id`).
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
from ..offers.redemption import LiveOffer, live_offer
from ..recommender import serving
from .content import CheckoutContent, CheckoutSource, EmailProduct
from .links import email_hash
from .render import RenderedEmail, TemplateError, render_email
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


def plugin_smtp_settings(config: PersonalizationConfig) -> SmtpSettings | None:
    """The SMTP server the admin set in the plugin's own settings, if any."""
    if not config.smtp_host:
        return None
    return SmtpSettings(
        host=config.smtp_host,
        port=config.smtp_port,
        username=config.smtp_user,
        password=config.smtp_password,
        use_tls=config.smtp_use_tls,
        use_ssl=config.smtp_use_ssl,
    )


@dataclass(frozen=True)
class SendResult:
    status: str  # "sent", "skipped", "failed", "busy", "not-pending"
    reason: str = ""


@dataclass(frozen=True)
class ComposedEmail:
    """Everything one step's email is made of, as the shopper would receive it."""

    rendered: RenderedEmail
    recipient: str
    shopper_id: int | None
    offer: LiveOffer | None
    recommendations: list[EmailProduct]


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
    if not config.abandoned_recovery_url:
        return "no checkout recovery URL is configured (abandoned-checkout emails are off)"
    if not config.abandoned_emails_enabled:
        return "abandoned-checkout emails are paused (email delivery: none)"
    cart = (
        CartState.objects.filter(token=row.checkout_token).values("completed_at", "lines").first()
    )
    if cart is None or cart["completed_at"] is not None:
        return "checkout completed"
    if not cart["lines"]:
        return "checkout emptied"
    return ""


def content_refusal(content: CheckoutContent | None, config: PersonalizationConfig) -> str:
    """Why the checkout as it is now gets no email, or ""."""
    if content is None:
        return "checkout no longer exists"
    if content.completed:
        return "checkout completed"
    if not content.lines:
        return "checkout emptied"
    if not content.channel_active:
        return "channel inactive"
    if not content.email:
        return "checkout has no email address"
    reason = refusal(content.email, content.shopper_id, config)
    if reason == "no marketing consent (guest)" and content.customer_id:
        # A logged-in checkout sent to another address: the account's consent is not its.
        return "no marketing consent (the checkout's address is not the account's own)"
    return reason


def recommendations_for(
    product_ids: list[int],
    customer_id: int | None,
    channel: str,
    count: int,
    config: PersonalizationConfig,
    source: CheckoutSource,
) -> list[EmailProduct]:
    """What goes with the cart, then the customer's own list: both under the rules every
    shopper-facing list obeys (the customer's recent purchases, unless reordered, left out)."""
    if not count:
        return []
    shopper = serving.Shopper(customer_id=customer_id)
    items = serving.bought_together(product_ids, channel, count, config, shopper)
    if len(items) < count:
        seen = {i.product_id for i in items} | set(product_ids)
        items += [
            i
            for i in serving.personalized(shopper, channel, count * 2, config)
            if i.product_id not in seen
        ]
    return source.products([i.product_id for i in items[:count]], channel)


def compose(
    *,
    step: int,
    email_id: int,
    content: CheckoutContent,
    config: PersonalizationConfig,
    source: CheckoutSource,
    now: datetime,
) -> ComposedEmail:
    """The email for one step: used by the sender and by the dry run alike, so the
    dry run shows the subject (offer included) that will be sent."""
    shopper_id = content.shopper_id
    offer = None
    if step == len(config.abandoned_step_hours) and config.abandoned_include_offer and shopper_id:
        offer = live_offer(shopper_id, now)
    recommended = (
        recommendations_for(
            [line.product_id for line in content.lines],
            shopper_id,
            content.channel,
            config.abandoned_recommendations,
            config,
            source,
        )
        if step >= 2
        else []
    )
    rendered = render_email(
        content=content,
        step=step,
        email_id=email_id,
        config=config,
        shop=source.shop(),
        recommendations=recommended,
        voucher_code=offer.code if offer else "",
        voucher_expires=offer.expires_at if offer else None,
    )
    return ComposedEmail(rendered, content.email, shopper_id, offer, recommended)


def sender_of(config: PersonalizationConfig, source: CheckoutSource) -> tuple[str, str]:
    """The From header and the bare sender address."""
    shop = source.shop()
    address = config.sender_address or shop.sender_address or settings.DEFAULT_FROM_EMAIL
    return formataddr((config.sender_name or shop.name, address)), address


def message_id(email_id: int, sender_address: str) -> str:
    """``<...abandoned-N@domain>`` with the domain of the bare address, not of the
    ``Name <address>`` header (whose ``>`` would end up inside the id)."""
    _, at, domain = sender_address.rpartition("@")
    return make_msgid(f"abandoned-{email_id}", domain=domain.strip(" <>") if at else None)


def _message(
    composed: ComposedEmail, row: AbandonedEmail, sender: str, sender_address: str, connection
) -> EmailMultiAlternatives:
    rendered = composed.rendered
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender,
        to=[composed.recipient],
        connection=connection,
        headers={
            "Message-ID": message_id(row.pk, sender_address),
            "List-Unsubscribe": f"<{rendered.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Personalization-Step": str(row.step),
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _close(row: AbandonedEmail, status: str, reason: str) -> SendResult:
    row.status, row.error = status, reason[:2000]
    row.save(update_fields=["status", "error", "customer_id", "recipient_hash"])
    return SendResult(status, reason)


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
        if content is not None:
            # Whoever the scan thought it was for, it goes to the checkout's own shopper.
            row.customer_id = content.shopper_id
            row.recipient_hash = email_hash(content.email) if content.email else ""
        reason = reason or content_refusal(content, config)
        if reason:
            return _close(row, EmailStatus.SKIPPED, reason)

        try:
            composed = compose(
                step=row.step,
                email_id=row.pk,
                content=content,
                config=config,
                source=source,
                now=now,
            )
        except TemplateError as error:
            logger.error("Abandoned email %s not sent: %s", row.pk, error)
            return _close(row, EmailStatus.FAILED, f"template: {error}")
        empty = composed.rendered.empty_part()
        if empty:
            # pybars renders a broken template as nothing rather than failing.
            reason = f"the {empty} part rendered empty; check the Dashboard's email templates"
            logger.error("Abandoned email %s not sent: %s", row.pk, reason)
            return _close(row, EmailStatus.FAILED, reason)

        rendered, offer = composed.rendered, composed.offer
        sent_id = ""
        if config.email_send_via_smtp:
            try:
                sender, sender_address = sender_of(config, source)
                message = _message(composed, row, sender, sender_address, smtp_connection(smtp))
                message.send(fail_silently=False)
            except ValueError as error:
                # A sender or header Django refuses to put in a message (a line break, no
                # address): refused before anything reaches the server, and retrying
                # cannot help. SMTP and network errors are not ValueErrors: they
                # propagate, and the task retries them.
                reason = f"message not built: {error}"
                logger.error("Abandoned email %s not sent: %s", row.pk, reason)
                return _close(row, EmailStatus.FAILED, reason)
            sent_id = message.extra_headers["Message-ID"]
        if config.email_emit_notify_event:
            source.notify(
                {
                    "recipient_email": composed.recipient,
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
        row.message_id = sent_id
        row.voucher_code = offer.code if offer else ""
        row.attempts += 1
        row.error = ""
        row.save()
        return SendResult("sent")


def mark_failed(email_id: int, error: str) -> None:
    AbandonedEmail.objects.filter(pk=email_id, status=EmailStatus.PENDING).update(
        status=EmailStatus.FAILED, error=error[:2000]
    )
