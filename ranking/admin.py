from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from access.admin_guard import RoleAdmin

from . import services
from .models import Decision, Experiment, ModelVersion


class ExperimentForm(forms.ModelForm):
    buckets_text = forms.CharField(initial="control=0.2,random=0.2,model=0.6", label="Buckets",
                                   help_text="NAME=SHARE, comma separated; shares sum to 1.")

    class Meta:
        model = Experiment
        fields = ["slug", "placement"]


@admin.register(Experiment)
class ExperimentAdmin(RoleAdmin):
    list_display = ("slug", "placement", "status", "buckets", "started_at", "stopped_at")
    list_filter = ("status", "placement")
    actions = ["stop"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ExperimentForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ("slug", "placement", "buckets", "salt", "status", "started_at", "stopped_at") if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            return  # experiments change only through start/stop
        try:
            created = services.experiment_start(slug=obj.slug, placement=obj.placement,
                                                buckets=form.cleaned_data["buckets_text"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            raise
        obj.pk = created.pk

    @admin.action(description="Stop selected experiments", permissions=["change"])
    def stop(self, request, queryset):
        for experiment in queryset:
            services.experiment_stop(slug=experiment.slug)
        self.message_user(request, f"Stopped {queryset.count()} experiment(s).")


@admin.register(ModelVersion)
class ModelVersionAdmin(RoleAdmin):
    list_display = ("version", "placement", "scope", "algo", "is_active", "artefact_status", "rows", "auc",
                    "logloss", "calibration_error", "created_at", "activated_at")
    list_filter = ("is_active", "scope", "algo", "placement")
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate", "roll_back"]

    def has_add_permission(self, request):
        return False  # versions come from training

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("ranking.activate_model")

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

    @admin.action(description="Roll back to the version active before", permissions=["activate"])
    def roll_back(self, request, queryset):
        for placement_id, scope in set(queryset.values_list("placement_id", "scope")):
            placement = queryset.filter(placement_id=placement_id).first().placement if placement_id else None
            try:
                mv = services.model_rollback(placement=placement if scope == "dedicated" else None)
            except ModelVersion.DoesNotExist as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
                continue
            self.message_user(request, f"Rolled back to v{mv.version}.")


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
