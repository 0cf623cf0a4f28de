"""Global ids, in Saleor's format (``base64("Type:pk")``) in both modes."""

from collections.abc import Callable
from typing import Any

from graphql_relay import from_global_id

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
