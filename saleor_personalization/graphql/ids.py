"""Ids the API hands out: global ids in Saleor's format, and served recommendation ids."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from graphql_relay import from_global_id

from ..events.attribution import RecommendationRef
from .errors import ErrorCode, PersonalizationError


def database_id(global_id: str, expected: str, field: str, cast: Callable[[str], Any] = int):
    """The primary key in ``global_id``, which must name an ``expected`` object."""
    try:
        kind, pk = from_global_id(global_id)
        if kind != expected:
            raise ValueError(kind)
        return cast(pk)
    except Exception as error:
        raise PersonalizationError(
            ErrorCode.INVALID_ID, f"Not a valid {expected} id: {global_id!r}.", field
        ) from error


# Recommendation ids as served: bound to a shopper and short-lived --------------------

RECOMMENDATION_TTL = timedelta(hours=24)
_SERVED = signing.Signer(salt="saleor_personalization.recommendation.served")


def _fingerprint(shopper: str) -> str:
    """A keyed hash of who was served: the id says nothing readable about the shopper."""
    return salted_hmac("saleor_personalization.recommendation.shopper", shopper).hexdigest()[:16]


def served_recommendation_id(
    source: str, product_id: int, served_at: datetime, shopper: str
) -> str:
    """The ``recommendationId`` of one served item, for ``shopper`` only (see ``shopper_keys``)."""
    return _SERVED.sign(
        f"{source}.{product_id}.{int(served_at.timestamp())}.{_fingerprint(shopper)}"
    )


def read_served_recommendation_id(
    value: str, shoppers: list[str], now: datetime
) -> RecommendationRef:
    """The served item behind ``value`` if one of ``shoppers`` was served it, recently.

    A replay by anyone else, or after ``RECOMMENDATION_TTL``, is refused with a clear
    INVALID_ID error (and records nothing), so a storefront bug shows instead of
    silently losing clicks.
    """
    try:
        source, product, served, fingerprint = _SERVED.unsign(value).split(".")
        ref = RecommendationRef(
            source=source,
            product_id=int(product),
            served_at=datetime.fromtimestamp(int(served), tz=UTC),
        )
    except (signing.BadSignature, ValueError) as error:
        raise PersonalizationError(
            ErrorCode.INVALID_ID,
            "Not a recommendationId issued by this shop.",
            "recommendationId",
        ) from error
    if not any(constant_time_compare(fingerprint, _fingerprint(shopper)) for shopper in shoppers):
        raise PersonalizationError(
            ErrorCode.INVALID_ID,
            "This recommendationId was served to another shopper.",
            "recommendationId",
        )
    if now - ref.served_at > RECOMMENDATION_TTL:
        raise PersonalizationError(
            ErrorCode.INVALID_ID,
            "This recommendationId has expired: clicks count within 24 hours of serving.",
            "recommendationId",
        )
    return ref
