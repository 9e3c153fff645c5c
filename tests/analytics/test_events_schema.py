"""/events' request, answer and error answers are what /api/schema/ says (the SDK's types come from it).

The schema types each event (the SDK's TrackEvent is generated from it) although the server validates
each event on its own: an event the schema allows is one the server accepts, and one it rules out
(no decision_id) is one the server rejects, alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from analytics.models import Event
from tests.analytics.factories import event
from tests.factories import PlacementFactory
from tests.openapi_checks import request_violations, resolve, served_schema, violations

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return served_schema()


@pytest.fixture
def placement():
    return PlacementFactory(slug="typed-events")


def _post(client, body: Any):
    return client.post(EVENTS, body, format="json")


def test_what_the_schema_allows_is_stored_and_what_it_rules_out_is_rejected_alone(openapi, api_client_with,
                                                                                   placement):
    reranked = {**event(placement="typed-events", variant_id=2, position=1), "rerank": "fatigue",
                "server_position": 2}
    plain = event(placement="typed-events", type="click")
    undecided = {key: value for key, value in event(placement="typed-events").items() if key != "decision_id"}
    body = {"events": [reranked, plain, undecided]}

    assert request_violations(openapi, EVENTS, {"events": [reranked, plain]}) == []
    problems = request_violations(openapi, EVENTS, body)
    assert len(problems) == 1 and "decision_id" in problems[0] and problems[0].startswith("$.events[2]")
    answer = _post(api_client_with("events"), body)

    assert answer.status_code == 202
    assert answer.json()["accepted"] == 2
    assert [(r["index"], r["error"].split(":")[0]) for r in answer.json()["rejected"]] == [(2, "decision_id")]
    assert violations(openapi, EVENTS, answer.json(), method="post", status=202) == []
    assert Event.objects.count() == 2


def test_every_error_events_answers_is_in_the_one_declared_error_shape(openapi, api_client_with, placement,
                                                                       settings):
    reporter = api_client_with("events")
    limited = api_client_with("events")
    limited.api_key.rate_limit_per_minute = 1
    limited.api_key.save()
    _post(limited, {"events": [event(placement="typed-events")]})

    answers = {
        400: _post(reporter, {"events": []}),
        401: _post(APIClient(), {"events": [event(placement="typed-events")]}),
        403: _post(api_client_with("rank"), {"events": [event(placement="typed-events")]}),
        429: _post(limited, {"events": [event(placement="typed-events")]}),
    }
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    answers[413] = _post(reporter, {"events": [event(placement="typed-events") for _ in range(10)]})

    for status, answer in answers.items():
        assert answer.status_code == status, (status, answer.content)
        assert violations(openapi, EVENTS, answer.json(), method="post", status=status) == [], status
    assert list(answers[400].json()["errors"]) == ["events"]
    responses = openapi["paths"][EVENTS]["post"]["responses"]
    assert {s for s in responses if s.startswith(("4", "5"))} == {"400", "401", "403", "413", "429", "503"}
    assert all(resolve(openapi, responses[s]["content"]["application/json"]["schema"]) ==
               openapi["components"]["schemas"]["ErrorAnswer"] for s in responses if s != "202")
