"""The GraphQL API without Saleor: a small product type over the item profiles.

Ids use the same global-id format as Saleor (``base64("Product:<pk>")``), so queries
written against the standalone server run unchanged against a shop. There are no
user accounts: ``saleor-personalization token`` signs a customer or staff token that
expires, for trying the customer and staff fields.
"""

from dataclasses import dataclass
from decimal import Decimal

import graphene
from django.core import signing

from ..configuration import PersonalizationConfig
from ..graphql.backend import Requestor
from ..graphql.client_address import client_address
from ..graphql.errors import ErrorCode, PersonalizationError
from ..graphql.ids import database_id
from ..models import CartState, ItemChannel, ItemProfile
from ..shop import get_shop

TOKEN_SALT = "saleor_personalization.standalone.token"
TOKEN_MAX_AGE = 7 * 24 * 3600


def issue_token(*, customer_id: int | None = None, staff: bool = False) -> str:
    return signing.dumps({"customer": customer_id, "staff": staff}, salt=TOKEN_SALT)


def read_token(token: str, max_age: int = TOKEN_MAX_AGE) -> dict:
    try:
        return signing.loads(token, salt=TOKEN_SALT, max_age=max_age)
    except signing.SignatureExpired as error:
        raise PersonalizationError(ErrorCode.INVALID_TOKEN, "The token has expired.") from error
    except signing.BadSignature as error:
        raise PersonalizationError(ErrorCode.INVALID_TOKEN, "The token is not valid.") from error


@dataclass(frozen=True)
class ProductRoot:
    profile: ItemProfile
    listing: ItemChannel


class PersonalizationMoney(graphene.ObjectType):
    amount = graphene.Float(required=True)
    currency = graphene.String(required=True)


class Product(graphene.ObjectType):
    """A catalogue product as the plugin knows it (Saleor's ``Product`` inside Saleor)."""

    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    channel = graphene.String(required=True)
    category_path = graphene.List(graphene.NonNull(graphene.String), required=True)
    product_type = graphene.String(required=True)
    price = graphene.Field(PersonalizationMoney)
    in_stock = graphene.Boolean(required=True)

    @staticmethod
    def resolve_id(root: ProductRoot, _info):
        return graphene.Node.to_global_id("Product", root.profile.product_id)

    @staticmethod
    def resolve_name(root: ProductRoot, _info):
        return root.profile.name

    @staticmethod
    def resolve_channel(root: ProductRoot, _info):
        return root.listing.channel

    @staticmethod
    def resolve_category_path(root: ProductRoot, _info):
        return list(root.profile.category_path or [])

    @staticmethod
    def resolve_product_type(root: ProductRoot, _info):
        return root.profile.product_type

    @staticmethod
    def resolve_price(root: ProductRoot, _info):
        amount = root.listing.price_amount or root.profile.price_amount
        if amount is None:
            return None
        currency = root.listing.currency or root.profile.currency
        return PersonalizationMoney(amount=float(Decimal(amount)), currency=currency)

    @staticmethod
    def resolve_in_stock(root: ProductRoot, _info):
        return root.listing.in_stock


class StandaloneBackend:
    product_type = Product
    permission_name = "staff token"

    def admit(self, info) -> None:
        """Nothing to check per field: the HTTP layer costed the request."""

    def requestor(self, info) -> Requestor:
        request = info.context
        cached = getattr(request, "_personalization_requestor", None)
        if cached is not None:
            return cached
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if header and scheme.lower() not in {"bearer", "jwt"}:
            raise PersonalizationError(
                ErrorCode.INVALID_TOKEN, "Send the token as 'Authorization: Bearer <token>'."
            )
        claims = read_token(token.strip()) if token.strip() else {}
        customer_id = claims.get("customer")
        staff = bool(claims.get("staff"))
        if customer_id:
            client = f"u{customer_id}"
        elif staff:
            client = "staff"
        else:
            address = client_address(request.META, self.config(info).trusted_proxies)
            client = f"ip:{address}"
        requestor = Requestor(
            customer_id=customer_id,
            client_key=client,
            can_manage=lambda: staff,
            authenticated=bool(customer_id or staff),
        )
        request._personalization_requestor = requestor
        return requestor

    def config(self, info) -> PersonalizationConfig:
        return get_shop().configuration.load()[0]

    def channel(self, info, slug: str) -> str:
        if not ItemChannel.objects.filter(channel=slug).exists():
            raise PersonalizationError(
                ErrorCode.UNKNOWN_CHANNEL, f"There is no channel {slug!r}.", "channel"
            )
        return slug

    def product_id(self, info, global_id: str) -> int:
        return self.product_ids(info, [global_id])[0]

    def product_ids(self, info, global_ids: list[str], *, must_exist: bool = True) -> list[int]:
        product_ids = [database_id(global_id, "Product", "product") for global_id in global_ids]
        if not must_exist:
            return product_ids
        known = set(
            ItemProfile.objects.filter(product_id__in=product_ids).values_list(
                "product_id", flat=True
            )
        )
        if not known.issuperset(product_ids):
            raise PersonalizationError(ErrorCode.NOT_FOUND, "There is no such product.", "product")
        return product_ids

    def category_id(self, info, global_id: str) -> int:
        category_id = database_id(global_id, "Category", "category")
        if not ItemProfile.objects.filter(category_id=category_id).exists():
            raise PersonalizationError(
                ErrorCode.NOT_FOUND, "There is no such category.", "category"
            )
        return category_id

    def checkout_products(self, info, token: str, requestor: Requestor) -> list[int]:
        cart = CartState.objects.filter(token=token, completed_at__isnull=True).first()
        if cart is None or (
            cart.customer_id
            and cart.customer_id != requestor.customer_id
            and not requestor.can_manage
        ):
            raise PersonalizationError(
                ErrorCode.NOT_FOUND, "There is no such checkout.", "checkout"
            )
        return list(dict.fromkeys(int(product) for product, _ in (cart.lines or {}).values()))

    def product_visible(self, info, product_id: int, channel: str) -> bool:
        """The standalone shop keeps nothing out of listings: visible is listed."""
        return bool(self.products(info, [product_id], channel))

    def products(self, info, product_ids: list[int], channel: str) -> dict[int, ProductRoot]:
        listings = ItemChannel.objects.filter(
            item_id__in=product_ids, channel=channel, is_available=True
        ).select_related("item")
        return {row.item_id: ProductRoot(profile=row.item, listing=row) for row in listings}
