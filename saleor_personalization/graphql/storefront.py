"""Storefront fields: product lists and event tracking, open to every shopper.

They read precomputed lists through :mod:`..recommender.serving` (one indexed read)
and turn product ids into the shop's product objects through the backend in one
batch, so an unpublished or unlisted product is dropped by the shop's own visibility
rules and a list of N products costs the same few queries as a list of one.
"""

import hashlib

from django.utils import timezone

from ..events.attribution import record_click
from ..events.identity import is_valid_storefront_id, storefront_identity
from ..events.recording import TrackedShopper, record_view
from ..recommender import serving
from .backend import Requestor, ShopBackend
from .cost import DEFAULT_FIRST, MAX_FIRST
from .errors import ErrorCode, PersonalizationError
from .ids import read_served_recommendation_id, served_recommendation_id
from .throttle import allow
from .types import PersonalizationTrackEventInput

MAX_RERANK = 100


def page_size(first: int | None, warnings: list[str]) -> int:
    if first is None:
        return DEFAULT_FIRST
    if first < 1:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, f"first must be between 1 and {MAX_FIRST}.", "first"
        )
    if first > MAX_FIRST:
        warnings.append(f"first capped at {MAX_FIRST} (asked for {first}).")
        return MAX_FIRST
    return first


def anonymous_identity(anonymous_id: str | None) -> str:
    if not anonymous_id:
        return ""
    if not is_valid_storefront_id(anonymous_id):
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            "anonymousId must be 1-64 letters, digits, '-', '_' or '.'.",
            "anonymousId",
        )
    return storefront_identity(anonymous_id)


