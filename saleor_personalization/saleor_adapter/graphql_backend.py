"""The GraphQL backend inside Saleor: Saleor's ``Product`` type, auth and visibility.

Products are loaded through Saleor's own ``resolve_products`` (the resolver behind
``products`` on ``/graphql/``), so a product that is unpublished, not visible in
listings or not in the channel is dropped exactly as Saleor drops it, and results are
wrapped in ``ChannelContext`` so pricing, thumbnails and availability resolve per
channel as in the main API.
"""

import uuid

import jwt
from graphql.language import ast
from saleor.account.models import User
from saleor.checkout.models import Checkout, CheckoutLine
from saleor.graphql.channel.dataloaders.by_self import ChannelBySlugLoader
from saleor.graphql.core.context import ChannelContext
from saleor.graphql.product.resolvers import resolve_products
from saleor.graphql.product.types import Product as ProductType
from saleor.graphql.query_cost_map import COST_MAP as SALEOR_COST_MAP
from saleor.graphql.utils import get_user_or_app_from_context
from saleor.permission.enums import PluginsPermissions
from saleor.product.models import Category, Product

from ..configuration import PersonalizationConfig
from ..graphql.backend import Requestor
from ..graphql.client_address import client_address
from ..graphql.cost import ROOT_FIELDS, QueryTooComplex, merged_cost_map, query_cost
from ..graphql.errors import ErrorCode, PersonalizationError
from ..graphql.ids import database_id
from .configuration import load_configuration
from .db import replica_name


def _state(context, config: PersonalizationConfig | None = None) -> dict:
    """Per-request memo on Saleor's context (requestor, settings, channels)."""
    state = getattr(context, "_personalization", None)
    if state is None:
        state = {"channels": {}}
        context._personalization = state
    if config is not None:
        state["config"] = config
    return state


def invalid_token_message(error: Exception) -> str:
    """One sentence, whether or not the JWT library ends its message with a full stop."""
    return f"Invalid or expired token: {str(error).rstrip('.')}."


def remember_config(context, config: PersonalizationConfig) -> None:
    """The plugin endpoint already holds the plugin's settings (and costed the request)."""
    _state(context, config)["endpoint"] = True


# Saleor's cost map with the plugin's fields: the whole document is costed alike.
COST_MAP = merged_cost_map(SALEOR_COST_MAP)


