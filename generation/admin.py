"""Operators' admin: register base models, LoRA styles, ControlNets and IP-Adapters, start jobs from a kit, watch,
accept, tag."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from access.admin_guard import RoleAdmin
from creative.console import dry_run_errors, form_add_errors
from creative.models import CreativeKit, ImageMaterial
from creative.services.materials import images_review
from creative.taxonomy import validate_tags
from creative.uploads import clean_image_upload

from . import services
from .engine.procedural import PROCEDURAL_STYLES
from .models import BaseModel, ControlNet, GenerationJob, IpAdapter, LoraStyle
from .registry import (
    base_model_register,
    check_base_model,
    check_controlnet,
    check_ip_adapter,
    check_lora,
    controlnet_register,
    ip_adapter_register,
    lora_register,
)
from .tagging import kit_autotag, tags_set_manual
from .weights_upload import weights_discard, weights_store


def upload_field() -> forms.FileField:
    return forms.FileField(required=False, label="Upload weights (.safetensors)",
                           help_text="Or upload the file here instead of copying it under MODEL_ROOT: it is stored "
                                     "under MODEL_ROOT/uploads and checked like a typed path.")


class WeightsUploadMixin:
    """An optional `.safetensors` upload instead of a path typed under MODEL_ROOT (generation.weights_upload)."""

    upload_kind = "models"

    def add_upload_field(self) -> None:
        self.fields["path"].required = False
        self.stored_upload = None

    def take_upload(self, data: dict) -> None:
        """Store the upload (if any) and use its path; a refused upload is an error on the field."""
        upload = data.get("upload")
        if upload is None:
            if not data.get("path"):
                self.add_error("path", "Give the path under MODEL_ROOT, or upload the file.")
            return
        try:
            data["path"], _ = weights_store(upload=upload, kind=self.upload_kind)
        except ValidationError as exc:
            form_add_errors(self, exc)
            return
        self.stored_upload = data["path"]

    def discard_upload(self) -> None:
        if self.stored_upload:
            weights_discard(self.stored_upload)
            self.stored_upload = None


class BaseModelForm(WeightsUploadMixin, forms.ModelForm):
    upload_kind = "base"
    upload = upload_field()

    class Meta:
        model = BaseModel
        fields = ["name", "family", "path", "default_scheduler", "default_steps", "default_guidance",
                  "default_width", "default_height", "dtype", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_upload_field()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.take_upload(data)
        if self.errors:
            return data
        try:  # the same checks as base_model_register: inside MODEL_ROOT, safetensors only
            check_base_model(path=data["path"], family=data["family"])
        except ValidationError as exc:
            self.discard_upload()
            raise forms.ValidationError(exc.messages) from exc
        return data


@admin.register(BaseModel)
class BaseModelAdmin(RoleAdmin):
    form = BaseModelForm
    list_display = ["name", "family", "path", "cross_attention_dim", "default_steps", "dtype", "is_active"]
    list_filter = ["family", "is_active"]
    readonly_fields = ["cross_attention_dim", "created_at"]

    def save_model(self, request, obj, form, change):
        fields = {k: v for k, v in form.cleaned_data.items() if k not in ("name", "path", "family", "upload")}
        base_model_register(name=obj.name, path=form.cleaned_data["path"], family=obj.family, instance=obj, **fields)


class LoraStyleForm(WeightsUploadMixin, forms.ModelForm):
    upload_kind = "lora"
    upload = upload_field()

    class Meta:
        model = LoraStyle
        fields = ["name", "base_model", "path", "trigger_words", "default_weight", "implied_tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_upload_field()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.take_upload(data)
        if self.errors:
            return data
        try:
            check_lora(path=data["path"], base_model=data["base_model"])
            validate_tags(data.get("implied_tags") or {}, field="implied_tags")
        except ValidationError as exc:
            self.discard_upload()
            raise forms.ValidationError(exc.messages) from exc
        return data


@admin.register(LoraStyle)
class LoraStyleAdmin(RoleAdmin):
    form = LoraStyleForm
    list_display = ["name", "base_model", "path", "trigger_words", "default_weight", "implied_tags"]
    list_filter = ["base_model__family"]
    readonly_fields = ["cross_attention_dim", "created_at"]

    def save_model(self, request, obj, form, change):
        lora_register(name=obj.name, path=form.cleaned_data["path"], base_model=obj.base_model, instance=obj,
                      implied_tags=form.cleaned_data.get("implied_tags"), trigger_words=obj.trigger_words,
                      default_weight=obj.default_weight)


class ControlNetForm(forms.ModelForm):
    class Meta:
        model = ControlNet
        fields = ["name", "base_model", "kind", "path", "default_scale"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:  # the same checks as controlnet_register: safetensors only, the base model's block and text widths
            check_controlnet(path=data["path"], base_model=data["base_model"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data


@admin.register(ControlNet)
class ControlNetAdmin(RoleAdmin):
    form = ControlNetForm
    list_display = ["name", "kind", "base_model", "path", "default_scale"]
    list_filter = ["kind"]
    readonly_fields = ["sha256", "created_at"]

    def save_model(self, request, obj, form, change):
        controlnet_register(name=obj.name, path=form.cleaned_data["path"], base_model=obj.base_model, kind=obj.kind,
                            instance=obj, default_scale=obj.default_scale)


class IpAdapterForm(forms.ModelForm):
    class Meta:
        model = IpAdapter
        fields = ["name", "base_model", "path", "image_encoder_path", "default_scale"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:  # the same checks as ip_adapter_register: every cross-attention layer of the base model
            check_ip_adapter(path=data["path"], image_encoder=data["image_encoder_path"],
                             base_model=data["base_model"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data


@admin.register(IpAdapter)
class IpAdapterAdmin(RoleAdmin):
    form = IpAdapterForm
    list_display = ["name", "base_model", "path", "image_encoder_path", "default_scale"]
    readonly_fields = ["sha256", "image_encoder_sha256", "created_at"]

    def save_model(self, request, obj, form, change):
        ip_adapter_register(name=obj.name, path=form.cleaned_data["path"],
                            image_encoder_path=form.cleaned_data["image_encoder_path"], base_model=obj.base_model,
                            instance=obj, default_scale=obj.default_scale)


class GeneratedImageInline(admin.TabularInline):
    """The job's images: preview, accept or reject each (only accepted ones join the kit's combinations;
    rejected ones stay here for the record), tags (editing a group makes it manual), how each was made."""

    model = ImageMaterial
    fk_name = "generation_job"
    fields = ["preview", "job_index", "review", "tags", "tag_sources", "provenance"]
    readonly_fields = ["preview", "job_index", "tag_sources", "provenance"]
    extra = 0
    can_delete = False  # reject instead: the image stays as a record of what the job made
    show_change_link = True

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "review":
            kwargs["widget"] = forms.RadioSelect
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description="image")
    def preview(self, obj):
        if not obj.file:
            return "-"
        return format_html('<img src="{}" style="max-height:96px;max-width:240px">', obj.file.url)

    def has_add_permission(self, request, obj=None):
        return False


def style_choices() -> list[tuple[str, str]]:
    procedural = [(name, f"{name} (procedural)") for name in sorted(PROCEDURAL_STYLES)]
    loras = [(s.name, f"{s.name} (LoRA for {s.base_model.name})")
             for s in LoraStyle.objects.select_related("base_model").order_by("name")]
    return procedural + loras


class GenerationJobForm(forms.ModelForm):
    """A job is checked by the same service that creates it (services.job_create), so what it refuses (Stable
    Diffusion without a base model, a size that does not fit the placement, an unknown style …) shows on the
    form, field by field, before anything is queued."""

    init_upload = forms.ImageField(required=False, label="Init image (image-to-image)")
    mask_upload = forms.ImageField(required=False, label="Mask (inpainting)",
                                   help_text="With an init image: white where the scene is made again, black "
                                             "where the init image stays pixel for pixel (the product).")
    control_upload = forms.ImageField(required=False, label="ControlNet image",
                                      help_text="The product or brand image whose edges, line art or depth map "
                                                "the ControlNet keeps.")
    style_upload = forms.ImageField(required=False, label="Style reference image (IP-Adapter)")
    styles = forms.MultipleChoiceField(
        required=False, choices=(), widget=forms.CheckboxSelectMultiple,
        help_text="Tick the looks to make; each one is a separate set of images. Leave empty to use the "
                  "mixes box below (for several styles blended with weights).")

    class Meta:
        model = GenerationJob
        fields = ["kit", "backend", "base_model", "prompt_template", "negative_prompt", "mixes",
                  "images_per_mix", "width", "height", "seed", "steps", "guidance", "scheduler", "strength",
                  "outpaint", "controlnet", "control_scale", "ip_adapter", "ip_adapter_scale"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "styles" in self.fields:
            self.fields["styles"].choices = style_choices()
        for name in ("width", "height", "seed", "steps", "guidance"):
            if name not in self.fields:  # read-only once the job exists
                continue
            self.fields[name].required = False
            self.fields[name].initial = None  # never a fixed 512×512: empty means "fit the placement"
            self.fields[name].help_text = (self.fields[name].help_text + " Empty: from the model or placement.").strip()
        for name in ("control_scale", "ip_adapter_scale"):
            if name in self.fields:  # empty: the ControlNet's or IP-Adapter's registered default
                self.fields[name].required = False
                self.fields[name].initial = None
        kit_id = self.initial.get("kit")
        kit = CreativeKit.objects.select_related("placement").filter(pk=kit_id).first() if kit_id else None
        if kit is not None and "width" in self.fields:
            self.initial["width"], self.initial["height"] = services.size_for_placement(kit.placement)
            self.fields["width"].help_text = (f"Pre-filled to fit {kit.placement} at 512 px on the long side; "
                                              "any multiple of 8 with the same shape works.")
        if "mixes" in self.fields:
            self.fields["mixes"].required = False
            self.fields["mixes"].help_text = ('Advanced: a list of {style: weight} mixes, e.g. [{"flat": 1.0}, '
                                              '{"flat": 0.5, "neon": 0.5}]. Used when no style is ticked above.')
        plain = {
            "prompt_template": "What to draw; {offer} becomes the kit's offer and {trigger} the style's words.",
            "negative_prompt": "Stable Diffusion only: what the picture should not contain.",
            "images_per_mix": "How many pictures of each style.",
            "seed": "Same seed, same settings: the same pictures again. Empty: a new random seed.",
            "steps": "More steps: finer pictures, slower. Empty: the model's default (8 for procedural).",
            "guidance": "How closely Stable Diffusion follows the prompt (about 7). Empty: the model's default.",
            "scheduler": "Stable Diffusion's sampling method; the default suits most models.",
            "strength": "Only with an init image: 0 keeps the picture, 1 ignores it (0.4–0.6 restyles it).",
            "outpaint": "Only with an init image: extend it to this job's size (a square product shot to a wide "
                        "banner); the new margins are painted, the material kept.",
        }
        for name, text in plain.items():
            if name in self.fields:
                self.fields[name].help_text = text
        if "backend" in self.fields:
            from .workers import gpu_status_text

            self.fields["backend"].help_text = ("Procedural draws simple artwork on any machine; Stable "
                                                "Diffusion needs a registered base model and a gpu worker. "
                                                + gpu_status_text())

    def clean_init_upload(self):
        return self._image_bytes("init_upload")

    def clean_mask_upload(self):
        return self._image_bytes("mask_upload")

    def clean_control_upload(self):
        return self._image_bytes("control_upload")

    def clean_style_upload(self):
        return self._image_bytes("style_upload")

    def _image_bytes(self, name: str) -> bytes | None:
        upload = self.cleaned_data.get(name)
        if upload is None:
            return None
        upload.seek(0)
        data = upload.read()
        try:
            clean_image_upload(data, name=upload.name)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data

    def job_options(self) -> dict:
        data = self.cleaned_data
        mixes = [{name: 1.0} for name in data.get("styles") or []] or data.get("mixes") or None
        return dict(
            kit=data["kit"], backend=data.get("backend"), base_model=data.get("base_model"),
            prompt_template=data.get("prompt_template"), negative_prompt=data.get("negative_prompt") or "",
            mixes=mixes, images_per_mix=data.get("images_per_mix") or 1, width=data.get("width"),
            height=data.get("height"), seed=data.get("seed"), steps=data.get("steps"), guidance=data.get("guidance"),
            scheduler=data.get("scheduler"), strength=data.get("strength") or 0.5,
            init_image=data.get("init_upload"), mask_image=data.get("mask_upload"),
            outpaint=bool(data.get("outpaint")), controlnet=data.get("controlnet"), control_image=data.get("control_upload"),
            control_scale=data.get("control_scale"), ip_adapter=data.get("ip_adapter"),
            style_image=data.get("style_upload"), ip_adapter_scale=data.get("ip_adapter_scale"))

    def clean(self):
        data = super().clean()
        if self.errors or self.instance.pk or "kit" not in data:
            return data
        exc = dry_run_errors(lambda: services.job_create(**self.job_options()))
        if exc is not None:
            form_add_errors(self, exc, {"init_image": "init_upload", "mask_image": "mask_upload",
                                        "control_image": "control_upload", "style_image": "style_upload"})
        return data


@admin.register(GenerationJob)
class GenerationJobAdmin(RoleAdmin):
    form = GenerationJobForm
    list_display = ["id", "kit", "backend", "base_model", "status", "progress_bar", "images_made", "created_at",
                    "accepted_at"]
    list_filter = ["status", "backend"]
    search_fields = ["kit__name", "prompt_template"]
    inlines = [GeneratedImageInline]
    actions = ["start_jobs", "cancel_jobs", "accept_images", "autotag_kits"]
    change_form_template = "admin/creative/change_form_with_notice.html"  # "Saving…" while a job runs
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
        job = services.job_create(**form.job_options())
        obj.pk = job.pk
        obj.refresh_from_db()
        services.job_start(job=job)
        self.message_user(request, f"Job {job.pk} queued. When it has finished, open it, accept or reject each "
                                   "image, and save: only accepted images are combined into variants.",
                          messages.SUCCESS)

    def save_formset(self, request, form, formset, change):
        # Accept/reject per image goes through the review service (it also retires the served variants of
        # an image rejected after it was accepted); the field itself is not saved by the formset.
        accept, reject = [], []
        for inline_form in formset.forms:
            if inline_form.instance.pk and "review" in inline_form.changed_data:
                chosen = inline_form.cleaned_data.get("review")
                original = ImageMaterial.objects.get(pk=inline_form.instance.pk)
                inline_form.instance.review = original.review
                if chosen == ImageMaterial.Review.ACCEPTED:
                    accept.append(original)
                elif chosen == ImageMaterial.Review.REJECTED:
                    reject.append(original)
        # An operator's edit of an image's tags marks those groups manual so auto-tagging keeps them.
        edited: list[tuple[ImageMaterial, set[str]]] = []
        for inline_form in formset.forms:
            if inline_form.instance.pk and "tags" in inline_form.changed_data:
                before = inline_form.initial.get("tags") or {}
                after = inline_form.cleaned_data.get("tags") or {}
                groups = {g for g in set(before) | set(after) if before.get(g) != after.get(g)}
                edited.append((inline_form.instance, groups))
        super().save_formset(request, form, formset, change)
        if accept or reject:
            outcome = images_review(accept=accept, reject=reject, by=request.user)
            text = f"{outcome.accepted} image(s) accepted into the kit, {outcome.rejected} rejected (kept here)."
            if outcome.retired_variants:
                text += f" Retired {len(outcome.retired_variants)} served variant(s) of rejected images."
            self.message_user(request, text)
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

    @admin.action(description="Accept the images of selected jobs (those not rejected) into their kits",
                  permissions=["change"])
    def accept_images(self, request, queryset):
        kept = 0
        for job in queryset:
            keep = job.images.exclude(review=ImageMaterial.Review.REJECTED).values_list("pk", flat=True)
            kept += services.job_accept(job=job, keep=list(keep), by=request.user)
        self.message_user(request, f"{kept} image(s) accepted; rejected images stay rejected.")

    @admin.action(description="Auto-tag the kits of selected jobs (copies and images)", permissions=["change"])
    def autotag_kits(self, request, queryset):
        from .clip_tagger import clip_classifier
        from .tagging import zero_shot_skips

        kits = CreativeKit.objects.filter(pk__in=queryset.values("kit_id"))
        before = zero_shot_skips.copy()
        tagged = sum(kit_autotag(kit) for kit in kits)
        unsure = zero_shot_skips - before
        classifier, note = clip_classifier()
        if unsure:
            where = ", ".join(f"{group} on {n} image(s)" for group, n in sorted(unsure.items()))
            note += (f" Left untagged where CLIP was not sure (its most likely value under the minimum confidence, "
                     f"or a group with fewer than two values; the log says which): {where}.")
        self.message_user(request, f"{tagged} material(s) tagged; manual tags were kept. {note}",
                          level=messages.SUCCESS if classifier is not None else messages.WARNING)
