"""One error shape for every API answer: {"detail": "...", "errors": {field: [messages]}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, InternalError, OperationalError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


DATABASE_RETRY_AFTER_S = 2


def _database_unavailable_errors() -> tuple[type[Exception], ...]:
    """The errors that mean "the database cannot serve this now", as Django wraps them and as psycopg
    raises them on the cursors that bypass Django's wrapper (ingestion's COPY).

    OperationalError covers an unreachable or restarting server and, on PostgreSQL, statement_timeout
    (QueryCanceled), lock_timeout (LockNotAvailable), deadlocks, serialization failures, disk full and
    too many connections; InternalError covers a transaction the server aborted. DataError and
    IntegrityError are not here: client input that could cause them is refused by validation first,
    so one of them is a bug and stays a 500.
    """
    classes: list[type[Exception]] = [OperationalError, InterfaceError, InternalError]
    try:
        import psycopg
    except ImportError:  # the embedded default may run without the PostgreSQL driver
        return tuple(classes)
    return (*classes, psycopg.OperationalError, psycopg.InterfaceError, psycopg.InternalError)


_UNAVAILABLE = _database_unavailable_errors()


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, _UNAVAILABLE):
        # The database is unreachable, restarting, too slow (statement_timeout) or locked (lock_timeout):
        # nothing was stored, so the client may retry the same call (events are idempotent; the SDK's
        # rank returns its fallback). A 503 says so; a 500 would read as a bug in the request.
        log.warning("database unavailable during %s: %s", context.get("request") and context["request"].path, exc)
        return Response({"detail": "The database is unavailable; retry shortly."},
                        status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})
    from creative.selectors import UnknownPlacement  # here, not at import: it needs the app registry

    if isinstance(exc, UnknownPlacement):  # an API that names a placement by slug: a 404 that says which
        exc = exceptions.NotFound(str(exc))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": "Invalid request.", "errors": errors}
    return response


class ErrorAnswerSerializer(serializers.Serializer):
    """Every error answer: what went wrong in `detail`, and on a 400 each offending field in `errors`."""

    # Documentation only: exception_handler above builds the answer.

    detail = serializers.CharField(help_text="What went wrong, in words.")
    errors = serializers.DictField(
        required=False,
        help_text="Only on 400: each offending field and its messages (a list of strings; a nested field's "
                  "messages nest the same way, a list item's under its index).")


_ERROR_MEANINGS = {
    400: "Invalid request: `errors` names each offending field and its messages.",
    401: "No API key, or an unknown or revoked one.",
    403: "The key lacks the scope this endpoint needs, or may not use this placement.",
    404: "Unknown placement.",
    409: "The placement has no live variant.",
    413: "The body is over the size limit.",
    429: "Rate limited: retry after `Retry-After` seconds.",
    503: "The database is unavailable and nothing was stored: retry after `Retry-After` seconds.",
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After", int, OpenApiParameter.HEADER, response=[429, 503],
    description="Seconds to wait before retrying.")


def error_answers(*statuses: int) -> dict[int, OpenApiResponse]:
    """The schema's error answers for these statuses, each in the one error shape."""
    return {code: OpenApiResponse(ErrorAnswerSerializer, description=_ERROR_MEANINGS[code]) for code in statuses}


_API_PREFIXES = ("/api/", "/dashboard/api/")


def not_found(request, exception=None):
    """A URL under the API that matches no route answers JSON like every other API error, not an HTML page."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith(_API_PREFIXES):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def server_error(request):
    from django.http import JsonResponse
    from django.views.defaults import server_error as html_server_error

    if request.path.startswith(_API_PREFIXES):
        return JsonResponse({"detail": "Server error."}, status=500)
    return html_server_error(request)
