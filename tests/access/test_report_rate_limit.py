"""Report reads are expensive: analytics:read keys and dashboard sessions have their own, lower limit."""

import pytest
from rest_framework.test import APIClient

from tests.ranking.factories import catalogue

pytestmark = pytest.mark.django_db

META = "/dashboard/api/meta"


@pytest.fixture(autouse=True)
def _three_report_reads_a_minute(settings):
    settings.ANALYTICS_RATE_LIMIT_PER_MINUTE = 3


def test_a_key_spends_its_report_reads_and_still_ranks(api_client_with):
    catalogue("home-banner")
    client = api_client_with("rank", "analytics:read")

    answers = [client.get(META).status_code for _ in range(4)]
    rank = client.post("/api/v1/rank", {"placement": "home-banner", "user": {"id": "u-1"}}, format="json")

    assert answers == [200, 200, 200, 429]
    assert client.get(META).has_header("Retry-After")
    assert rank.status_code == 200  # serving is limited by the key's own, higher limit


def test_each_dashboard_session_has_its_own_report_limit(staff_client, django_user_model):
    answers = [staff_client.get(META).status_code for _ in range(4)]
    other = django_user_model.objects.create_superuser("ana", "ana@example.com", "correct-horse-battery")
    second = APIClient()
    second.force_login(other)

    assert answers == [200, 200, 200, 429]
    assert second.get(META).status_code == 200
