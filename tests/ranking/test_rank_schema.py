"""/rank's request, answer and every error answer are what /api/schema/ says (the SDK's types come from it).

Each body is a real request and each answer a real one; objects are closed (tests/openapi_checks.py), so a
field rank answers but the schema leaves out fails, and so does a declared field it omits.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import PlacementFactory, StyleVariantFactory
from tests.openapi_checks import request_violations, resolve, served_schema, violations
from tests.ranking.factories import catalogue

# "__all__": ranking may log decisions on their own connection (an alias mirroring default).
pytestmark = pytest.mark.django_db(databases="__all__")

RANK = "/api/v1/rank"
ERRORS = ("400", "401", "403", "404", "409", "413", "429", "503")


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return served_schema()


def _rank(client, body: Any, **extra):
    return client.post(RANK, body, format="json", **extra)


def test_a_bff_request_fits_the_declared_body_and_a_nested_feature_does_not(openapi):
    request = {"placement": "typed-rank", "user": {"id": "u-1", "features": {"age": 34, "gender": "f",
                                                                              "has_credit_card": True}},
               "k": 3, "context": {"device": "ios"}}

    assert request_violations(openapi, RANK, request) == []
    assert request_violations(openapi, RANK, {"placement": "typed-rank", "user": {"id": "u-1"}}) == [], \
        "k, features and context may be left out"
    assert request_violations(openapi, RANK, {**request, "user": {"id": "u-1", "features": {"age": {"n": 3}}}})
    assert request_violations(openapi, RANK, {**request, "k": 0})


def test_the_rank_answer_is_as_declared_with_every_render_field(openapi, api_client_with):
    placement, _ = catalogue("typed-rank")
    StyleVariantFactory(placement=placement, variant_key="composed", tags={"button_color": ["blue"]},
                        rendered_image="variants/composed.png",
                        render_spec={"layout": "single_image_text", "headline": "Save more", "subline": "Today",
                                     "cta": "Open", "language": "en", "font_scale": 1.2, "text_position": "left",
                                     "background_style": "image",
                                     "colors": {"button": "#E8322E", "background": "#FFFFFF", "text": "#111111",
                                                "button_text": "#FFFFFF"}})
    client = api_client_with("rank")

    answer = _rank(client, {"placement": "typed-rank", "user": {"id": "u-1", "features": {"age": 34}}, "k": 50})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert len(body["items"]) == 37 and any(item["image_url"] for item in body["items"])
    assert any(item["render"].get("background_style") for item in body["items"])
    assert violations(openapi, RANK, body, method="post") == []
    wrong = {**body, "items": [{**body["items"][0], "render": {"colors": {"button": 3}}}]}
    assert violations(openapi, RANK, wrong, method="post"), "a colour must be a string"


def test_every_error_rank_answers_is_in_the_one_declared_error_shape(openapi, api_client_with, settings):
    PlacementFactory(slug="typed-empty")
    catalogue("typed-errors")
    bff = api_client_with("rank")
    reporter = api_client_with("events")
    limited = api_client_with("rank")
    limited.api_key.rate_limit_per_minute = 1
    limited.api_key.save()
    user = {"id": "u-1"}
    _rank(limited, {"placement": "typed-errors", "user": user})

    answers = {
        400: _rank(bff, {"placement": "typed-errors", "user": {"id": "u-1", "features": {"age": [1]}}, "k": 0}),
        401: _rank(APIClient(), {"placement": "typed-errors", "user": user}),
        403: _rank(reporter, {"placement": "typed-errors", "user": user}),
        404: _rank(bff, {"placement": "typed-nowhere", "user": user}),
        409: _rank(bff, {"placement": "typed-empty", "user": user}),
        429: _rank(limited, {"placement": "typed-errors", "user": user}),
    }
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    answers[413] = _rank(bff, {"placement": "typed-errors", "user": {"id": "u-1", "features": {"pad": "x" * 190,
                                                                                                  **{f"f{i}": i for i in range(90)}}}})

    for status, answer in answers.items():
        assert answer.status_code == status, (status, answer.content)
        assert violations(openapi, RANK, answer.json(), method="post", status=status) == [], status
    assert set(answers[400].json()["errors"]) == {"user", "k"}
    assert answers[429].headers["Retry-After"]


def test_the_schema_declares_each_error_status_with_its_retry_after(openapi):
    responses = openapi["paths"][RANK]["post"]["responses"]

    for status in ERRORS:
        schema = resolve(openapi, responses[status]["content"]["application/json"]["schema"])
        assert set(schema["properties"]) == {"detail", "errors"} and schema["required"] == ["detail"], status
        assert responses[status]["description"], status
    assert {s for s, r in responses.items() if "Retry-After" in r.get("headers", {})} == {"429", "503"}
    assert violations(openapi, RANK, {"detail": "The database is unavailable; retry shortly."},
                      method="post", status=503) == []
    assert violations(openapi, RANK, {"errors": {}}, method="post", status=400), "detail is required"
