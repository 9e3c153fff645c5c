from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from access.admin_guard import RoleAdmin
from creative.console import dry_run_errors, form_add_errors

from . import services
from .buckets import parse_buckets
from .checklist import experiment_checklist
from .models import Decision, Experiment, ModelRollout, ModelVersion


class ExperimentForm(forms.ModelForm):
    """Checked by experiment_start itself (shares that sum to 1, one running experiment per placement), then
    against the checklist: something missing must be confirmed before the experiment starts."""

    buckets_text = forms.CharField(
        initial="control=0.2,random=0.2,model=0.6", label="Buckets",
        help_text="Who sees what, as NAME=SHARE separated by commas; the shares add up to 1. control: the "
                  "placement's control design; random: any live variant; model: the trained model's choice.")
    start_anyway = forms.BooleanField(required=False, label="Start anyway",
                                      help_text="Tick to start although the checklist shows something missing.")

    class Meta:
        model = Experiment
        fields = ["slug", "placement"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        exc = dry_run_errors(lambda: services.experiment_start(slug=data["slug"], placement=data["placement"],
                                                                buckets=data["buckets_text"]))
        if exc is not None:
            form_add_errors(self, exc, {"buckets": "buckets_text"})
            return data
        checks = experiment_checklist(placement=data["placement"], shares=parse_buckets(data["buckets_text"]))
        missing = [c.text for c in checks if not c.ok]
        if missing and not data.get("start_anyway"):
            self.add_error("start_anyway", ["Before this experiment starts: " + "; ".join(missing) +
                                            ". Fix it, or tick “Start anyway”."])
        return data


@admin.register(Experiment)
class ExperimentAdmin(RoleAdmin):
    list_display = ("slug", "placement", "status", "buckets", "started_at", "stopped_at", "dashboard_link")
    list_filter = ("status", "placement")
    actions = ["stop"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ExperimentForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["slug", "placement", "buckets_text", "start_anyway"]
        return ["slug", "placement", "buckets", "status", "started_at", "stopped_at", "checklist", "results",
                "dashboard_link", "salt"]

    def get_readonly_fields(self, request, obj=None):
        return ("slug", "placement", "buckets", "salt", "status", "started_at", "stopped_at", "checklist",
                "results", "dashboard_link") if obj else ()

    @admin.display(description="checklist")
    def checklist(self, obj):
        checks = experiment_checklist(placement=obj.placement, shares=obj.buckets or {})
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li>{} {}</li>", (("✔" if c.ok else "⚠", c.text) for c in checks)))

    @admin.display(description="results")
    def results(self, obj):
        """The report's summary: per bucket CTR with its 95% interval, lift against control with its interval
        and p-value, and the sample ratio mismatch check; the dashboard has the full report."""
        from analytics.services import ExperimentReportError, experiment_report

        try:
            report = experiment_report(experiment=services.experiment_info(obj), refresh=False, segments=False)
        except ExperimentReportError as exc:  # an experiment the report refuses (no control bucket): say why
            return str(exc)
        except Exception as exc:  # the report is a convenience here; the dashboard has the full one
            return f"The report could not be computed here ({type(exc).__name__}); open the dashboard."

        def pct(value):
            return "—" if value is None else f"{100 * value:.2f}%"

        def interval(pair):
            return "—" if not pair or pair[0] is None else f"[{pct(pair[0])}, {pct(pair[1])}]"

        rows = []
        for name, b in report["buckets"].items():
            lift = b.get("lift_vs_control") or {}
            p_value = b.get("p_value")
            rows.append((name + (" (control)" if name == report["control"] else ""), b["users"], b["impressions"],
                         b["clicks"], pct(b["ctr"]), interval(b["ctr_ci"]), pct(lift.get("absolute")),
                         interval(lift.get("absolute_ci")), "—" if p_value is None else f"{p_value:.3f}"))
        head = ("bucket", "users", "impressions", "clicks", "CTR", "CTR 95% interval", "lift vs control",
                "lift 95% interval", "p")
        srm = ("⚠ sample ratio mismatch: the buckets did not get the traffic their shares say (p = "
               f"{report['srm_p_value']:.4f}); check the integration before reading the lifts"
               if report.get("srm_flag") else "Traffic split matches the shares (no sample ratio mismatch).")
        return format_html(
            '<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table><p>{}</p>',
            format_html_join("", "<th>{}</th>", ((h,) for h in head)),
            format_html_join("", "<tr>" + "<td>{}</td>" * len(head) + "</tr>", rows), srm)

    @admin.display(description="dashboard")
    def dashboard_link(self, obj):
        return format_html('<a href="/dashboard/?experiment={}">open in the dashboard</a>', obj.slug)

    def save_model(self, request, obj, form, change):
        if change:
            return  # experiments change only through start/stop
        created = services.experiment_start(slug=obj.slug, placement=obj.placement,
                                            buckets=form.cleaned_data["buckets_text"])
        obj.pk = created.pk

    @admin.action(description="Stop selected experiments", permissions=["change"])
    def stop(self, request, queryset):
        for experiment in queryset:
            services.experiment_stop(slug=experiment.slug)
        self.message_user(request, f"Stopped {queryset.count()} experiment(s).")


@admin.register(ModelVersion)
class ModelVersionAdmin(RoleAdmin):
    list_display = ("version", "placement", "scope", "algo", "is_active", "gate_verdict", "artefact_status", "rows",
                    "auc", "logloss", "calibration_error", "created_at", "activated_at")
    list_filter = ("is_active", "scope", "algo", "placement")
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate", "release_gradually", "roll_back"]

    def has_add_permission(self, request):
        return False  # versions come from training

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("ranking.activate_model")

    @admin.display(description="gate")
    def gate_verdict(self, obj):
        """The activation gate's verdict in words (ranking.gate.check, as model_activate applies it)."""
        from .gate import check

        verdict = check(obj)
        return "passes" if verdict.passed else "refused: " + "; ".join(verdict.reasons)

    @admin.display(description="Artefact")
    def artefact_status(self, obj):
        """Loads the artefact as serving would, so a missing or corrupt file shows here, not only in logs."""
        from .registry import ModelUnavailable, load_from_row

        try:
            load_from_row(obj)
        except ModelUnavailable as exc:
            where = "rank serves the control design; roll back" if obj.is_active else "cannot serve"
            return f"ERROR {exc.reason}: {exc} ({where})"
        return "ok"

    @admin.action(description="Activate the selected version", permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", level=messages.ERROR)
            return
        try:
            mv = services.model_activate(version=queryset.get().version)
        except ValidationError as exc:  # refused (e.g. by the activation gate): say why, change nothing
            self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
            return
        self.message_user(request, f"v{mv.version} is now active.")
        status = self.artefact_status(mv)
        if status != "ok":
            self.message_user(request, f"v{mv.version}: {status}", level=messages.ERROR)

    @admin.action(description="Release gradually (5%% → 20%% → 50%% → 100%%, with guardrails)",
                  permissions=["activate"])
    def release_gradually(self, request, queryset):
        """Start a ramp (ranking.rollout) with the default steps, dwell time and sample per step."""
        from .gate import ActivationRefused
        from .rollout import start_rollout

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", level=messages.ERROR)
            return
        try:
            ramp = start_rollout(version=queryset.get().version, by=request.user.get_username())
        except (ActivationRefused, ValidationError) as exc:  # refused: say why, change nothing
            self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
            return
        self.message_user(request, f"v{ramp.candidate.version} now serves {ramp.share:.0%} of "
                                   f"{ramp.placement.slug}'s model bucket; the ramp moves on as its guardrails allow.")

    @admin.action(description="Roll back to the version active before", permissions=["activate"])
    def roll_back(self, request, queryset):
        if not queryset.exists():
            self.message_user(request, "No version selected (it may have been deleted meanwhile).", messages.WARNING)
        for placement_id, scope in set(queryset.values_list("placement_id", "scope")):
            placement = queryset.filter(placement_id=placement_id).first().placement if placement_id else None
            try:
                mv = services.model_rollback(placement=placement if scope == "dedicated" else None)
            except ModelVersion.DoesNotExist as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
                continue
            self.message_user(request, f"Rolled back to v{mv.version}.")


@admin.register(ModelRollout)
class ModelRolloutAdmin(RoleAdmin):
    """Where each ramp stands: its step, the last check's guardrails, and why it ended."""

    list_display = ("placement", "released", "incumbent", "status", "share_now", "step_of", "started_at",
                    "last_verdict", "reason")
    list_filter = ("status", "placement")
    readonly_fields = [f.name for f in ModelRollout._meta.fields] + ["guardrails"]
    actions = ["check_now", "cancel"]

    def has_add_permission(self, request):
        return False  # ramps start from a model version ("Release gradually") or `rollout_model start`

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A ramp is part of its model version's history: whoever may delete versions (which deletes their
        # ramps) may delete ramps, nobody else.
        return request.user.has_perm("ranking.delete_modelversion")

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("ranking.activate_model")

    @admin.display(description="released")
    def released(self, obj):
        return f"v{obj.candidate.version}" if obj.candidate_id else f"variants {', '.join(map(str, obj.variant_ids))}"

    @admin.display(description="share now")
    def share_now(self, obj):
        return f"{obj.share:.0%}" if obj.status == ModelRollout.Status.RAMPING else "–"

    @admin.display(description="step")
    def step_of(self, obj):
        return f"{obj.step_index + 1} of {len(obj.steps)}"

    @admin.display(description="last check")
    def last_verdict(self, obj):
        check = obj.last_check or {}
        return f"{check.get('action', '–')}: {check.get('reason', '')}" if check else "not checked yet"

    @admin.display(description="guardrails at the last check")
    def guardrails(self, obj):
        rows = (obj.last_check or {}).get("guardrails", [])
        return format_html_join(
            "", "<div><b>{}</b> {}: {}</div>",
            ((g["name"], "ok" if g["passed"] else "BREACHED", g["detail"]) for g in rows)) or "not checked yet"

    @admin.action(description="Check the selected ramps now", permissions=["activate"])
    def check_now(self, request, queryset):
        from .rollout import evaluate

        ramping = queryset.filter(status=ModelRollout.Status.RAMPING).select_related("placement", "candidate")
        if not ramping.exists():
            self.message_user(request, "No ramp under way among the selected (they may have ended meanwhile).",
                              messages.WARNING)
        for ramp in ramping:
            verdict = evaluate(ramp)
            level = messages.ERROR if verdict.action == "rollback" else messages.INFO
            self.message_user(request, f"{ramp.placement.slug}: {verdict.action} ({verdict.reason})", level)

    @admin.action(description="Cancel the selected ramps (the incumbent serves everyone)", permissions=["activate"])
    def cancel(self, request, queryset):
        from .rollout import cancel_rollout

        ramps = list(queryset.filter(status=ModelRollout.Status.RAMPING))
        for ramp in ramps:
            cancel_rollout(ramp, by=request.user.get_username())
        self.message_user(request, f"Cancelled {len(ramps)} ramp(s).")


@admin.register(Decision)
class DecisionAdmin(RoleAdmin):
    list_display = ("decision_id", "placement", "user_id", "bucket", "model_version", "created_at")
    list_filter = ("bucket", "placement")
    search_fields = ("user_id",)
    readonly_fields = [f.name for f in Decision._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the interaction log: the retention job prunes it, nobody deletes it by hand
