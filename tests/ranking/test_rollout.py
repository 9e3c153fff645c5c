"""A new model reaches users step by step, and a harmful one is rolled back before most users see it."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.ingestion import record_events
from ranking import decision_log, rollout, services, simulator
from ranking.buckets import ServingMode, unit_hash
from ranking.models import Decision, ModelRollout, ModelVersion
from tests.support.traffic import LoggedImpression, write_traffic

from .factories import catalogue, log_random_traffic

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def generous_latency(settings):
    # Scoring time is measured on this shared machine: the latency guardrail gets its own test.
    settings.KALEIDO_ROLLOUT_MAX_SCORE_MS = 10_000.0
    settings.KALEIDO_ROLLOUT_WEBHOOK_URL = ""


@pytest.fixture
def banner():
    """A placement in the model bucket with a random-bucket log large enough for a model that passes the
    activation gate, and that model."""
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=12000, seed=11)
    good = services.train_model(placement=placement)
    assert good.gate["passed"], good.gate
    return placement, variants, good.model_version


@pytest.fixture
def small_banner():
    """The same with a small log: its model is ramped with the gate overridden (the ramp's mechanics are
    under test, not the model)."""
    placement, variants = catalogue(default_mode=ServingMode.MODEL)
    log_random_traffic(placement, variants, users=1500, seed=13)
    return placement, variants, services.train_model(placement=placement).model_version


def _train_on_inverted_clicks(placement, *, users: int, seed: int) -> str:
    """A model that ranks each user's worst designs first, registered for `placement`.

    It learns on a twin placement (the same designs) whose users click what they like least, then is
    registered for `placement`: its own log would teach it the users' real taste.
    """
    twin, twin_variants = catalogue(slug=f"{placement.slug}-inverted")
    rng = np.random.default_rng(seed)
    start = datetime.now(UTC) - timedelta(hours=2)
    shown = []
    for i, user in enumerate(simulator.make_users(users, seed=seed, prefix=f"inv{seed}")):
        variant = twin_variants[rng.integers(len(twin_variants))]
        p = simulator.click_probability(user, variant.tags, variant_key=variant.variant_key)
        shown.append(LoggedImpression(
            placement=twin, user_id=user.user_id, variant_id=variant.id, created_at=start + timedelta(seconds=i),
            candidates=len(twin_variants), features=user.features, context=user.context,
            clicked=bool(rng.random() < max(0.005, 0.2 - 2 * p))))
    write_traffic(shown)
    version = services.train_model(placement=twin).model_version
    ModelVersion.objects.filter(version=version).update(placement=placement)
    return version


def serve(placement, variants, *, users: int, seed: int, click_probability=None,
          shown: list | None = None) -> dict[str, int]:
    """Real /rank answers for new simulated users, who click as the simulator's ground truth says (or as
    `click_probability(user, variant_id)` says); `shown` collects (user id, variant id, decision id)."""
    rng = np.random.default_rng(seed)
    tags = {v.id: (v.tags, v.variant_key) for v in variants}
    events, served_by = [], {}
    for user in simulator.make_users(users, seed=seed, prefix=f"live{seed}"):
        result = services.rank_variants(placement=placement, user_id=user.user_id, features=user.features,
                                        context=user.context)
        item = result.items[0]
        served_by[result.model_version] = served_by.get(result.model_version, 0) + 1
        if shown is not None:
            shown.append((user.user_id, item.variant_id, result.decision_id))
        base = {"decision_id": result.decision_id, "variant_id": item.variant_id, "user_id": user.user_id,
                "placement": placement.slug, "position": 1, "ts": datetime.now(UTC).isoformat()}
        events.append({"event_id": uuid.uuid4().hex, "type": "impression", **base})
        variant_tags, key = tags[item.variant_id]
        p = (click_probability(user, item.variant_id) if click_probability is not None
             else simulator.click_probability(user, variant_tags, variant_key=key))
        if rng.random() < p:
            events.append({"event_id": uuid.uuid4().hex, "type": "click", **base})
    decision_log.flush_journal()
    assert not record_events(events).rejected
    return served_by


class Webhook:
    """A real HTTP endpoint that keeps what it is sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"

    def close(self):
        self.server.shutdown()


