"""The ranking step of `manage.py demo`: random exposure → train → A/B experiment → CTR per bucket."""

from __future__ import annotations

from creative.demo_context import DemoContext
from creative.models import Placement

from . import services, simulator
from .buckets import ServingMode
from .models import Experiment

AB_BUCKETS = "control=0.34,random=0.33,model=0.33"


def run(ctx: DemoContext) -> None:
    """For each placement with live variants: simulate the random bucket, train, A/B test, report.

    Leaves in ctx.extras: "experiments" {placement slug: experiment slug}, "model_versions"
    {placement slug: version}, "simulation" {placement slug: {"random": report, "ab": report}}.
    """
    experiments = ctx.extras.setdefault("experiments", {})
    versions = ctx.extras.setdefault("model_versions", {})
    simulations = ctx.extras.setdefault("simulation", {})
    transport = simulator.in_process_transport(name="demo traffic simulator")
    for placement in ctx.placements:
        placement = Placement.objects.get(pk=placement.pk)
        if not placement.variants.filter(status="live", blocked=False).exists():
            ctx.say(f"{placement.slug}: no live variants, skipped.")
            continue
        for running in Experiment.objects.filter(placement=placement, status=Experiment.Status.RUNNING):
            services.experiment_stop(slug=running.slug)
        if placement.default_mode != ServingMode.RANDOM:
            placement.default_mode = ServingMode.RANDOM
            placement.save(update_fields=["default_mode"])

        ctx.say(f"{placement.slug}: {ctx.users} simulated users on the random bucket …")
        exposure = simulator.simulate(transport=transport, placement=placement.slug,
                                      users=simulator.make_users(ctx.users, seed=placement.pk, prefix="explore"),
                                      seed=placement.pk)
        _print(ctx, exposure)
        try:
            # The simulation has finished: every click it will ever send is in, so no row is immature.
            trained = services.train_model(placement=placement, activate=True, click_window_s=0)
        except services.TrainingError as exc:
            ctx.say(f"{placement.slug}: training skipped ({exc}).")
            continue
        versions[placement.slug] = trained.model_version
        ctx.say(f"{placement.slug}: model v{trained.model_version} trained on {trained.rows} impressions, "
                f"AUC {trained.auc:.3f}, log loss {trained.logloss:.4f}; "
                + ("active." if trained.activated else "not activated: " + "; ".join(trained.gate["reasons"]) + "."))

        slug = _free_slug(f"{placement.slug}-ab")
        services.experiment_start(slug=slug, placement=placement, buckets=AB_BUCKETS)
        experiments[placement.slug] = slug
        ctx.say(f"{placement.slug}: experiment {slug} ({AB_BUCKETS}), {ctx.users} more simulated users …")
        ab = simulator.simulate(transport=transport, placement=placement.slug,
                                users=simulator.make_users(ctx.users, seed=placement.pk + 10_000, prefix="ab"),
                                seed=placement.pk + 10_000)
        _print(ctx, ab)
        control, model = ab.buckets.get("control"), ab.buckets.get("model")
        if control and model and control.true_ctr:
            ctx.say(f"{placement.slug}: model vs control, ground-truth CTR lift "
                    f"{(model.true_ctr / control.true_ctr - 1) * 100:+.0f}%, observed "
                    f"{(model.ctr / control.ctr - 1) * 100 if control.ctr else float('nan'):+.0f}%.")
        simulations[placement.slug] = {"random": exposure.as_dict(), "ab": ab.as_dict()}


def _print(ctx: DemoContext, report: simulator.SimulationReport) -> None:
    for name in ("control", "random", "model"):
        b = report.buckets.get(name)
        if b:
            ctx.say(f"  {name:8s} users {b.users:5d}  CTR observed {b.ctr:6.2%}  ground truth {b.true_ctr:6.2%}")


def _free_slug(base: str) -> str:
    slug, n = base, 1
    while Experiment.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug
