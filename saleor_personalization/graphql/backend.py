"""What the schema needs from the shop it runs in."""

from collections.abc import Callable
from typing import Any, Protocol

from ..configuration import PersonalizationConfig


class Requestor:
    """Who sent the request, resolved once per request.

    ``can_manage`` is computed on first use (a permission lookup), so storefront
    queries that never need it never pay for it.
    """

    def __init__(
        self,
        *,
        customer_id: int | None = None,
        app_id: int | None = None,
        client_key: str = "",
        can_manage: Callable[[], bool] = lambda: False,
        authenticated: bool | None = None,
    ):
        self.customer_id = customer_id
        self.app_id = app_id
        self._authenticated = (
            authenticated if authenticated is not None else bool(customer_id or app_id)
        )
        self.client_key = client_key
        self._can_manage = can_manage
        self._managed: bool | None = None

    @property
    def can_manage(self) -> bool:
        if self._managed is None:
            self._managed = bool(self._can_manage())
        return self._managed

    @property
    def is_anonymous(self) -> bool:
        """No login of any kind (a staff token without a customer is not anonymous)."""
        return not self._authenticated


class ShopBackend(Protocol):
    """The shop-specific half of the API (Saleor, or the standalone item profiles)."""

    product_type: Any  # the graphene type of a recommended product
    permission_name: str  # shown in PERMISSION_DENIED messages

    def admit(self, info) -> None:
        """Run before every root field: raises UNAVAILABLE / QUERY_TOO_COMPLEX to refuse it."""

    def requestor(self, info) -> Requestor: ...

    def config(self, info) -> PersonalizationConfig: ...

    def channel(self, info, slug: str) -> str:
        """The channel slug if it exists and is active (raises UNKNOWN_CHANNEL)."""

    def product_id(self, info, global_id: str) -> int:
        """The database id behind a product's global id (raises INVALID_ID / NOT_FOUND)."""

    def product_ids(self, info, global_ids: list[str], *, must_exist: bool = True) -> list[int]:
        """The database ids behind these global ids, in order, in one query for all.

        Raises INVALID_ID for the first malformed id and, with ``must_exist``, NOT_FOUND
        if any is unknown (without, ids are only decoded: a list's unknown products are
        left out by the rules as hidden ones are). A list of N products
        (``rerankProducts``) must not make N queries.
        """

    def category_id(self, info, global_id: str) -> int:
        """The database id behind a category's global id (raises INVALID_ID / NOT_FOUND)."""

    def checkout_products(self, info, token: str, requestor: Requestor) -> list[int]:
        """Products in the requestor's checkout (raises NOT_FOUND for others' checkouts)."""

    def products(self, info, product_ids: list[int], channel: str) -> dict[int, Any]:
        """The visible ones of these products, as roots for ``product_type``."""

    def product_visible(self, info, product_id: int, channel: str) -> bool:
        """Whether the requestor may see this product's own page in the channel.

        Wider than :meth:`products`, which is for lists: a product a merchant keeps out
        of listings is still on sale on its page, so its page can ask for similar
        products and record its views.
        """
