"""Turn a checkout into a reminder email: subject, HTML and plain text (Handlebars).

The HTML template and subject come from the Dashboard when the admin set them, else
the built-in ones in the checkout's language. Links to the storefront go through the
click tracker; the open pixel and the unsubscribe link point at the plugin's URLs.
"""

import html
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources

from pybars import Compiler

from ..configuration import PersonalizationConfig
from .content import CheckoutContent, EmailProduct, ShopInfo
from .links import click_url, open_url, unsubscribe_url
from .strings import language_of, strings_for


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    unsubscribe_url: str
    recovery_url: str


def money(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else f"{amount:,.2f} {currency}".strip()


@cache
def _compiled(source: str):
    try:
        return Compiler().compile(source)
    except Exception as error:  # pybars raises its own PybarsError and plain errors
        raise TemplateError(f"the template does not compile: {error}") from error


@cache
def default_body() -> str:
    return (
        resources.files("saleor_personalization")
        .joinpath("templates/saleor_personalization/email/abandoned.html")
        .read_text(encoding="utf-8")
    )


def validate_templates(subject: str, body: str) -> None:
    """Raise TemplateError if the Dashboard's templates cannot render."""
    for source in (subject, body):
        if source:
            _compiled(source)


def render_email(
    *,
    content: CheckoutContent,
    step: int,
    email_id: int,
    config: PersonalizationConfig,
    shop: ShopInfo,
    recommendations: list[EmailProduct],
    voucher_code: str = "",
    voucher_expires: datetime | None = None,
) -> RenderedEmail:
    strings = strings_for(content.language)
    base = shop.public_url.rstrip("/")
    recovery = config.abandoned_recovery_url.replace("{token}", content.token)
    unsubscribe = unsubscribe_url(base, content.email, content.customer_id)
    greeting = (
        strings["hello"].format(name=content.first_name)
        if content.first_name
        else strings["hello_anonymous"]
    )
    context = {
        "language": language_of(content.language),
        "step": step,
        "shop_name": shop.name,
        "first_name": content.first_name,
        "greeting": greeting,
        "line_count": len(content.lines),
        "lines": [
            {
                "name": line.name,
                "variant": line.variant if line.variant != line.name else "",
                "quantity": line.quantity,
                "price": money(line.total, line.currency),
                "image_url": line.image_url,
            }
            for line in content.lines
        ],
        "total": money(content.total, content.currency),
        "recovery_url": click_url(base, email_id, recovery),
        "recommendations": [
            {
                "name": product.name,
                "price": money(product.price, product.currency),
                "image_url": product.image_url,
                "url": click_url(base, email_id, product.url or recovery),
            }
            for product in recommendations
        ],
        "voucher_code": voucher_code,
        "voucher_expires": voucher_expires.strftime("%Y-%m-%d") if voucher_expires else "",
        "unsubscribe_url": unsubscribe,
        "open_pixel_url": open_url(base, email_id),
        "text": {
            **{k: v for k, v in strings.items() if isinstance(v, str)},
            "intro": strings["intro"].get(step, strings["intro"][1]),
        },
    }
    subject_source = config.email_subject_template or strings["subjects"].get(
        step, strings["subjects"][1]
    )
    subject = " ".join(str(_compiled(subject_source)(context)).split())
    context["subject"] = subject
    body = str(_compiled(config.email_body_template or default_body())(context))
    return RenderedEmail(
        subject=html.unescape(subject),
        html=body,
        text=_text(context, strings, recovery, unsubscribe),
        unsubscribe_url=unsubscribe,
        recovery_url=recovery,
    )


def _text(context: dict, strings: dict, recovery: str, unsubscribe: str) -> str:
    """The plain-text part: same content, direct links (no click tracking needed)."""
    lines = [context["shop_name"], "", f"{context['greeting']} {context['text']['intro']}", ""]
    for line in context["lines"]:
        variant = f" ({line['variant']})" if line["variant"] else ""
        lines.append(f"- {line['name']}{variant} x {line['quantity']}  {line['price']}".rstrip())
    lines += ["", f"{strings['total']}: {context['total']}", ""]
    if context["voucher_code"]:
        expiry = (
            f" ({strings['offer_expires']} {context['voucher_expires']})"
            if context["voucher_expires"]
            else ""
        )
        lines += [f"{strings['offer']} {context['voucher_code']}{expiry}", ""]
    lines += [f"{strings['button']}: {recovery}", ""]
    if context["recommendations"]:
        lines.append(strings["recommendations"] + ":")
        lines += [f"- {p['name']}  {p['price']}".rstrip() for p in context["recommendations"]]
        lines.append("")
    lines += [strings["footer"], f"{strings['unsubscribe']}: {unsubscribe}"]
    return "\n".join(lines) + "\n"