@pytest.mark.slow
def test_a_good_model_ramps_step_by_step_and_ends_serving_everyone(banner):
    placement, variants, good = banner
    ramp = rollout.start_rollout(version=good, steps=[0.2, 0.5], min_dwell_s=0, min_impressions=120, by="ops")
    assert ramp.incumbent is None  # nothing served the model bucket: its users saw the control design

    served = serve(placement, variants, users=900, seed=1)
    # About a fifth of the users got the candidate, the rest the control design (no model yet).
    assert 0.13 < served.get(good, 0) / 900 < 0.27
    assert served.get("fallback:no_model", 0) + served.get(good, 0) == 900
    first = rollout.evaluate(ramp)
    assert first.action == "advance", first.reason
    assert {g.name for g in first.guardrails} == {"ctr", "cvr", "fallback_rate", "scoring_latency", "sample_ratio"}
    assert all(g.passed for g in first.guardrails)
    ramp.refresh_from_db()
    assert ramp.step_index == 1 and ramp.share == 0.5

    served = serve(placement, variants, users=600, seed=2)
    assert 0.4 < served.get(good, 0) / 600 < 0.6
    final = rollout.evaluate(ramp)
    assert final.action == "complete", final.reason
    ramp.refresh_from_db()
    assert ramp.status == ModelRollout.Status.COMPLETED and ramp.share == 0.0
    assert services.active_model_version(placement) == good
    assert [h["event"] for h in ramp.history] == ["started", "advanced", "completed"]
    # Everyone in the model bucket now gets the candidate.
    assert serve(placement, variants, users=50, seed=3) == {good: 50}


