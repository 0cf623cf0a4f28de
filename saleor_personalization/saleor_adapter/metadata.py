"""Values a storefront leaves for the plugin in Saleor metadata."""

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
