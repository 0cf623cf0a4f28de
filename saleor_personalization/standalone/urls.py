"""URLs of the standalone server (``saleor-personalization serve``)."""

from django.http import JsonResponse
from django.urls import path

from .graphql_view import graphql_view


def health(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("health/", health, name="health"),
    path("graphql/", graphql_view, name="graphql"),
]
