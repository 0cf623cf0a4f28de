"""Turn a checkout into a reminder email: subject, HTML and plain text (Handlebars).

The HTML template and subject come from the Dashboard when the admin set them, else
the built-in ones in the checkout's language. Links to the storefront go through the
click tracker; the open pixel and the unsubscribe link point at the plugin's URLs.

pybars does not reject every broken template: an unclosed ``{{#each}}`` compiles and
silently renders nothing from that point on. So a Dashboard template is checked by
balancing its blocks and rendering it against sample data on save, and the sender
refuses a rendered email with an empty part.
"""

import base64
import html
import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources

from pybars import Compiler

from ..configuration import PersonalizationConfig
from .content import CheckoutContent, EmailLine, EmailProduct, ShopInfo
from .links import click_url, email_hash, open_url, unsubscribe_url
from .strings import language_of, strings_for


class TemplateError(ValueError):
    """A template cannot be used; ``part`` is "subject" or "body"."""

    def __init__(self, message: str, part: str = "body", *, at_render: bool = False):
        super().__init__(message)
        self.part = part
        self.at_render = at_render  # compiled, but a helper or lookup failed rendering


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    unsubscribe_url: str
    recovery_url: str

    def empty_part(self) -> str:
        """The name of a part that rendered empty, or "": such an email is never sent."""
        for name in ("subject", "html", "text"):
            if not getattr(self, name).strip():
                return name
        return ""


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


_BLOCK = re.compile(r"{{~?\s*([#^/])\s*([\w.-]+)|{{~?\s*(else)\b")


def _unbalanced_block(source: str) -> str:
    """Describe the first unclosed or stray ``{{#block}}``, or "" if they all pair up."""
    stack: list[tuple[str, int]] = []
    for match in _BLOCK.finditer(source):
        sigil, name = match.group(1), match.group(2)
        line = source.count("\n", 0, match.start()) + 1
        if sigil in ("#", "^"):
            stack.append((name, line))
        elif sigil == "/":
            if not stack:
                return f"{{{{/{name}}}}} on line {line} closes no block"
            opened, opened_line = stack.pop()
            if opened != name:
                return (
                    f"{{{{#{opened}}}}} from line {opened_line} is closed by {{{{/{name}}}}} "
                    f"on line {line}"
                )
    if stack:
        name, line = stack[-1]
        return f"{{{{#{name}}}}} on line {line} is never closed (add {{{{/{name}}}}})"
    return ""


SAMPLE_CONTENT = CheckoutContent(
    token="00000000-0000-0000-0000-000000000000",
    email="shopper@example.com",
    channel="sample",
    currency="USD",
    language="en",
    first_name="Alex",
    lines=[
        EmailLine(1, "Blue Mug", "Large", 2, Decimal("12.50"), "USD", "https://x.test/1.png"),
        EmailLine(2, "Green Tea", "", 1, Decimal("6.00"), "USD"),
    ],
)
SAMPLE_PRODUCTS = [EmailProduct(3, "Red Teapot", Decimal("30.00"), "USD", "", "red-teapot")]
SAMPLE_SHOP = ShopInfo(name="Sample shop", public_url="https://shop.test/p", sender_address="")


def validate_templates(subject: str, body: str, config: PersonalizationConfig) -> None:
    """Raise TemplateError unless the Dashboard's templates render a usable email.

    Each step is rendered against sample data (a named shopper with two lines,
    recommendations and a code), as the sender would render it.
    """
    for part, source in (("subject", subject), ("body", body)):
        if not source:
            continue
        _compiled_part(source, part)
        problem = _unbalanced_block(source)
        if problem:
            raise TemplateError(f"the template is incomplete: {problem}", part)
    config = replace(config, email_subject_template=subject, email_body_template=body)
    for step in range(1, len(config.abandoned_step_hours) + 1):
        try:
            rendered = render_email(
                content=SAMPLE_CONTENT,
                step=step,
                email_id=1,
                config=config,
                shop=SAMPLE_SHOP,
                recommendations=SAMPLE_PRODUCTS,
                voucher_code="SAMPLE-CODE",
                voucher_expires=datetime(2030, 1, 1),
                recovery_template="https://shop.test/cart/{token}",
            )
        except TemplateError as error:
            if error.at_render:  # a helper or lookup that fails at render time
                raise TemplateError(
                    f"the template fails on sample data: {error}", error.part
                ) from error
            raise
        if not rendered.subject.strip():
            raise TemplateError(f"the subject renders empty for step {step}", "subject")
        if not rendered.html.strip():
            raise TemplateError(f"the body renders empty for step {step}")
        if body and rendered.unsubscribe_url not in rendered.html:
            raise TemplateError(
                "the body must contain the unsubscribe link: add "
                '<a href="{{unsubscribe_url}}">...</a>'
            )


def _rendered_part(template, context: dict, part: str) -> str:
    """Render one part; a failure names that part (the Dashboard marks its field)."""
    try:
        return str(template(context))
    except Exception as error:
        raise TemplateError(str(error), part, at_render=True) from error


def _compiled_part(source: str, part: str):
    try:
        return _compiled(source)
    except TemplateError as error:
        raise TemplateError(str(error), part) from None


def product_url(template: str, product: EmailProduct) -> str:
    """The storefront page of a product from the Dashboard's template; "" without one."""
    if not template or (not product.slug and "{slug}" in template):
        return ""
    global_id = base64.b64encode(f"Product:{product.product_id}".encode()).decode()
    return template.replace("{slug}", product.slug).replace("{id}", global_id)


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
    recovery_template: str = "",
) -> RenderedEmail:
    strings = strings_for(content.language)
    base = shop.public_url.rstrip("/")
    recovery = (recovery_template or config.abandoned_recovery_url).replace(
        "{token}", content.token
    )
    unsubscribe = unsubscribe_url(base, email_id, email_hash(content.email))
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
                "url": click_url(base, email_id, target) if target else "",
                "direct_url": target,
            }
            for product, target in (
                (product, product_url(config.storefront_product_url, product))
                for product in recommendations
            )
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
    subject = html.unescape(
        " ".join(
            _rendered_part(_compiled_part(subject_source, "subject"), context, "subject").split()
        )
    )
    # Plain text: the body's {{subject}} (its <title>) escapes it once, as any variable.
    context["subject"] = subject
    body = _rendered_part(
        _compiled_part(config.email_body_template or default_body(), "body"), context, "body"
    )
    return RenderedEmail(
        subject=subject,
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
        lines += [
            f"- {p['name']}  {p['price']}  {p['direct_url']}".rstrip()
            for p in context["recommendations"]
        ]
        lines.append("")
    lines += [strings["footer"], f"{strings['unsubscribe']}: {unsubscribe}"]
    return "\n".join(lines) + "\n"
