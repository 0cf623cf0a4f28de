"""Who may call a field: the checks the schema's binders make once per audience.

Storefront fields are open to anyone; customer fields need a logged-in customer;
staff fields need the shop's manage permission (``MANAGE_PLUGINS`` in Saleor, a
staff token standalone). The resolvers in :mod:`.customer` and :mod:`.staff` never
check for themselves: :mod:`.schema` binds every field of those audiences through
``customer(...)`` or ``staff(...)``, so a field cannot be declared without its check.
"""

from .backend import Requestor, ShopBackend
from .errors import ErrorCode, PersonalizationError


def require_customer(backend: ShopBackend, info) -> int:
    """The logged-in customer's id (NOT_AUTHENTICATED for apps, staff tokens, anonymous)."""
    requestor = backend.requestor(info)
    if not requestor.customer_id:
        raise PersonalizationError(
            ErrorCode.NOT_AUTHENTICATED, "Log in as a customer to use this field."
        )
    return requestor.customer_id


def require_manager(backend: ShopBackend, info) -> Requestor:
    """The requestor, if they may manage the plugin (NOT_AUTHENTICATED / PERMISSION_DENIED)."""
    requestor = backend.requestor(info)
    if requestor.can_manage:
        return requestor
    if requestor.is_anonymous:
        raise PersonalizationError(
            ErrorCode.NOT_AUTHENTICATED, "Log in as staff or use an app token."
        )
    raise PersonalizationError(
        ErrorCode.PERMISSION_DENIED, f"You need the {backend.permission_name} permission."
    )
