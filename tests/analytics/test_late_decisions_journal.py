"""With KALEIDO_DECISION_LOG=journal, a BFF reports impressions before their decisions are flushed:
the events wait, counted nowhere, and count exactly once the decisions land; forged ones never count."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from analytics.models import DailyRollup, Event, LateEvent
from analytics.rollups import refresh_rollups
from ranking import decision_log
from tests.ranking.factories import catalogue

pytestmark = pytest.mark.django_db(transaction=True)




def _impression(answer: dict, **overrides) -> dict:
    item = answer["items"][0]
    return {"event_id": uuid.uuid4().hex, "type": "impression", "decision_id": answer["decision_id"],
            "variant_id": item["variant_id"], "user_id": "u-1", "placement": answer["placement"],
            "position": item["rank"], "ts": timezone.now().isoformat(), **overrides}


def test_events_before_their_journaled_decisions_count_once_the_journal_flushes(journal_mode, api_client_with):
    placement, variants = catalogue("home-banner")
    client = api_client_with("rank", "events")
    answers = [client.post("/api/v1/rank", {"placement": "home-banner", "user": {"id": f"u-{i}"}},
                           format="json").json() for i in range(5)]
    shown = [_impression(a) for a in answers]
    not_shown = max(v.id for v in variants if v.id not in {a["items"][0]["variant_id"] for a in answers})
    forged = [_impression(answers[0], variant_id=not_shown),  # a variant its decision did not show
              _impression(answers[1], decision_id=str(uuid.uuid4()))]  # a decision nobody made

    body = client.post("/api/v1/events", {"events": shown + forged}, format="json").json()
    refresh_rollups()

    assert body == {"accepted": 7, "duplicates": 0, "rejected": []}  # nothing to check them against yet
    assert not Event.objects.exists() and not DailyRollup.objects.exists()

    assert decision_log.flush_journal() == 5
    refresh_rollups()

    assert sorted(Event.objects.values_list("event_id", flat=True)) == sorted(e["event_id"] for e in shown)
    assert sum(DailyRollup.objects.filter(placement=placement).values_list("impressions", flat=True)) == 5
    assert list(LateEvent.objects.values_list("event_id", flat=True)) == [forged[1]["event_id"]]  # still waiting
