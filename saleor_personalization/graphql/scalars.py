"""Scalars that match the schema they are served in.

Saleor defines its own ``Date``, ``DateTime`` and ``JSONString`` (subclasses of graphene's); a
schema holding both Saleor's ``Product`` and graphene's scalars of the same name is
refused by graphene, so the API uses the shop's own (chosen once, with the shop).
"""

from ..shop import get_shop

_scalars = get_shop().graphql_scalars()
Date = _scalars.date
DateTime = _scalars.date_time
JSONString = _scalars.json_string

__all__ = ["Date", "DateTime", "JSONString"]
