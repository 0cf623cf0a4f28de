"""Checkout content without Saleor: the plugin's cart mirror and item profiles.

Product images come from ``PERSONALIZATION_PRODUCT_IMAGE_URL`` (a template with
``{id}`` and ``{ref}``), since an order export has none; a product's external
reference stands in for its slug in product links.

The account's own address is the customer profile's, imported from the shop's
customer export: personal content goes only to a cart whose email is that address.
"""

from decimal import Decimal

from django.conf import settings

from ..emails.content import CheckoutContent, EmailLine, EmailProduct, ShopInfo
from ..events.identity import same_address
from ..models import CartState, CustomerProfile, ItemChannel, ItemProfile


def _image(profile: ItemProfile) -> str:
    template = getattr(settings, "PERSONALIZATION_PRODUCT_IMAGE_URL", "")
    if not template:
        return ""
    return template.replace("{id}", str(profile.product_id)).replace(
        "{ref}", profile.external_ref or str(profile.product_id)
    )


def _priced(product_ids, channel: str) -> dict[int, tuple[ItemProfile, Decimal | None, str]]:
    """Profile, price and currency per product: the channel's price, else the profile's."""
    profiles = ItemProfile.objects.in_bulk(list(product_ids))
    listings = {
        row.item_id: row
        for row in ItemChannel.objects.filter(item_id__in=list(profiles), channel=channel)
    }
    priced = {}
    for product_id, profile in profiles.items():
        listing = listings.get(product_id)
        if listing is not None and listing.price_amount is not None:
            priced[product_id] = (
                profile,
                listing.price_amount,
                listing.currency or profile.currency,
            )
        else:
            priced[product_id] = (profile, profile.price_amount, profile.currency)
    return priced


class StandaloneCheckoutSource:
    def content(self, token: str) -> CheckoutContent | None:
        cart = CartState.objects.filter(token=token).first()
        if cart is None:
            return None
        quantities: dict[int, int] = {}
        for product_id, quantity in (cart.lines or {}).values():
            quantities[int(product_id)] = quantities.get(int(product_id), 0) + int(quantity)
        priced = _priced(quantities, cart.channel)
        lines = []
        currency = ""
        for product_id, quantity in quantities.items():
            if product_id not in priced:
                continue
            profile, price, currency = priced[product_id]
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
        # Standalone keeps no account addresses, only their keyed digests: the cart's
        # address counts as the account's own when it matches the account's digest.
        account_email = ""
        if cart.customer_id:
            digest = (
                CustomerProfile.objects.filter(customer_id=cart.customer_id)
                .values_list("email_digest", flat=True)
                .first()
                or ""
            )
            if same_address(digest, cart.email):
                account_email = cart.email
        return CheckoutContent(
            token=cart.token,
            email=cart.email,
            channel=cart.channel,
            currency=currency,
            language=cart.language_code,
            lines=lines,
            first_name="",
            customer_id=cart.customer_id,
            account_email=account_email,
            completed=cart.completed_at is not None,
        )

    def products(self, product_ids: list[int], channel: str) -> list[EmailProduct]:
        priced = _priced(product_ids, channel)
        return [
            EmailProduct(
                product_id=product_id,
                name=priced[product_id][0].name,
                price=priced[product_id][1],
                currency=priced[product_id][2],
                image_url=_image(priced[product_id][0]),
                slug=priced[product_id][0].external_ref,
            )
            for product_id in product_ids
            if product_id in priced
        ]

    def shop(self) -> ShopInfo:
        return ShopInfo(
            name=getattr(settings, "PERSONALIZATION_SHOP_NAME", "Demo shop"),
            public_url=getattr(settings, "PERSONALIZATION_PUBLIC_URL", "http://127.0.0.1:8000"),
            sender_address=settings.DEFAULT_FROM_EMAIL,
        )

    def notify(self, payload: dict, channel: str) -> None:
        return None
