"""``/graphql/`` of the standalone server: GraphiQL on GET, the API on POST."""

from functools import cache

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from ..graphql.http import execute_request
from ..graphql.schema import build_schema
from ..saleor_adapter.configuration import load_configuration
from .graphql_backend import StandaloneBackend


@cache
def schema():
    return build_schema(StandaloneBackend())


@csrf_exempt
def graphql_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
        return render(request, "saleor_personalization/graphiql.html")
    max_cost = load_configuration()[0].graphql_max_cost
    return execute_request(request, schema(), request, max_cost)
