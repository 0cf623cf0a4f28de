"""Checkout content without Saleor: the plugin's cart mirror and item profiles.

Product images come from ``PERSONALIZATION_PRODUCT_IMAGE_URL`` (a template with
``{id}`` and ``{ref}``), since an order export has none.
"""

from decimal import Decimal

from django.conf import settings

from ..emails.content import CheckoutContent, EmailLine, EmailProduct, ShopInfo
from ..models import CartState, ItemChannel, ItemProfile


def _image(profile: ItemProfile) -> str:
    template = getattr(settings, "PERSONALIZATION_PRODUCT_IMAGE_URL", "")
    if not template:
        return ""
    return template.replace("{id}", str(profile.product_id)).replace(
        "{ref}", profile.external_ref or str(profile.product_id)
    )


def _price(listing: ItemChannel | None, profile: ItemProfile) -> tuple[Decimal | None, str]:
    if listing is not None and listing.price_amount is not None:
        return listing.price_amount, listing.currency or profile.currency
    return profile.price_amount, profile.currency


class StandaloneCheckoutSource:
    def content(self, token: str) -> CheckoutContent | None:
        cart = CartState.objects.filter(token=token).first()
        if cart is None:
            return None
        quantities: dict[int, int] = {}
        for product_id, quantity in (cart.lines or {}).values():
            quantities[int(product_id)] = quantities.get(int(product_id), 0) + int(quantity)
        profiles = ItemProfile.objects.in_bulk(list(quantities))
        listings = {
            row.item_id: row
            for row in ItemChannel.objects.filter(
                item_id__in=list(quantities), channel=cart.channel
            )
        }
        lines = []
        currency = ""
        for product_id, quantity in quantities.items():
            profile = profiles.get(product_id)
            if profile is None:
                continue
            price, currency = _price(listings.get(product_id), profile)
            lines.append(
                EmailLine(
                    product_id=product_id,
                    name=profile.name,
                    variant="",
                    quantity=quantity,
                    unit_price=price,
                    currency=currency,
                    image_url=_image(profile),
                )
            )
        return CheckoutContent(
            token=cart.token,
            email=cart.email,
            channel=cart.channel,
            currency=currency,
            language=cart.language_code,
            lines=lines,
            first_name="",
            customer_id=cart.customer_id,
            completed=cart.completed_at is not None,
        )

    def products(self, product_ids: list[int], channel: str) -> list[EmailProduct]:
        profiles = ItemProfile.objects.in_bulk(product_ids)
        listings = {
            row.item_id: row
            for row in ItemChannel.objects.filter(item_id__in=product_ids, channel=channel)
        }
        result = []
        for product_id in product_ids:
            profile = profiles.get(product_id)
            if profile is None:
                continue
            price, currency = _price(listings.get(product_id), profile)
            result.append(
                EmailProduct(
                    product_id=product_id,
                    name=profile.name,
                    price=price,
                    currency=currency,
                    image_url=_image(profile),
                )
            )
        return result

    def shop(self) -> ShopInfo:
        return ShopInfo(
            name=getattr(settings, "PERSONALIZATION_SHOP_NAME", "Demo shop"),
            public_url=getattr(settings, "PERSONALIZATION_PUBLIC_URL", "http://127.0.0.1:8000"),
            sender_address=settings.DEFAULT_FROM_EMAIL,
        )

    def notify(self, payload: dict, channel: str) -> None:
        return None