def text_argument(value: str, field: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it as bad input, not a database error."""
    if "\x00" in value:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, f"{field} must not contain NUL characters.", field
        )
    return value


def served_to(requestor: Requestor, anonymous_id: str | None) -> str:
    """Who a list is served to, as bound into its recommendationIds.

    The logged-in customer; else the storefront's anonymous id; else the client
    itself (an app, or an address), so an id served to nobody in particular is still
    only good for whoever fetched it.
    """
    if requestor.customer_id:
        return f"u{requestor.customer_id}"
    if anonymous_id:
        anonymous_identity(anonymous_id)  # validates
        return f"s:{anonymous_id}"
    return requestor.client_key


def shopper_for(requestor: Requestor, anonymous_id: str | None) -> serving.Shopper:
    """A logged-in customer is always themselves; anyone else is their anonymous id."""
    if requestor.customer_id:
        return serving.Shopper(customer_id=requestor.customer_id)
    return serving.Shopper(anonymous_id=anonymous_identity(anonymous_id))


def product_list(
    backend: ShopBackend,
    info,
    items: list[serving.Recommendation],
    channel: str,
    warnings,
    shopper: str,
) -> dict:
    products = backend.products(info, [item.product_id for item in items], channel)
    served_at = timezone.now()
    return {
        "items": [
            {
                "product": products[item.product_id],
                "reason": item.reason,
                "source": item.source,
                "score": item.score,
                "recommendation_id": served_recommendation_id(
                    item.source, item.product_id, served_at, shopper
                ),
            }
            for item in items
            if item.product_id in products
        ],
        "warnings": warnings,
    }


def _list_query(backend: ShopBackend, info, channel: str, first: int | None):
    warnings: list[str] = []
    size = page_size(first, warnings)
    slug = backend.channel(info, text_argument(channel, "channel"))
    return slug, size, warnings, backend.config(info)


def visible_product_id(backend, info, global_id: str, channel: str) -> int:
    """A product the requestor may see in the channel; hidden answers exactly as missing."""
    product_id = backend.product_id(info, global_id)
    if not backend.product_visible(info, product_id, channel):
        raise PersonalizationError(ErrorCode.NOT_FOUND, "There is no such product.", "product")
    return product_id


def personalized_products(
    backend, info, *, channel, first=None, anonymous_id=None, discovery_share=1.0
) -> dict:
    if discovery_share is None or not 0 <= discovery_share <= 1:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            "discoveryShare must be between 0 and 1 (1: only 'for you', 0: only 'buy again').",
            "discoveryShare",
        )
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.personalized(shopper, slug, size, config, discovery_share=discovery_share)
    return product_list(backend, info, items, slug, warnings, served_to(requestor, anonymous_id))


def buy_again_products(backend, info, *, channel, first=None, anonymous_id=None) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    if anonymous_id:
        anonymous_identity(anonymous_id)  # validated as on every list, though unused
    if not requestor.customer_id:
        warnings.append("buyAgainProducts is empty for a shopper who is not logged in.")
    items = serving.buy_again(
        serving.Shopper(customer_id=requestor.customer_id), slug, size, config
    )
    return product_list(backend, info, items, slug, warnings, served_to(requestor, anonymous_id))


def similar_products(backend, info, *, product, channel, first=None, anonymous_id=None) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    served = served_to(requestor, anonymous_id)
    product_id = visible_product_id(backend, info, product, slug)
    items = serving.similar(product_id, slug, size, config, shopper_for(requestor, anonymous_id))
    return product_list(backend, info, items, slug, warnings, served)


def frequently_bought_together(
    backend, info, *, channel, product=None, checkout=None, first=None, anonymous_id=None
) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    served = served_to(requestor, anonymous_id)
    if bool(product) == bool(checkout):
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT, "Give exactly one of product or checkout.", "product"
        )
    if product:
        product_ids = [visible_product_id(backend, info, product, slug)]
    else:
        product_ids = backend.checkout_products(info, checkout, requestor)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.bought_together(
        product_ids, slug, size, config, shopper, follow_session=bool(checkout)
    )
    return product_list(backend, info, items, slug, warnings, served)


def recently_viewed_products(backend, info, *, channel, first=None, anonymous_id=None) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.recently_viewed(shopper, slug, size, config)
    return product_list(backend, info, items, slug, warnings, served_to(requestor, anonymous_id))


def trending_products(
    backend, info, *, channel, category=None, first=None, anonymous_id=None
) -> dict:
    slug, size, warnings, config = _list_query(backend, info, channel, first)
    requestor = backend.requestor(info)
    served = served_to(requestor, anonymous_id)
    category_id = backend.category_id(info, category) if category else None
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.trending(slug, size, config, category_id=category_id, shopper=shopper)
    return product_list(backend, info, items, slug, warnings, served)


def rerank_products(backend, info, *, products, channel, anonymous_id=None) -> dict:
    warnings: list[str] = []
    if len(products) > MAX_RERANK:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            f"At most {MAX_RERANK} products can be reranked.",
            "products",
        )
    slug = backend.channel(info, text_argument(channel, "channel"))
    # Ids are decoded, not looked up: a product that no longer exists is left out as
    # one the shopper may not see is (a storefront page with a deleted product still
    # reranks, and the answer does not tell hidden products from missing ones).
    try:
        product_ids = backend.product_ids(info, products, must_exist=False)
    except PersonalizationError as error:  # name the argument the storefront sent
        raise PersonalizationError(error.code, error.message, "products") from None
    requestor = backend.requestor(info)
    shopper = shopper_for(requestor, anonymous_id)
    items = serving.rerank(shopper, product_ids, slug, backend.config(info))
    return product_list(backend, info, items, slug, warnings, served_to(requestor, anonymous_id))


# Tracking ---------------------------------------------------------------------------


def track_event(backend, info, *, input: PersonalizationTrackEventInput) -> dict:
    if getattr(info.context, RATE_LIMITED_FLAG, False):
        # An earlier trackEvent of this request was refused: the rest (aliases, a
        # batch) are refused before any lookup, so a request of hundreds costs little.
        _refuse(backend.config(info).track_rate_limit)
    requestor = backend.requestor(info)
    config = backend.config(info)
    slug = backend.channel(info, text_argument(input.channel, "channel"))
    if requestor.customer_id:
        shopper = TrackedShopper(customer_id=requestor.customer_id)
    elif input.anonymous_id:
        anonymous_identity(input.anonymous_id)  # validates
        shopper = TrackedShopper(anonymous_id=input.anonymous_id)
    else:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            "Log in or send the shopper's anonymousId.",
            "anonymousId",
        )
    # The Dashboard's switches: tracking at all, and anonymous shoppers' events.
    recording = config.tracking_enabled and (bool(requestor.customer_id) or config.track_anonymous)
    event_id = text_argument(input.event_id or "", "eventId")
    if len(event_id) > 64:
        raise PersonalizationError(ErrorCode.INVALID_ARGUMENT, "eventId is too long.", "eventId")
    kind = input.kind.value if hasattr(input.kind, "value") else input.kind
    if kind == "product_view":
        if not input.product:
            raise PersonalizationError(
                ErrorCode.INVALID_ARGUMENT, "PRODUCT_VIEW needs product.", "product"
            )
        product_id = visible_product_id(backend, info, input.product, slug)
        _throttle(info, requestor, config.track_rate_limit)
        if not recording:
            return {"recorded": False}
        return {"recorded": record_view(shopper, product_id, slug, event_id=event_id)}
    if not input.recommendation_id:
        raise PersonalizationError(
            ErrorCode.INVALID_ARGUMENT,
            "RECOMMENDATION_CLICK needs recommendationId.",
            "recommendationId",
        )
    ref = read_served_recommendation_id(
        input.recommendation_id, click_candidates(requestor, input.anonymous_id), timezone.now()
    )
    _throttle(info, requestor, config.track_rate_limit)
    if not recording:
        return {"recorded": False}
    # One click per served item, whoever sends it and whatever eventIds a replay invents.
    served = hashlib.sha256(input.recommendation_id.encode()).hexdigest()[:40]
    return {"recorded": record_click(shopper, ref, slug, served_key=f"served-{served}")}


def click_candidates(requestor: Requestor, anonymous_id: str | None) -> list[str]:
    """Whom a click may come from: the customer, their storefront id (served before
    logging in), or the client that fetched a list served to nobody in particular."""
    candidates = [requestor.client_key]
    if requestor.customer_id:
        candidates.append(f"u{requestor.customer_id}")
    if anonymous_id:
        candidates.append(f"s:{anonymous_id}")
    return candidates


RATE_LIMITED_FLAG = "_personalization_rate_limited"


def _throttle(info, requestor: Requestor, limit: int) -> None:
    if not allow(requestor.client_key, limit):
        setattr(info.context, RATE_LIMITED_FLAG, True)
        _refuse(limit)


def _refuse(limit: int) -> None:
    raise PersonalizationError(
        ErrorCode.RATE_LIMITED, f"More than {limit} events a minute; slow down."
    )
