"""An on-call engineer follows one request through the logs by its id, from the web process into the
worker that ran the task it queued."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest
from django.http import HttpResponse

from kaleido import request_context
from kaleido.request_context import KaleidoJsonFormatter, RequestIdFilter, RequestIdMiddleware

pytestmark = pytest.mark.django_db


def test_the_callers_request_id_is_answered_back_and_a_missing_one_is_made(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="bff-7f3a.42")
    made = client.get("/healthz")

    assert given["X-Request-Id"] == "bff-7f3a.42"
    assert len(made["X-Request-Id"]) == 32 and made["X-Request-Id"] != given["X-Request-Id"]


@pytest.mark.parametrize("hostile", ["a b", "x" * 129, "<script>", "id\u00e9", ""])
def test_an_id_that_is_not_sane_is_replaced_never_echoed(client, hostile):
    answer = client.get("/healthz", HTTP_X_REQUEST_ID=hostile)

    assert answer["X-Request-Id"] != hostile and len(answer["X-Request-Id"]) == 32


def json_log_lines(run) -> list[dict]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(KaleidoJsonFormatter())
    logger = logging.getLogger("kaleido.test.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        run(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_logged_while_serving_a_request_is_json_with_its_id(rf):
    def view(request, logger):
        logger.warning("model v7 still loading", extra={"placement": "home"})
        return HttpResponse("ok")

    def run(logger):
        RequestIdMiddleware(lambda request: view(request, logger))(rf.get("/", HTTP_X_REQUEST_ID="req-1"))
        logger.info("after the request")

    first, after = json_log_lines(run)

    assert first["message"] == "model v7 still loading" and first["request_id"] == "req-1"
    assert first["level"] == "WARNING" and first["logger"] == "kaleido.test.request"
    assert first["placement"] == "home" and first["time"]
    assert after["request_id"] == ""


def test_a_task_queued_during_a_request_logs_with_that_requests_id_on_the_worker():
    headers: dict = {}
    token = request_context.request_id.set("req-9")
    try:
        request_context._stamp_outgoing(headers=headers)  # what before_task_publish does
    finally:
        request_context.request_id.reset(token)
    assert headers == {"kaleido_request_id": "req-9"}

    # On the worker: the message's headers arrive as attributes of task.request.
    task = SimpleNamespace(request=SimpleNamespace(kaleido_request_id="req-9", headers=None))
    request_context._adopt_incoming(task_id="t-1", task=task)
    lines = json_log_lines(lambda logger: logger.info("training placement 3"))
    request_context._forget(task_id="t-1")

    assert lines[0]["request_id"] == "req-9"
    assert request_context.current_request_id() == ""


def test_an_eager_task_inside_a_request_keeps_the_requests_id_after_it_ends():
    token = request_context.request_id.set("req-5")
    try:
        task = SimpleNamespace(request=SimpleNamespace(headers=None))
        request_context._adopt_incoming(task_id="t-2", task=task)
        request_context._forget(task_id="t-2")
        assert request_context.current_request_id() == "req-5"
    finally:
        request_context.request_id.reset(token)
