"""Read Saleor's customers into :class:`CustomerFeatures` for the feature store."""

from collections.abc import Iterator, Sequence

from ..features.customers import CustomerFeatures
from .db import iter_id_batches, replica_name

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def metadata_value(user, key: str) -> str:
    """The customer's value for ``key``, private metadata first, then public.

    Private metadata is where shops keep what the customer should not edit (a loyalty
    tier, consent recorded by staff); public metadata, where a storefront writes, is
    read when the key has no private value. Stripped and lower-cased; "" when neither
    has one.
    """
    for metadata in (user.private_metadata, user.metadata):
        value = str((metadata or {}).get(key, "")).strip().lower()
        if value:
            return value
    return ""


def consent_from_metadata(user, key: str) -> bool | None:
    """Consent stored by the shop in customer metadata (:func:`metadata_value`), or
    ``None`` when absent or unclear."""
    value = metadata_value(user, key) if key else ""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


ATTRIBUTE_VALUE_LENGTH = 64


def attributes_from_metadata(user, keys: Sequence[str]) -> tuple[str, ...] | None:
    """``key=value`` for each mapped key the customer has, private metadata first.

    Values are read by :func:`metadata_value`, lower-cased and cut, so "Gold" and
    "gold " are one feature. ``None`` when no key is mapped, so a sync leaves the
    profile's attributes alone.
    """
    if not keys:
        return None
    values = {key: metadata_value(user, key) for key in keys}
    return tuple(
        sorted(f"{key}={value[:ATTRIBUTE_VALUE_LENGTH]}" for key, value in values.items() if value)
    )


def customer_features(
    user, consent_key: str = "", attribute_keys: Sequence[str] = ()
) -> CustomerFeatures:
    address = user.default_billing_address or user.default_shipping_address
    country = address.country.code if address and address.country else ""
    return CustomerFeatures(
        customer_id=user.pk,
        email=user.email or "",
        country=country or "",
        language_code=user.language_code or "",
        first_seen_at=user.date_joined,
        consent=consent_from_metadata(user, consent_key),
        attributes=attributes_from_metadata(user, attribute_keys),
    )


def read_customers(
    customer_ids: Sequence[int], consent_key: str = "", attribute_keys: Sequence[str] = ()
) -> list[CustomerFeatures]:
    from saleor.account.models import User

    users = (
        User.objects.using(replica_name())
        .filter(pk__in=customer_ids, is_staff=False)
        .select_related("default_billing_address", "default_shipping_address")
    )
    return [customer_features(user, consent_key, attribute_keys) for user in users]


def iter_customer_ids(batch_size: int = 1000) -> Iterator[list[int]]:
    from saleor.account.models import User

    return iter_id_batches(User.objects.using(replica_name()).filter(is_staff=False), batch_size)


def customer_emails(customer_ids: Sequence[int]) -> dict[int, str]:
    """The current address of each of these customers, read from Saleor's accounts.

    The plugin keeps no customer address of its own (only a keyed hash): whatever
    sends to a customer asks Saleor here, so a changed address is used at once and
    a deleted account gets nothing.
    """
    ids = [customer_id for customer_id in customer_ids if customer_id]
    if not ids:
        return {}
    from saleor.account.models import User

    return {
        pk: email
        for pk, email in User.objects.using(replica_name())
        .filter(pk__in=ids, is_active=True)
        .values_list("pk", "email")
        if email
    }


def customer_email(customer_id: int) -> str:
    """:func:`customer_emails` for one customer ("" when unknown)."""
    return customer_emails([customer_id]).get(customer_id, "")
