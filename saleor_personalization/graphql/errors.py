"""GraphQL errors with stable codes: what a storefront can branch on."""

import re
from enum import StrEnum

from graphql import GraphQLError


class ErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_TOKEN = "INVALID_TOKEN"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    INVALID_OPERATION = "INVALID_OPERATION"
    INVALID_VARIABLES = "INVALID_VARIABLES"
    GRAPHQL_ERROR = "GRAPHQL_ERROR"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class PersonalizationError(GraphQLError):
    """An expected failure: its message is written for the storefront developer."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None):
        extensions = {"code": code.value}
        if field:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)
        self.code = code


# An absolute file path (not the path part of a URL): "/srv/media/models/run-1.npz".
_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.\-]+/)+([\w.\-]+)")


def redact_paths(text: str) -> str:
    """Server paths out of a message shown to API clients, staff included: the file
    name says what failed, the directory layout is nobody's business (the log has it)."""
    return _PATH.sub(lambda match: match.group(1), text)
