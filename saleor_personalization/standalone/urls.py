"""URLs of the standalone server (``saleor-personalization serve``)."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from ..emails.views import email_endpoint
from .graphql_view import graphiql_asset, graphql_view


@csrf_exempt
def email_links(request, rest: str):
    return email_endpoint(request, f"email/{rest}")


def health(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("health/", health, name="health"),
    path("graphql/", graphql_view, name="graphql"),
    path("graphql/assets/<str:name>", graphiql_asset, name="graphiql-asset"),
    path("email/<path:rest>", email_links, name="email-links"),
]
