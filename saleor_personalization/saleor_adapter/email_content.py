"""Checkout content, shop details, SMTP settings and notify events from Saleor.

Read at send time, so an email shows the cart as it is (a completed checkout is
gone: Saleor deletes it when the order is created) and prices in the checkout's
channel and currency. Images are Saleor's thumbnail URLs (256 px).

Prices are what Saleor charges: a variant's price after catalogue promotions (the
channel listing's ``discounted_price``, which Saleor keeps up to date as promotions
start and end, as ``ProductVariant.get_price`` reads it), or a line's price override.
The list price would tell a shopper on a sale a higher total than their cart's.
"""

from django.conf import settings
from django.db.models import F, Min
from django.db.models.functions import Coalesce

from ..configuration import PersonalizationConfig
from ..emails.content import CheckoutContent, EmailLine, EmailProduct, ShopInfo
from ..emails.delivery import SmtpSettings, plugin_smtp_settings
from .configuration import PLUGIN_ID

THUMBNAIL_SIZE = 256
NOTIFY_EVENT = "personalization_abandoned_checkout"


# A variant listing's price after catalogue promotions (null before Saleor first
# computes it: the list price then).
_CHARGED = Coalesce(F("discounted_price_amount"), F("price_amount"))


def _image_url(media) -> str:
    from saleor.core.utils import build_absolute_uri
    from saleor.thumbnail.utils import get_image_or_proxy_url

    if media is None:
        return ""
    return build_absolute_uri(
        get_image_or_proxy_url(None, str(media.id), "ProductMedia", THUMBNAIL_SIZE, None)
    )


def _first_media(product):
    media = list(product.media.all())
    return media[0] if media else None


class SaleorCheckoutSource:
    def content(self, token: str) -> CheckoutContent | None:
        from saleor.checkout.models import Checkout
        from saleor.product.models import ProductVariantChannelListing

        try:
            checkout = (
                Checkout.objects.select_related("user", "channel", "billing_address")
                .filter(token=token)
                .first()
            )
        except Exception:  # a malformed token is no checkout
            return None
        if checkout is None:
            return None
        lines = list(
            checkout.lines.select_related("variant__product").prefetch_related(
                "variant__product__media"
            )
        )
        prices = dict(
            ProductVariantChannelListing.objects.filter(
                variant_id__in=[line.variant_id for line in lines], channel=checkout.channel
            )
            .annotate(charged=_CHARGED)
            .values_list("variant_id", "charged")
        )
        user = checkout.user
        first_name = (user.first_name if user else "") or (
            checkout.billing_address.first_name if checkout.billing_address else ""
        )
        return CheckoutContent(
            token=str(checkout.token),
            email=checkout.get_customer_email() or "",
            channel=checkout.channel.slug,
            currency=checkout.currency,
            language=checkout.language_code or "",
            first_name=first_name,
            customer_id=checkout.user_id,
            account_email=(user.email if user else "") or "",
            channel_active=checkout.channel.is_active,
            lines=[
                EmailLine(
                    product_id=line.variant.product_id,
                    name=line.variant.product.name,
                    variant=line.variant.name or "",
                    quantity=line.quantity,
                    unit_price=(
                        line.price_override
                        if line.price_override is not None
                        else prices.get(line.variant_id)
                    ),
                    currency=checkout.currency,
                    image_url=_image_url(_first_media(line.variant.product)),
                )
                for line in lines
            ],
        )

    def products(self, product_ids: list[int], channel: str) -> list[EmailProduct]:
        from saleor.channel.models import Channel
        from saleor.product.models import Product, ProductVariantChannelListing

        currency = (
            Channel.objects.filter(slug=channel).values_list("currency_code", flat=True).first()
            or ""
        )
        prices = dict(
            ProductVariantChannelListing.objects.filter(
                variant__product_id__in=product_ids,
                channel__slug=channel,
                price_amount__isnull=False,
            )
            .values("variant__product_id")
            .annotate(price=Min(_CHARGED))
            .values_list("variant__product_id", "price")
        )
        products = Product.objects.filter(pk__in=list(prices)).prefetch_related("media")
        by_id = {product.pk: product for product in products}
        return [
            EmailProduct(
                product_id=product_id,
                name=by_id[product_id].name,
                price=prices[product_id],
                currency=currency,
                image_url=_image_url(_first_media(by_id[product_id])),
                slug=by_id[product_id].slug,
            )
            for product_id in product_ids
            if product_id in by_id
        ]

    def shop(self) -> ShopInfo:
        from django.contrib.sites.models import Site
        from saleor.core.utils import build_absolute_uri, get_domain

        site = Site.objects.get_current()
        return ShopInfo(
            name=site.name,
            public_url=build_absolute_uri(f"/plugins/global/{PLUGIN_ID}"),
            sender_address=settings.DEFAULT_FROM_EMAIL,
            warnings=site_domain_warnings(get_domain(site)),
        )

    def notify(self, payload: dict, channel: str) -> None:
        from saleor.plugins.manager import get_plugins_manager

        manager = get_plugins_manager(allow_replica=False)
        manager.notify(NOTIFY_EVENT, payload_func=lambda: payload, channel_slug=channel)


# Saleor's and Django's defaults: links built from them reach nobody but this machine.
PLACEHOLDER_DOMAINS = ("localhost", "127.0.0.1", "example.com", "[::1]")


def site_domain_warnings(domain: str) -> tuple[str, ...]:
    """Why the email's links (images, open pixel, clicks, unsubscribe) may not work.

    They are absolute URLs built from Saleor's Site domain (Dashboard: Configuration >
    Site settings, or ``PUBLIC_URL``); a shop that never set it mails links to
    localhost.
    """
    host = (domain or "").split(":")[0].lower()
    if not host or host in PLACEHOLDER_DOMAINS:
        return (
            f"Saleor's Site domain is {domain or 'empty'!r}: links and images in emails will "
            "not reach shoppers. Set the domain in Site settings (or PUBLIC_URL).",
        )
    return ()


def smtp_settings(config: PersonalizationConfig) -> SmtpSettings | None:
    """The plugin's SMTP settings, else Saleor's USER_EMAIL_URL ones, else Django's."""
    own = plugin_smtp_settings(config)
    if own is not None:
        return own
    host = getattr(settings, "USER_EMAIL_HOST", "")
    if host:
        return SmtpSettings(
            host=host,
            port=int(getattr(settings, "USER_EMAIL_PORT", "") or 25),
            username=getattr(settings, "USER_EMAIL_HOST_USER", ""),
            password=getattr(settings, "USER_EMAIL_HOST_PASSWORD", ""),
            use_tls=bool(getattr(settings, "USER_EMAIL_USE_TLS", False)),
            use_ssl=bool(getattr(settings, "USER_EMAIL_USE_SSL", False)),
        )
    return None
