"""Operators' admin: register base models and LoRA styles, start jobs from a kit, watch, accept, tag."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from access.admin_guard import RoleAdmin
from creative.models import CreativeKit, ImageMaterial
from creative.taxonomy import validate_tags

from . import services
from .models import BaseModel, GenerationJob, LoraStyle
from .registry import base_model_register, check_base_model, check_lora, lora_register
from .tagging import kit_autotag, tags_set_manual


class BaseModelForm(forms.ModelForm):
    class Meta:
        model = BaseModel
        fields = ["name", "family", "path", "default_scheduler", "default_steps", "default_guidance",
                  "default_width", "default_height", "dtype", "is_active"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:  # the same checks as base_model_register: inside MODEL_ROOT, safetensors only
            check_base_model(path=data["path"], family=data["family"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data


@admin.register(BaseModel)
class BaseModelAdmin(RoleAdmin):
    form = BaseModelForm
    list_display = ["name", "family", "path", "cross_attention_dim", "default_steps", "dtype", "is_active"]
    list_filter = ["family", "is_active"]
    readonly_fields = ["cross_attention_dim", "created_at"]

    def save_model(self, request, obj, form, change):
        fields = {k: v for k, v in form.cleaned_data.items() if k not in ("name", "path", "family")}
        base_model_register(name=obj.name, path=obj.path, family=obj.family, instance=obj, **fields)


class LoraStyleForm(forms.ModelForm):
    class Meta:
        model = LoraStyle
        fields = ["name", "base_model", "path", "trigger_words", "default_weight", "implied_tags"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            check_lora(path=data["path"], base_model=data["base_model"])
            validate_tags(data.get("implied_tags") or {}, field="implied_tags")
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data


@admin.register(LoraStyle)
class LoraStyleAdmin(RoleAdmin):
    form = LoraStyleForm
    list_display = ["name", "base_model", "path", "trigger_words", "default_weight", "implied_tags"]
    list_filter = ["base_model__family"]
    readonly_fields = ["cross_attention_dim", "created_at"]

    def save_model(self, request, obj, form, change):
        lora_register(name=obj.name, path=obj.path, base_model=obj.base_model, instance=obj,
                      implied_tags=form.cleaned_data.get("implied_tags"), trigger_words=obj.trigger_words,
                      default_weight=obj.default_weight)


class GeneratedImageInline(admin.TabularInline):
    """The job's images: preview, tags (editing a group makes it manual), how each was made."""

    model = ImageMaterial
    fk_name = "generation_job"
    fields = ["preview", "job_index", "tags", "tag_sources", "provenance"]
    readonly_fields = ["preview", "job_index", "tag_sources", "provenance"]
    extra = 0
    can_delete = True
    show_change_link = True

    @admin.display(description="image")
    def preview(self, obj):
        if not obj.file:
            return "-"
        return format_html('<img src="{}" style="max-height:96px;max-width:240px">', obj.file.url)

    def has_add_permission(self, request, obj=None):
        return False


class GenerationJobForm(forms.ModelForm):
    init_upload = forms.ImageField(required=False, label="Init image (image-to-image)")

    class Meta:
        model = GenerationJob
        fields = ["kit", "backend", "base_model", "prompt_template", "negative_prompt", "mixes", "images_per_mix",
                  "width", "height", "seed", "steps", "guidance", "scheduler", "strength"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("width", "height", "seed", "steps", "guidance"):
            if name not in self.fields:  # read-only once the job exists
                continue
            self.fields[name].required = False
            self.fields[name].help_text = (self.fields[name].help_text + " Empty: from the model or placement.").strip()
        if "mixes" in self.fields:
            self.fields["mixes"].help_text = ('A list of {style: weight} mixes, e.g. [{"flat": 1.0}, {"clay": 0.8}]. '
                                              "Procedural styles: flat, clay, photo, illustration, neon, gold.")


@admin.register(GenerationJob)
class GenerationJobAdmin(RoleAdmin):
    form = GenerationJobForm
    list_display = ["id", "kit", "backend", "base_model", "status", "progress_bar", "images_made", "created_at",
                    "accepted_at"]
    list_filter = ["status", "backend"]
    search_fields = ["kit__name", "prompt_template"]
    inlines = [GeneratedImageInline]
    actions = ["start_jobs", "cancel_jobs", "accept_images", "autotag_kits"]
    readonly_fields = ["status", "progress", "error", "step_timings", "started_at", "finished_at", "accepted_at"]

    @admin.display(description="progress")
    def progress_bar(self, obj):
        return format_html('<progress value="{}" max="100"></progress> {}%', int(obj.progress), int(obj.progress))

    @admin.display(description="images")
    def images_made(self, obj):
        return f"{obj.images.count()}/{obj.total_images}"

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.pk:  # a job is a record of what ran: its recipe is fixed once created
            return [*self.form.Meta.fields, *self.readonly_fields]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        upload = data.get("init_upload")
        job = services.job_create(
            kit=data["kit"], backend=data.get("backend"), base_model=data.get("base_model"),
            prompt_template=data.get("prompt_template"), negative_prompt=data.get("negative_prompt") or "",
            mixes=data.get("mixes") or None, images_per_mix=data.get("images_per_mix") or 1,
            width=data.get("width"), height=data.get("height"), seed=data.get("seed"), steps=data.get("steps"),
            guidance=data.get("guidance"), scheduler=data.get("scheduler"), strength=data.get("strength") or 0.5,
            init_image=upload.read() if upload else None,
        )
        obj.pk = job.pk
        obj.refresh_from_db()
        services.job_start(job=job)
        self.message_user(request, f"Job {job.pk} queued on the gpu queue.", messages.SUCCESS)

    def save_formset(self, request, form, formset, change):
        # An operator's edit of an image's tags marks those groups manual so auto-tagging keeps them.
        edited: list[tuple[ImageMaterial, set[str]]] = []
        for inline_form in formset.forms:
            if inline_form.instance.pk and "tags" in inline_form.changed_data:
                before = inline_form.initial.get("tags") or {}
                after = inline_form.cleaned_data.get("tags") or {}
                groups = {g for g in set(before) | set(after) if before.get(g) != after.get(g)}
                edited.append((inline_form.instance, groups))
        super().save_formset(request, form, formset, change)
        for image, groups in edited:
            if not ImageMaterial.objects.filter(pk=image.pk).exists():
                continue
            try:
                for group in sorted(groups):
                    tags_set_manual(image, group=group, values=(image.tags or {}).get(group) or [])
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)

    @admin.action(description="Start (queue) selected jobs", permissions=["change"])
    def start_jobs(self, request, queryset):
        for job in queryset.filter(status=GenerationJob.Status.QUEUED):
            services.job_start(job=job)
        self.message_user(request, "Queued.")

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            services.job_cancel(job=job)
        self.message_user(request, "Cancelled (running jobs stop at their next step).")

    @admin.action(description="Accept all images of selected jobs into their kits", permissions=["change"])
    def accept_images(self, request, queryset):
        kept = sum(services.job_accept(job=job, by=request.user) for job in queryset)
        self.message_user(request, f"{kept} image(s) accepted.")

    @admin.action(description="Auto-tag the kits of selected jobs (copies and images)", permissions=["change"])
    def autotag_kits(self, request, queryset):
        kits = CreativeKit.objects.filter(pk__in=queryset.values("kit_id"))
        tagged = sum(kit_autotag(kit) for kit in kits)
        self.message_user(request, f"{tagged} material(s) tagged; manual tags were kept.")
