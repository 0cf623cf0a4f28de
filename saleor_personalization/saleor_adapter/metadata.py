"""Saleor metadata: ids a storefront leaves for the plugin, segments the plugin writes."""

from ..events.identity import is_valid_storefront_id, storefront_identity
from .availability import saleor_available

# Public checkout metadata key a storefront sets (``updateMetadata``) to tie its own
# anonymous shopper id to the checkout.
ANONYMOUS_ID_KEY = "personalization_anonymous_id"


def storefront_id_of(checkout) -> str:
    """The namespaced storefront id on the checkout, or "" when absent or malformed."""
    storage = getattr(checkout, "metadata_storage", None)
    value = (getattr(storage, "metadata", None) or {}).get(ANONYMOUS_ID_KEY, "")
    value = str(value).strip()
    return storefront_identity(value) if is_valid_storefront_id(value) else ""


SEGMENTS_KEY = "personalization.segments"


def write_customer_segments(batch_size: int = 2000) -> int:
    """Mirror current segment keys into each customer's public metadata.

    ``personalization.segments`` holds the keys comma-separated (Saleor metadata
    values are strings), so apps, webhooks and Dashboard filters can use them. Only
    customers whose value changes are written, in batches, without firing Saleor's
    customer webhooks for what is derived data. Returns how many were updated.
    """
    if not saleor_available():
        return 0
    from saleor.account.models import User

    from ..models import SegmentMembership
    from .db import iter_id_batches

    keys: dict[int, list[str]] = {}
    for customer_id, key in (
        SegmentMembership.objects.filter(left_at__isnull=True, segment__is_active=True)
        .order_by("segment__key")
        .values_list("customer_id", "segment__key")
        .iterator(chunk_size=10000)
    ):
        keys.setdefault(customer_id, []).append(key)
    relevant = User.objects.filter(pk__in=list(keys)) | User.objects.filter(
        metadata__has_key=SEGMENTS_KEY
    )
    updated = 0
    for ids in iter_id_batches(relevant, batch_size):
        changed = []
        for user in User.objects.filter(pk__in=ids).only("pk", "metadata"):
            value = ",".join(keys.get(user.pk, []))
            if value and user.metadata.get(SEGMENTS_KEY) != value:
                user.store_value_in_metadata({SEGMENTS_KEY: value})
                changed.append(user)
            elif not value and SEGMENTS_KEY in user.metadata:
                user.delete_value_from_metadata(SEGMENTS_KEY)
                changed.append(user)
        User.objects.bulk_update(changed, ["metadata"])
        updated += len(changed)
    return updated
