"""``/plugins/global/saleor.personalization/graphql/``: the API served from the plugin.

Saleor hands the plugin's ``webhook`` a plain request with no user, app or
dataloaders. This module gives it the same context ``/graphql/`` builds
(``get_context_value``: JWT users, app tokens, dataloaders, replica routing), applies
the shop's storefront-traffic switch, and serves the schema built around Saleor's
own ``Product`` type. CORS comes from Saleor's ASGI wrapper, which covers every path.
"""

import logging
import re
from functools import cache
from importlib import import_module

import jwt
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path
from django.utils.log import log_response
from django.views.decorators.csrf import csrf_exempt
from saleor.core.db.connection import allow_writer
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
from .configuration import PLUGIN_ID, load_configuration
from .graphql_backend import COST_MAP, SaleorBackend, invalid_token_message, remember_config

logger = logging.getLogger(__name__)


@cache
def schema():
    """Built once per process (about a second: Saleor's Product pulls in ~200 types)."""
    return build_schema(SaleorBackend())


def unavailable(request: HttpRequest) -> JsonResponse:
    """The plugin is switched off: 503, the service exists but is not available now.

    Logged once at INFO: an admin's switch is not a server fault, and Django would
    otherwise log every storefront request meanwhile as an ERROR (its 5xx rule).
    """
    response = error_response(
        "The personalization plugin is not active.", ErrorCode.UNAVAILABLE, 503
    )
    log_response(
        "Personalization plugin is off: %s",
        request.path,
        response=response,
        request=request,
        level="info",
    )
    return response


@csrf_exempt
def global_route(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """``/plugins/global/<id>/graphql/``, answered by the plugin even when it is off.

    Saleor's own route would build its plugin manager (every plugin instantiated and
    configured) only to find this plugin and call its ``webhook``; an anonymous request
    then builds a second one to authenticate. This route reads the plugin's one
    configuration row instead and answers as ``webhook`` does, in Saleor's writer
    context as Saleor's plugin views run. Saleor's manager answers an inactive plugin
    with a bare, empty 404, which reads as "wrong URL"; here it is ``UNAVAILABLE``.
    """
    config, active = load_configuration()
    if not active:
        return unavailable(request)
    with allow_writer():
        return answer(request, config)


def answer(request: HttpRequest, config: PersonalizationConfig) -> HttpResponse:
    """The API's answer; an unexpected error is a 500 with a GraphQL-shaped body."""
    try:
        return serve(request, config)
    except Exception:
        logger.exception("Personalization GraphQL endpoint failed")
        return error_response("Internal error; it has been logged.", ErrorCode.INTERNAL_ERROR, 500)


ROUTE = re_path(rf"^plugins/global/{re.escape(PLUGIN_ID)}/graphql/?$", global_route)


def install_route() -> None:
    """Put :func:`global_route` in front of Saleor's catch-all plugin route (once)."""
    urlconf = import_module(settings.ROOT_URLCONF)
    patterns = urlconf.urlpatterns
    if not any(getattr(p, "callback", None) is global_route for p in patterns):
        patterns.insert(0, ROUTE)


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
        return error_response(invalid_token_message(error), ErrorCode.INVALID_TOKEN, 401)
    try:
        try:
            blocked = is_storefront_traffic_blocked(context)
        except jwt.InvalidTokenError as error:
            return error_response(invalid_token_message(error), ErrorCode.INVALID_TOKEN, 401)
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
            request, schema(), context, config.graphql_max_cost, cost_map=COST_MAP
        )
    finally:
        clear_context(context)
