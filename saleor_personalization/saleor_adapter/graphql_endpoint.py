"""``/plugins/global/saleor.personalization/graphql/``: the API served from the plugin.

Saleor hands the plugin's ``webhook`` a plain request with no user, app or
dataloaders. This module gives it the same context ``/graphql/`` builds
(``get_context_value``: JWT users, app tokens, dataloaders, replica routing), applies
the shop's storefront-traffic switch, and serves the schema built around Saleor's
own ``Product`` type. CORS comes from Saleor's ASGI wrapper, which covers every path.
"""

import logging
from functools import cache

import jwt
from django.http import HttpRequest, JsonResponse
from saleor.graphql.app.dataloaders import get_app_promise
from saleor.graphql.context import clear_context, get_context_value
from saleor.graphql.storefront_traffic import (
    STOREFRONT_TRAFFIC_ERROR_CODE,
    STOREFRONT_TRAFFIC_ERROR_MESSAGE,
    is_storefront_traffic_blocked,
)

from ..configuration import PersonalizationConfig
from ..graphql.errors import ErrorCode
from ..graphql.http import error_response, execute_request
from ..graphql.schema import build_schema
from .graphql_backend import SaleorBackend, cost_map, remember_config

logger = logging.getLogger(__name__)


@cache
def schema():
    """Built once per process (about a second: Saleor's Product pulls in ~200 types)."""
    return build_schema(SaleorBackend())


@cache
def _cost_map() -> dict:
    return cost_map()


def serve(request: HttpRequest, config: PersonalizationConfig) -> JsonResponse:
    if request.method != "POST":
        return error_response(
            "Send GraphQL operations with POST.", ErrorCode.GRAPHQL_ERROR, 405, Allow="POST"
        )
    try:
        request.app = get_app_promise(request).get()
        context = get_context_value(request)
        remember_config(context, config)
    except jwt.InvalidTokenError as error:
        return error_response(f"Invalid or expired token: {error}.", ErrorCode.INVALID_TOKEN, 401)
    try:
        try:
            blocked = is_storefront_traffic_blocked(context)
        except jwt.InvalidTokenError as error:
            return error_response(
                f"Invalid or expired token: {error}.", ErrorCode.INVALID_TOKEN, 401
            )
        if blocked:
            return JsonResponse(
                {
                    "errors": [
                        {
                            "message": STOREFRONT_TRAFFIC_ERROR_MESSAGE,
                            "extensions": {"code": STOREFRONT_TRAFFIC_ERROR_CODE},
                        }
                    ]
                },
                status=401,
            )
        return execute_request(
            request, schema(), context, config.graphql_max_cost, cost_map=_cost_map()
        )
    finally:
        clear_context(context)
