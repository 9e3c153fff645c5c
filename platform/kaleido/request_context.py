"""A request id on every log line, from the HTTP request into the Celery tasks it enqueues.

The id is the caller's `X-Request-Id` when it sends a sane one (the SDK sends one per call; at most 128
characters of letters, digits and `._:-`, anything else is replaced, never echoed), otherwise a new one.
It is answered back in `X-Request-Id`, kept in a context variable for the request's thread, stamped on
every log record by `RequestIdFilter`, and rides a task's message headers so the worker's log lines carry
the id of the request that asked for the work.

Logs are JSON lines by default when DEBUG is off (`LOG_FORMAT=json|text`): one object a line with
`time`, `level`, `logger`, `message`, `request_id` and whatever `extra=` a call passes. Nothing here logs
request bodies, user features or headers, so API keys and user data stay out of the logs.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter

HEADER = "X-Request-Id"
_META_KEY = "HTTP_X_REQUEST_ID"
_TASK_HEADER = "kaleido_request_id"
_SANE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("kaleido_request_id", default="")


def current_request_id() -> str:
    return request_id.get()


def accepted_request_id(value: str | None) -> str:
    """The caller's id if it is sane, else a fresh one."""
    if value and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = accepted_request_id(request.META.get(_META_KEY))
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[HEADER] = rid
        return response


class RequestIdFilter(logging.Filter):
    """Stamps `request_id` on every record (empty outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging's name
        if not getattr(record, "request_id", ""):
            record.request_id = request_id.get()
        return True


class KaleidoJsonFormatter(JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)


# --- Celery: the id travels in the task message's headers ----------------------------------------------------

def _stamp_outgoing(headers: dict | None = None, **_: Any) -> None:
    rid = request_id.get()
    if rid and headers is not None:
        headers[_TASK_HEADER] = rid


_task_tokens: dict[str, contextvars.Token] = {}


def _adopt_incoming(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """A worker takes the id from the message; an eager task (run inside the request) keeps its own."""
    message = getattr(task, "request", None)
    rid = getattr(message, _TASK_HEADER, None) or ""
    if not rid:
        headers = getattr(message, "headers", None)
        rid = headers.get(_TASK_HEADER, "") if isinstance(headers, dict) else ""
    if rid and task_id and rid != request_id.get():
        _task_tokens[task_id] = request_id.set(rid)


def _forget(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        request_id.reset(token)


def connect_celery_signals() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(_stamp_outgoing, weak=False)
    task_prerun.connect(_adopt_incoming, weak=False)
    task_postrun.connect(_forget, weak=False)