@pytest.mark.slow
def test_a_harmful_model_is_rolled_back_at_the_first_step_and_the_operators_are_told(banner, settings, caplog):
    placement, variants, good = banner
    services.model_activate(version=good, by="ops")
    harmful = _train_on_inverted_clicks(placement, users=6000, seed=12)
    hook = Webhook()
    settings.KALEIDO_ROLLOUT_WEBHOOK_URL = hook.url
    try:
        ramp = rollout.start_rollout(version=harmful, steps=[0.2, 0.5], min_dwell_s=3600, min_impressions=300,
                                     force=True, by="ops")
        verdicts = []
        with caplog.at_level(logging.ERROR, logger="ranking.rollout"):
            for batch in range(8):
                serve(placement, variants, users=400, seed=20 + batch)
                verdicts.append(rollout.evaluate(ramp))
                if verdicts[-1].action != "wait":
                    break
    finally:
        hook.close()

    assert verdicts[-1].action == "rollback", [v.reason for v in verdicts]
    ramp.refresh_from_db()
    assert ramp.status == ModelRollout.Status.ROLLED_BACK and ramp.step_index == 0
    assert ramp.reason.startswith("ctr:") and "below the tolerance" in ramp.reason
    ctr = next(g for g in verdicts[-1].guardrails if g.name == "ctr")
    assert ctr.interval[1] < 0  # the candidate is worse with always-valid confidence
    # The incumbent kept serving throughout, and serves everyone now.
    assert services.active_model_version(placement) == good
    assert serve(placement, variants, users=40, seed=99) == {good: 40}
    # Why, in the registry, the log and the webhook.
    entry = ModelVersion.objects.get(version=harmful).params["rollouts"][-1]
    assert entry["event"] == "rollout_rolled_back" and entry["reason"] == ramp.reason
    assert any("rolled back" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert hook.received and hook.received[0]["event"] == "rollout_rolled_back"
    assert hook.received[0]["candidate"] == harmful and hook.received[0]["placement"] == placement.slug


def test_a_slow_candidate_breaches_the_latency_guardrail(small_banner, settings):
    placement, variants, good = small_banner
    settings.KALEIDO_ROLLOUT_MAX_SCORE_MS = 0.0
    ramp = rollout.start_rollout(version=good, min_dwell_s=0, min_impressions=10, force=True)
    serve(placement, variants, users=100, seed=4)

    verdict = rollout.evaluate(ramp)

    assert verdict.action == "rollback"
    assert [g.name for g in verdict.breached] == ["scoring_latency"]
    assert services.active_model_version(placement) is None


def test_arms_are_sticky_and_decisions_say_which_model_served(small_banner):
    placement, variants, good = small_banner
    ramp = rollout.start_rollout(version=good, steps=[0.05, 0.2], min_dwell_s=0, min_impressions=10_000, force=True)
    users = [f"user-{i}" for i in range(2000)]
    at_5 = {u for u in users if unit_hash(ramp.salt, u) < 0.05}
    at_20 = {u for u in users if unit_hash(ramp.salt, u) < 0.2}
    assert at_5 <= at_20  # a candidate's user at 5% is still its user at 20%
    assert 0.03 < len(at_5) / 2000 < 0.07

    serve(placement, variants, users=300, seed=5)
    waiting = rollout.evaluate(ramp)
    assert waiting.action == "wait" and "10000 impressions per arm" in waiting.reason
    for decision in Decision.objects.filter(placement=placement, bucket__in=["model", "control"],
                                            created_at__gte=ramp.started_at):
        in_arm = unit_hash(ramp.salt, decision.user_id) < 0.05
        assert (decision.model_version == good) == in_arm
        if in_arm:  # the candidate's own policy propensity: exact, as for any model-bucket decision
            assert 0 < decision.items[0]["propensity"] <= 1


def test_bad_ramps_are_refused_with_field_messages(small_banner):
    placement, variants, good = small_banner
    with pytest.raises(ValidationError) as bad_steps:
        rollout.start_rollout(version=good, steps=[0.5, 0.2])
    assert "steps" in bad_steps.value.message_dict
    with pytest.raises(ValidationError) as not_numbers:
        rollout.start_rollout(version=good, steps=["half"])
    assert "steps" in not_numbers.value.message_dict

    ramp = rollout.start_rollout(version=good, force=True)
    assert ramp.steps == [0.05, 0.2, 0.5]
    with pytest.raises(ValidationError) as twice:
        rollout.start_rollout(version=good, force=True)
    assert "already has a ramp" in twice.value.message_dict["version"][0]

    rollout.cancel_rollout(ramp, by="ops")
    assert serve(placement, variants, users=30, seed=6) == {"fallback:no_model": 30}
    with pytest.raises(ValidationError):
        rollout.cancel_rollout(ramp)


def test_the_command_starts_reports_and_cancels_a_ramp(small_banner):
    placement, _, good = small_banner
    out = StringIO()
    call_command("rollout_model", "start", good, "--steps", "0.1,0.3", "--min-dwell-s", "60", "--force",
                 stdout=out)
    started = json.loads(out.getvalue().strip().splitlines()[-1])
    assert started["candidate"] == good and started["steps"] == [0.1, 0.3] and started["status"] == "ramping"

    out = StringIO()
    call_command("rollout_model", "status", placement.slug, stdout=out)
    assert json.loads(out.getvalue().strip().splitlines()[-1])[0]["share"] == 0.1

    with pytest.raises(CommandError, match="steps"):
        call_command("rollout_model", "start", good, "--steps", "0.3,0.1", "--force", stdout=StringIO())
    call_command("rollout_model", "cancel", placement.slug, stdout=StringIO())
    assert ModelRollout.objects.get().status == ModelRollout.Status.CANCELLED
    with pytest.raises(CommandError, match="no ramp under way"):
        call_command("rollout_model", "cancel", placement.slug, stdout=StringIO())


# --- newly published variants ---------------------------------------------------------------------------

@pytest.fixture
def random_banner():
    """A placement serving the random bucket, its 36 live variants, the last 30 of them "just published"."""
    placement, variants = catalogue(default_mode=ServingMode.RANDOM)
    return placement, variants, [v.id for v in variants[6:]]


def test_new_variants_show_only_inside_the_ramp_until_it_completes(random_banner):
    placement, variants, new = random_banner
    ramp = rollout.start_variant_rollout(placement=placement, variant_ids=new, steps=[0.3, 0.6], min_dwell_s=0,
                                         min_impressions=60, by="ops")
    shown = []
    serve(placement, variants, users=500, seed=31, shown=shown)

    decisions = {d.decision_id.hex: d for d in Decision.objects.filter(placement=placement)}
    for user_id, variant_id, decision_id in shown:
        inside = unit_hash(ramp.salt, user_id) < 0.3
        decision = decisions[uuid.UUID(str(decision_id)).hex]
        if not inside:
            assert variant_id not in new  # hidden outside the arm
        # Exact propensities for the pool each user was drawn from: 1/36 inside, 1/6 outside.
        assert decision.candidates == (36 if inside else 6)
        assert decision.items[0]["propensity"] == pytest.approx(1 / decision.candidates)
    assert any(v in new for _, v, _ in shown)

    assert rollout.evaluate(ramp).action == "advance"
    serve(placement, variants, users=300, seed=32)
    final = rollout.evaluate(ramp)
    assert final.action == "complete", final.reason
    assert {g.name for g in final.guardrails} == {"ctr", "cvr", "sample_ratio"}
    ramp.refresh_from_db()
    assert ramp.status == ModelRollout.Status.COMPLETED
    everyone = []
    serve(placement, variants, users=200, seed=33, shown=everyone)
    assert sum(v in new for _, v, _ in everyone) > 100  # 30 of 36 variants, for everyone now


def test_a_batch_of_variants_nobody_clicks_is_paused_at_the_first_step(random_banner):
    from creative.models import StyleVariant, VariantAuditEntry

    placement, variants, new = random_banner
    ramp = rollout.start_variant_rollout(placement=placement, variant_ids=new, steps=[0.3, 0.6],
                                         min_dwell_s=3600, min_impressions=100)
    new_ids = set(new)

    def clicks(user, variant_id):  # the old designs get clicked, the new ones never
        return 0.0 if variant_id in new_ids else 0.12

    for batch in range(8):
        serve(placement, variants, users=300, seed=40 + batch, click_probability=clicks)
        verdict = rollout.evaluate(ramp)
        if verdict.action != "wait":
            break
    assert verdict.action == "rollback", verdict.reason
    ramp.refresh_from_db()
    assert ramp.status == ModelRollout.Status.ROLLED_BACK and ramp.step_index == 0
    assert ramp.reason.startswith("ctr:")
    assert set(StyleVariant.objects.filter(id__in=new).values_list("status", flat=True)) == {"paused"}
    assert VariantAuditEntry.objects.filter(variant_id__in=new, to_value="paused",
                                            note__startswith=f"rolled back by ramp {ramp.id}").count() == len(new)
    after = []
    serve(placement, variants, users=100, seed=60, shown=after)
    assert not any(v in new_ids for _, v, _ in after)


def test_variant_ramps_refuse_what_cannot_ramp(random_banner):
    placement, variants, new = random_banner
    variants[0].pinned = True
    variants[0].save()
    for ids, says in (([variants[0].id], "Pinned"), ([999_999], "Not live"), (["x"], "whole numbers"),
                      ([v.id for v in variants[1:]], "Every live variant"), ([], "Name the variants")):
        with pytest.raises(ValidationError) as refused:
            rollout.start_variant_rollout(placement=placement, variant_ids=ids)
        assert says in refused.value.message_dict["variants"][0]
    assert not ModelRollout.objects.exists()
