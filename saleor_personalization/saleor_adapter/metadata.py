"""Saleor metadata: ids a storefront leaves for the plugin, segments the plugin writes."""

from ..events.identity import is_valid_storefront_id, storefront_identity

# Public checkout metadata key a storefront sets (``updateMetadata``) to tie its own
# anonymous shopper id to the checkout.
ANONYMOUS_ID_KEY = "personalization_anonymous_id"


def storefront_id_of(checkout) -> str:
    """The namespaced storefront id on the checkout, or "" when absent or malformed."""
    storage = getattr(checkout, "metadata_storage", None)
    value = (getattr(storage, "metadata", None) or {}).get(ANONYMOUS_ID_KEY, "")
    value = str(value).strip()
    return storefront_identity(value) if is_valid_storefront_id(value) else ""


# One public metadata key per segment a customer belongs to, e.g.
# ``personalization.segment.rfm-champions = "Champions"``: Saleor's metadata filter
# (the Dashboard's customer list, ``customers(filter: {metadata: [{key: …}]})``) matches
# a key, or a key and its whole value, so a key per segment is what makes "customers
# in segment X" a filter an admin can set. The value is the segment's plain name.
SEGMENT_KEY_PREFIX = "personalization.segment."
# Until 0.1 the keys were one comma-separated value, which no filter can match; it is
# removed from a customer the next time their segments are written.
LEGACY_SEGMENTS_KEY = "personalization.segments"


def segment_metadata_key(segment_key: str) -> str:
    return f"{SEGMENT_KEY_PREFIX}{segment_key}"


def _segment_entries(metadata: dict) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k.startswith(SEGMENT_KEY_PREFIX)}


def write_customer_segments(batch_size: int = 2000) -> int:
    """Mirror current segment memberships into each customer's public metadata.

    Only customers whose segments (or a segment's name) changed are written, in
    batches, with ``bulk_update`` so that Saleor's customer webhooks do not fire for
    what is derived data. Keys of segments a customer left are deleted. Returns how
    many customers were updated.
    """
    from django.db.models import Q
    from saleor.account.models import User

    from ..models import Segment, SegmentMembership
    from .db import iter_id_batches

    wanted: dict[int, dict[str, str]] = {}
    for customer_id, key, name in (
        SegmentMembership.objects.filter(left_at__isnull=True, segment__is_active=True)
        .values_list("customer_id", "segment__key", "segment__name")
        .iterator(chunk_size=10000)
    ):
        wanted.setdefault(customer_id, {})[segment_metadata_key(key)] = name
    # Customers who may carry a key to delete: segments are deactivated, never
    # deleted, so every key the plugin ever wrote is one of these.
    every_key = [segment_metadata_key(key) for key in Segment.objects.values_list("key", flat=True)]
    relevant = User.objects.filter(pk__in=list(wanted)) | User.objects.filter(
        Q(metadata__has_key=LEGACY_SEGMENTS_KEY) | Q(metadata__has_any_keys=every_key)
    )
    updated = 0
    for ids in iter_id_batches(relevant, batch_size):
        changed = []
        for user in User.objects.filter(pk__in=ids).only("pk", "metadata"):
            target = wanted.get(user.pk, {})
            current = _segment_entries(user.metadata)
            if current == target and LEGACY_SEGMENTS_KEY not in user.metadata:
                continue
            for key in current.keys() - target.keys():
                user.delete_value_from_metadata(key)
            user.delete_value_from_metadata(LEGACY_SEGMENTS_KEY)
            if target:
                user.store_value_in_metadata(target)
            changed.append(user)
        User.objects.bulk_update(changed, ["metadata"])
        updated += len(changed)
    return updated