class SaleorBackend:
    product_type = ProductType
    permission_name = "MANAGE_PLUGINS"

    def admit(self, info) -> None:
        """Refuse a field when the plugin is off or the request asks for too much.

        The plugin endpoint costs the whole request before running it. On Saleor's
        ``/graphql/`` Saleor costs the document with its own limit; the plugin's
        fields there are costed here, summed over every operation of the request
        (aliases, batches), against the plugin's limit and depth; over it, each of
        them fails alone with QUERY_TOO_COMPLEX and Saleor's fields still answer.
        """
        config = self.config(info)
        state = _state(info.context)
        if state.get("endpoint"):
            return
        costed = state.setdefault("costed", [])
        # One entry per execution: Saleor caches parsed documents, so a batch repeating
        # a query shares the operation object; each execution has its own variables.
        execution = info.variable_values
        if not any(seen is execution for seen, _ in costed):
            document = ast.Document(definitions=[info.operation, *info.fragments.values()])
            try:
                cost = query_cost(
                    info.schema,
                    document,
                    info.variable_values,
                    cost_map=COST_MAP,
                    root_fields=ROOT_FIELDS,
                ).cost
            except QueryTooComplex as error:
                state["too_complex"] = str(error)
                cost = 0
            costed.append((execution, cost))
        if state.get("too_complex"):
            raise PersonalizationError(ErrorCode.QUERY_TOO_COMPLEX, state["too_complex"])
        total = sum(cost for _, cost in costed)
        if total > config.graphql_max_cost:
            raise PersonalizationError(
                ErrorCode.QUERY_TOO_COMPLEX,
                f"The personalization fields of this request cost {total}, more than the "
                f"limit of {config.graphql_max_cost}.",
            )

    def requestor(self, info) -> Requestor:
        context = info.context
        state = _state(context)
        if "requestor" in state:
            return state["requestor"]
        app = getattr(context, "app", None)
        try:
            user = None if app else context.user
            user = user if isinstance(user, User) and user.is_active else None
        except jwt.InvalidTokenError as error:
            raise PersonalizationError(
                ErrorCode.INVALID_TOKEN, invalid_token_message(error)
            ) from error
        actor = app or user
        if app:
            client = f"a{app.pk}"
        elif user:
            client = f"u{user.pk}"
        else:
            address = client_address(context.META, self.config(info).trusted_proxies)
            client = f"ip:{address}"
        requestor = Requestor(
            customer_id=user.pk if user else None,
            app_id=app.pk if app else None,
            client_key=client,
            can_manage=lambda: bool(actor and actor.has_perm(PluginsPermissions.MANAGE_PLUGINS)),
        )
        state["requestor"] = requestor
        return requestor

    def config(self, info) -> PersonalizationConfig:
        state = _state(info.context)
        if "config" not in state:
            config, active = load_configuration()
            if not active:
                raise PersonalizationError(
                    ErrorCode.UNAVAILABLE, "The personalization plugin is not active."
                )
            state["config"] = config
        return state["config"]

    def channel(self, info, slug: str) -> str:
        channels = _state(info.context)["channels"]
        if slug not in channels:
            # Saleor's loader: the product resolvers load the same channel through it,
            # so the row is read once per request.
            channel = ChannelBySlugLoader(info.context).load(slug).get()
            if channel is None:
                raise PersonalizationError(
                    ErrorCode.UNKNOWN_CHANNEL, f"There is no channel {slug!r}.", "channel"
                )
            channels[slug] = channel
        return slug

    def product_id(self, info, global_id: str) -> int:
        return self.product_ids(info, [global_id])[0]

    def product_ids(self, info, global_ids: list[str], *, must_exist: bool = True) -> list[int]:
        product_ids = [database_id(global_id, "Product", "product") for global_id in global_ids]
        if not must_exist:
            return product_ids
        known = set(
            Product.objects.using(replica_name())
            .filter(pk__in=product_ids)
            .values_list("pk", flat=True)
        )
        if not known.issuperset(product_ids):
            raise PersonalizationError(ErrorCode.NOT_FOUND, "There is no such product.", "product")
        return product_ids

    def category_id(self, info, global_id: str) -> int:
        category_id = database_id(global_id, "Category", "category")
        if not Category.objects.using(replica_name()).filter(pk=category_id).exists():
            raise PersonalizationError(
                ErrorCode.NOT_FOUND, "There is no such category.", "category"
            )
        return category_id

    def checkout_products(self, info, token: str, requestor: Requestor) -> list[int]:
        """Like Saleor's ``checkout(id)``: the token is the key, a customer's cart is theirs."""
        not_found = PersonalizationError(
            ErrorCode.NOT_FOUND, "There is no such checkout.", "checkout"
        )
        try:
            key = uuid.UUID(token)
        except ValueError:
            try:
                key = uuid.UUID(database_id(token, "Checkout", "checkout", cast=str))
            except (PersonalizationError, ValueError):
                raise not_found from None
        checkout = (
            Checkout.objects.using(replica_name()).filter(token=key).values("user_id").first()
        )
        if checkout is None:
            raise not_found
        owner = checkout["user_id"]
        if owner and owner != requestor.customer_id and not requestor.can_manage:
            raise not_found
        products = (
            CheckoutLine.objects.using(replica_name())
            .filter(checkout_id=key)
            .values_list("variant__product_id", flat=True)
        )
        return list(dict.fromkeys(products))

    def product_visible(self, info, product_id: int, channel: str) -> bool:
        """As Saleor's ``product(id, channel)`` decides (``visible_to_user``), which
        does not ask for ``visibleInListings``: that flag only keeps a product out of
        lists."""
        self.requestor(info)
        channel_obj = _state(info.context)["channels"].get(channel)
        requestor = get_user_or_app_from_context(info.context)
        return (
            Product.objects.using(replica_name())
            .visible_to_user(requestor, channel_obj, True)
            .filter(pk=product_id)
            .exists()
        )

    def products(self, info, product_ids: list[int], channel: str) -> dict[int, ChannelContext]:
        if not product_ids:
            return {}
        self.requestor(info)  # turns a bad token into INVALID_TOKEN before Saleor reads it
        channel_obj = _state(info.context)["channels"].get(channel)
        requestor = get_user_or_app_from_context(info.context)
        visible = resolve_products(info, requestor, channel_obj, True).qs.filter(pk__in=product_ids)
        return {
            product.pk: ChannelContext(node=product, channel_slug=channel) for product in visible
        }
