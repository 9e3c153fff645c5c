"""An end user sends whatever a BFF passes on: strings the database cannot store, bodies nested 20,000
levels deep, bodies of many megabytes. Each is a 4xx naming the problem; nothing stops later decisions
from being stored, and no valid event is lost because its neighbour was bad.

These run on both databases; on PostgreSQL with the journal_mode decision log they are the production setup."""

from __future__ import annotations

import json
import uuid

import pytest
from django.utils import timezone

from analytics.models import Event
from ranking import decision_log
from ranking.models import Decision
from tests.ranking.factories import catalogue

pytestmark = pytest.mark.django_db(transaction=True)

NUL = "a\u0000b"
LONE_SURROGATE_JSON = '"a\\ud800b"'  # a JSON escape the standard library decodes into a lone surrogate




@pytest.fixture
def bff(api_client_with):
    return api_client_with("rank", "events")


def post_raw(client, path: str, text: str):
    return client.generic("POST", path, text.encode("utf-8"), content_type="application/json")


def rank_body(placement: str, *, features: str = "{}", context: str = "{}", user_id: str = '"u-1"') -> str:
    return (f'{{"placement": "{placement}", "user": {{"id": {user_id}, "features": {features}}}, '
            f'"k": 2, "context": {context}}}')


def test_unstorable_strings_in_a_rank_request_are_a_400_and_later_decisions_all_reach_the_table(bff, journal_mode):
    placement, _ = catalogue()
    hostile = [
        rank_body(placement.slug, features=json.dumps({"city": NUL})),
        rank_body(placement.slug, features=json.dumps({NUL: "x"})),
        rank_body(placement.slug, context=json.dumps({"device": NUL})),
        rank_body(placement.slug, context=json.dumps({"a\u0000": 1})),
        rank_body(placement.slug, user_id=json.dumps(NUL)),
        rank_body(placement.slug, features=f'{{"city": {LONE_SURROGATE_JSON}}}'),
        rank_body(placement.slug, context=f'{{{LONE_SURROGATE_JSON}: 1}}'),
        rank_body(placement.slug, user_id=LONE_SURROGATE_JSON),
    ]

    answers = [post_raw(bff, "/api/v1/rank", body) for body in hostile]

    assert [a.status_code for a in answers] == [400] * len(hostile)
    for answer in answers:
        body = answer.json()
        assert body["detail"] == "Invalid request." and body["errors"], body
    assert "NUL" in json.dumps(answers[0].json())
    ids = [bff.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": f"next-{i}"}}, format="json")
           .json()["decision_id"] for i in range(20)]
    decision_log.flush_journal()
    assert Decision.objects.filter(decision_id__in=ids).count() == 20
    assert not (journal_mode / "quarantine").exists()


def test_one_event_with_an_unstorable_string_is_rejected_alone(bff):
    placement, variants = catalogue()
    decision = bff.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": "u-1"}}, format="json").json()
    now = timezone.now().isoformat()

    def event(**overrides) -> dict:
        return {"event_id": uuid.uuid4().hex, "type": "impression", "decision_id": decision["decision_id"],
                "variant_id": decision["items"][0]["variant_id"], "user_id": "u-1", "placement": placement.slug,
                "position": 1, "ts": now, **overrides}

    good = [event(), event(type="click")]
    bad = [event(user_id=NUL), event(event_id="e\u0000"), event(placement=NUL)]
    batch = json.dumps({"events": [good[0], *bad, good[1]]})[:-2]  # add a lone surrogate event by hand
    batch += ', ' + json.dumps(event())[:-1] + f', "user_id": {LONE_SURROGATE_JSON}}}]}}'

    answer = post_raw(bff, "/api/v1/events", batch)

    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 5]
    assert [r["error"].split(":")[0] for r in body["rejected"]] == ["user_id", "event_id", "placement", "user_id"]
    assert set(Event.objects.values_list("event_id", flat=True)) == {e["event_id"] for e in good}


@pytest.mark.parametrize("path", ["/api/v1/rank", "/api/v1/events"])
def test_a_body_nested_twenty_thousand_levels_deep_is_a_400(bff, path):
    answer = post_raw(bff, path, "[" * 20_000 + "]" * 20_000)

    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/rank", "/api/v1/events"])
def test_a_body_nested_past_the_limit_but_within_the_decoder_is_a_400(bff, path):
    answer = post_raw(bff, path, '{"events": ' + "[" * 40 + "]" * 40 + "}")

    assert answer.status_code == 400
    assert "at most 20 levels" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/rank", "/api/v1/events"])
def test_a_body_over_the_size_limit_is_a_413(bff, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    placement, _ = catalogue()
    text = json.dumps({"placement": placement.slug, "user": {"id": "u-1", "features": {"pad": "x" * 20_000}}})

    answer = post_raw(bff, path, text)

    assert answer.status_code == 413
    assert "at most 10000" in answer.json()["detail"]


def test_a_body_at_the_size_limit_is_served(bff, settings):
    placement, _ = catalogue()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    text = json.dumps({"placement": placement.slug, "user": {"id": "u-1", "features": {"note": "x" * 100}}})

    assert bff.generic("POST", "/api/v1/rank", text.ljust(2_000).encode(), content_type="application/json"
                       ).status_code == 200


@pytest.mark.parametrize("text", ["", "{", '{"placement": NaN}', "[1, 2", '{"a": Infinity}'])
def test_a_malformed_body_is_a_400_that_says_so(bff, text):
    answer = post_raw(bff, "/api/v1/rank", text)

    assert answer.status_code == 400
    assert answer.json()["detail"]
