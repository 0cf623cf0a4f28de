"""``/graphql/`` of the standalone server: GraphiQL on GET, the API on POST.

GraphiQL's JavaScript and CSS ship inside the package and are served from
``/graphql/assets/`` by this server, so the page works on a machine without
internet access (the standalone server has no static-files app and runs with
``DEBUG`` off, so nothing else would serve them).
"""

from functools import cache
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from ..graphql.http import execute_request
from ..graphql.schema import build_schema
from ..shop import get_shop
from .graphql_backend import StandaloneBackend

GRAPHIQL_DIR = (
    Path(__file__).resolve().parents[1] / "static" / "saleor_personalization" / "graphiql"
)
# The only files served: a fixed list, so a request can never name another path.
GRAPHIQL_ASSETS = {
    "graphiql.min.css": "text/css; charset=utf-8",
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
}


@cache
def schema():
    return build_schema(StandaloneBackend())


@csrf_exempt
def graphql_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
        return render(request, "saleor_personalization/graphiql.html")
    max_cost = get_shop().configuration.load()[0].graphql_max_cost
    return execute_request(request, schema(), request, max_cost)


@require_safe
def graphiql_asset(request: HttpRequest, name: str) -> FileResponse:
    content_type = GRAPHIQL_ASSETS.get(name)
    if content_type is None:
        raise Http404(name)
    response = FileResponse((GRAPHIQL_DIR / name).open("rb"), content_type=content_type)
    # The files change only with the package version.
    response["Cache-Control"] = "public, max-age=86400"
    return response
