"""The operators' console: kits with materials, combination and rendering, review and release."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from access.admin_guard import RoleAdmin

from . import autotagging, console, model_training
from .layout_gallery import edited_preview, kit_gallery
from .layout_specs import save_template, template_problems
from .layout_tags import layout_autotag
from .models import (
    CopyVariant,
    CreativeKit,
    ExclusionRule,
    ImageMaterial,
    LayoutTemplate,
    Placement,
    StyleVariant,
    TagGroup,
    TagValue,
    VariantAuditEntry,
)
from .services.combination import exclusion_rule_clean, kit_combine, kit_exclusion_counts
from .services.copy_io import copies_export, copies_import
from .services.materials import (
    material_delete,
    material_deletion_plan,
    material_parts_changed,
    served_variants,
)
from .services.rendering import outcomes_summary, variants_render, variants_rerender
from .services.variants import variant_set_tag_overrides, variants_bulk
from .taxonomy import manual_tag_sources, validate_tags
from .uploads import clean_image_upload
from .widgets import TagPickerWidget

console.install(admin.site)
# Fields of each material whose change makes a new version of its variants (re-rendered, reviewed again).
CONTENT_FIELDS = {"headline", "subline", "cta", "language", "file", "name", "kind", "font_scale", "button_color",
                  "background_style", "background_color", "text_position", "template", "color_tolerance"}


def thumbnail(url: str, height: int = 60):
    if not url:
        return "—"
    return format_html('<img src="{}" style="height:{}px;border-radius:4px" loading="lazy" alt="">', url, height)


def tags_summary(tags: dict) -> str:
    return "; ".join(f"{g}={'|'.join(v)}" for g, v in sorted((tags or {}).items()))


def autotag(material) -> None:
    """Tag a new or edited material automatically; manual tag groups are left as they are. A layout's tags
    come from its own fields (button colour, kind, font scale, text position, background)."""
    if isinstance(material, CopyVariant):
        autotagging.tagger().copy_autotag(material)
    elif isinstance(material, ImageMaterial):
        autotagging.tagger().image_autotag(material)
    elif isinstance(material, LayoutTemplate):
        layout_autotag(material)


def parts_changed(request, material, changed_fields) -> None:
    """A material's content changed: its rendered variants are rendered again and go back to review."""
    if not material.pk or not CONTENT_FIELDS & set(changed_fields or ()):
        return
    outcomes = material_parts_changed(material=material, by=request.user)
    if outcomes:
        messages.info(request, f"“{material}” changed, so its variants were rendered again: "
                               f"{outcomes_summary(outcomes)}. A live variant keeps serving its current version "
                               "until its new one is approved (Variants → “Approve the new version”).")


class TaggedMaterialForm(forms.ModelForm):
    """Tags are picked per group from the taxonomy (widgets.TagPickerWidget), then checked as everywhere."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "tags" in self.fields:
            self.fields["tags"].widget = TagPickerWidget()
            self.fields["tags"].help_text = "Open to pick a value per tag group; groups you set are never re-tagged."

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None or not hasattr(upload, "content_type"):  # unchanged on edit
            return upload
        upload.seek(0)
        try:
            return clean_image_upload(upload.read(), name=upload.name)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc

    def clean_tags(self):
        try:
            return validate_tags(self.cleaned_data.get("tags") or {})
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc


class TagValueInline(admin.TabularInline):
    model = TagValue
    extra = 1


@admin.register(TagGroup)
class TagGroupAdmin(RoleAdmin):
    list_display = ("name", "layer", "multi_valued", "values_list", "description")
    list_filter = ("layer",)
    inlines = [TagValueInline]

    @admin.display(description="values")
    def values_list(self, obj):
        return ", ".join(v.value for v in obj.values.all())


def protect_served(found: tuple, variants) -> tuple:
    """Django's get_deleted_objects answer, with the served variants among `variants` added as protected:
    deleting a placement, kit or variant is refused (Django's "protected objects" page, nothing deleted)
    while one of them has served traffic. Such variants are retired, never deleted."""
    deleted, counts, perms_needed, protected = found
    served = served_variants(variants).select_related("placement")[:50]
    return deleted, counts, perms_needed, [
        *protected, *(f"variant {v} ({v.status}: it has served traffic; retire it instead)" for v in served)]


def training_report(summary: dict | None) -> tuple[str, int]:
    """The operator's words for a training run's summary (ranking.retraining.retrain_placement), and a level."""
    if summary is None:
        return ("Not enough logged traffic to train a model yet: publish variants, let them serve (random or "
                "experiment traffic), then try again.", messages.WARNING)
    gate = summary.get("gate") or {}
    auc = summary.get("auc")
    head = f"Trained v{summary['model_version']} on {summary.get('rows', 0)} rows" + (
        f" (holdout AUC {auc:.3f})" if auc is not None else "")
    if summary.get("activated"):
        return f"{head}. It passed the activation gate and now serves the model bucket.", messages.SUCCESS
    reasons = "; ".join(gate.get("reasons") or []) or "the gate refused it"
    return (f"{head}. Not activated: {reasons}. The model serving before (if any) keeps serving.",
            messages.WARNING)


@admin.register(Placement)
class PlacementAdmin(RoleAdmin):
    list_display = ("slug", "name", "width", "height", "surface", "default_mode", "live_variants")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("slug", "name")
    raw_id_fields = ("control_variant",)
    actions = ["train_model_now"]
    # Plain words for the placement's settings (the model's own names are for programmers).
    PLAIN = {
        "default_mode": "What this placement shows while no experiment runs: the control design, any live "
                        "variant at random, or the trained model's choice for each user.",
        "exploration_policy": "How the model keeps trying designs it is unsure about.",
        "exploration_epsilon": "Largest share of the model's traffic (0.05 = 5%) that tries another live design "
                               "instead of the model's favourite, so the model keeps learning. It shrinks as the "
                               "designs gather impressions, never below 1%.",
        "new_variant_impressions": "A newly published variant (well behind the others) is shown extra until it has "
                                   "been seen this many times.",
        "control_variant": "The default design: what the control bucket sees, and the fallback.",
    }
    POLICY_LABELS = {"epsilon_greedy": "Mostly the favourite, sometimes another design (share below, shrinking with evidence)",
                     "thompson": "Try designs in proportion to how likely each is to be the best"}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in self.PLAIN:
            field.help_text = self.PLAIN[db_field.name]
        if field is not None and db_field.name == "exploration_policy":
            field.choices = [(value, self.POLICY_LABELS.get(value, label)) for value, label in field.choices]
        return field

    def has_train_permission(self, request) -> bool:
        return request.user.has_perm("ranking.activate_model")

    @admin.action(description="Train a model now (activated only if it passes the activation gate)",
                  permissions=["train"])
    def train_model_now(self, request, queryset):
        """Queued on the cpu queue (through creative.model_training, which ranking implements); where no broker
        is configured the training runs at once and its verdict is shown here, otherwise it appears under
        Models when done."""
        if not queryset.exists():
            self.message_user(request, "No placement selected.", messages.WARNING)
        for placement in queryset:
            run = model_training.train_now(placement.pk)
            if run.ran:
                text, level = training_report(run.summary)
                self.message_user(request, f"{placement.slug}: {text}", level)
            else:
                self.message_user(request, f"{placement.slug}: training queued on the cpu queue; the new version "
                                           "and the gate's verdict appear under Models (“gate”) when it is done.")

    @admin.display(description="live variants")
    def live_variants(self, obj):
        return obj.variants.filter(status="live", blocked=False).count()

    def get_deleted_objects(self, objs, request):
        return protect_served(super().get_deleted_objects(objs, request),
                              StyleVariant.objects.filter(placement__in=list(objs)))


class CopyInline(admin.TabularInline):
    model = CopyVariant
    form = TaggedMaterialForm
    fields = ("headline", "subline", "cta", "language", "tags")
    extra = 0


class ImageInline(admin.TabularInline):
    model = ImageMaterial
    form = TaggedMaterialForm
    fields = ("preview", "file", "source", "review", "tags")
    readonly_fields = ("preview", "review")  # accepted or rejected on the generation job's page
    extra = 0

    @admin.display(description="preview")
    def preview(self, obj):
        return thumbnail(obj.file.url if obj.pk and obj.file else "")


class LayoutForm(TaggedMaterialForm):
    """A layout's template and colour tolerance may be left out: the kind's default template, ΔE 6."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "color_tolerance" in self.fields:
            self.fields["color_tolerance"].required = False

    def clean_color_tolerance(self):
        value = self.cleaned_data.get("color_tolerance")
        if value is None:
            return LayoutTemplate._meta.get_field("color_tolerance").default
        if value < 0:
            raise forms.ValidationError("A tolerance is a colour difference (ΔE), 0 or more.")
        return value


class LayoutInline(admin.TabularInline):
    model = LayoutTemplate
    form = LayoutForm
    fields = ("name", "kind", "template", "font_scale", "button_color", "color_tolerance", "background_style",
              "background_color", "text_position", "tags")
    extra = 0


class ExclusionRuleForm(forms.ModelForm):
    """Both tags are checked against the taxonomy when the rule is saved (a typo would exclude nothing)."""

    class Meta:
        model = ExclusionRule
        fields = ["tag_a", "tag_b"]
        help_texts = {"tag_a": "group=value, e.g. dominant_color=red", "tag_b": "group=value, e.g. button_color=red"}

    def clean(self):
        data = super().clean()
        if self.errors or not (data.get("tag_a") or data.get("tag_b")):
            return data
        try:
            data["tag_a"], data["tag_b"] = exclusion_rule_clean(tag_a=data.get("tag_a", ""), tag_b=data.get("tag_b", ""))
        except ValidationError as exc:
            console.form_add_errors(self, exc)
        return data


class ExclusionInline(admin.TabularInline):
    model = ExclusionRule
    form = ExclusionRuleForm
    extra = 0
    verbose_name = "exclusion rule (two tags never in one variant)"


KIT_STEPS = {"combine": "Generate combinations", "render": "Render variants"}


@admin.register(CreativeKit)
class CreativeKitAdmin(RoleAdmin):
    list_display = ("name", "placement", "offer_name", "materials", "variant_count", "lifecycle", "preview_link")
    list_filter = ("placement",)
    inlines = [CopyInline, ImageInline, LayoutInline, ExclusionInline]
    actions = ["generate_combinations", "render_variants", "autotag_materials"]
    change_form_template = "admin/creative/change_form_with_notice.html"  # "Saving…" while tagging runs
    readonly_fields = ("next_steps", "lifecycle", "rule_effects")
    fieldsets = [
        (None, {"fields": ("placement", "name", "offer_name", "max_variants")}),
        ("Where this kit stands", {"fields": ("next_steps", "lifecycle", "rule_effects")}),
    ]

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets if obj is not None else self.fieldsets[:1]

    def save_formset(self, request, form, formset, change):
        changed = {f.instance.pk: f.changed_data for f in formset.forms if f.instance.pk}
        instances = formset.save()
        for instance in instances:
            if isinstance(instance, CopyVariant | ImageMaterial | LayoutTemplate):
                autotag(instance)
                parts_changed(request, instance, changed.get(instance.pk))

    @admin.display(description="next steps")
    def next_steps(self, obj):
        """The work in order, as buttons: images, combinations, render, review in the preview grid."""
        steps = [format_html('<a class="button" href="{}?kit={}">1. Generate images</a>',
                             reverse("admin:generation_generationjob_add"), obj.pk)]
        for number, (step, label) in enumerate(KIT_STEPS.items(), start=2):
            steps.append(format_html('<button type="submit" class="button" formmethod="post" formaction="{}" '
                                     'formnovalidate>{}. {}</button>',
                                     reverse("admin:creative_kit_step", args=[obj.pk, step]), number, label))
        steps.append(format_html('<a class="button" href="{}">4. Review in the preview grid</a>',
                                 reverse("admin:creative_kit_preview", args=[obj.pk])))
        steps.append(format_html('<a class="button" href="{}">Layout templates (live preview)</a>',
                                 reverse("admin:creative_kit_layouts", args=[obj.pk])))
        return format_html_join(" ", "{}", ((step,) for step in steps))

    @admin.display(description="lifecycle")
    def lifecycle(self, obj):
        counts = dict(obj.variants.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        parts = [f"{counts.get(status, 0)} {status}" for status in ("draft", "approved", "live", "paused", "retired")]
        pending = obj.images.filter(review=ImageMaterial.Review.PENDING).count()
        revisions = obj.variants.exclude(pending_revision={}).count()
        unrendered = obj.variants.filter(rendered_image="").count()
        extra = [f"{pending} image(s) awaiting review"] if pending else []
        extra += [f"{revisions} new version(s) awaiting approval"] if revisions else []
        extra += [f"{unrendered} not rendered yet"] if unrendered else []
        return " · ".join(parts + extra)

    @admin.display(description="exclusion rules")
    def rule_effects(self, obj):
        counts = kit_exclusion_counts(obj)
        if not counts:
            return "No rules: every combination is made."
        return format_html("<ul>{}</ul>", format_html_join(
            "", "<li>{} {}: excludes {} combination(s){}</li>",
            ((r, "(every kit)" if r.kit_id is None else "", n, "" if n else " — check that the tags are really "
              "on the materials") for r, n in counts)))

    def step_view(self, request, kit_id: int, step: str):
        """One step of the kit's work from its page (POST only); the kit page opens again with the outcome."""
        kit = get_object_or_404(CreativeKit, pk=kit_id)
        back = HttpResponseRedirect(reverse("admin:creative_creativekit_change", args=[kit.pk]))
        if request.method != "POST" or step not in KIT_STEPS:
            self.message_user(request, f"Unknown step “{step[:40]}”." if step not in KIT_STEPS else
                              "Use the buttons on the kit page.", messages.ERROR)
            return back
        queryset = CreativeKit.objects.filter(pk=kit.pk)
        (self.generate_combinations if step == "combine" else self.render_variants)(request, queryset)
        return back

    def get_deleted_objects(self, objs, request):
        return protect_served(super().get_deleted_objects(objs, request),
                              StyleVariant.objects.filter(kit__in=list(objs)))

    @admin.display(description="copies × images × layouts")
    def materials(self, obj):
        return f"{obj.copies.count()} × {obj.images.count()} × {obj.layouts.count()}"

    @admin.display(description="variants")
    def variant_count(self, obj):
        return obj.variants.count()

    @admin.display(description="preview")
    def preview_link(self, obj):
        return format_html('<a href="{}">preview grid</a>', reverse("admin:creative_kit_preview", args=[obj.pk]))

    @admin.action(description="Generate combinations (copy × image × layout)", permissions=["change"])
    def generate_combinations(self, request, queryset):
        if not queryset.exists():
            self.message_user(request, "No kit selected (it may have been deleted meanwhile).", messages.WARNING)
        for kit in queryset:
            result = kit_combine(kit=kit)
            self.message_user(request, f"{kit}: {result.created} new variants, {result.existing} already there, "
                                       f"{result.excluded} excluded by rules, {result.capped} over the cap.")

    @admin.action(description="Auto-tag copy and images (manual tags are kept)", permissions=["change"])
    def autotag_materials(self, request, queryset):
        tagged = sum(autotagging.tagger().kit_autotag(kit) for kit in queryset)
        self.message_user(request, f"Auto-tagged {tagged} materials; groups set by hand were left as they were.")

    @admin.action(description="Render variants that have no image yet", permissions=["change"])
    def render_variants(self, request, queryset):
        pending = StyleVariant.objects.filter(kit__in=queryset, rendered_image="").select_related(
            "copy", "image", "layout", "placement")
        self.message_user(request, f"Rendered {variants_render(variants=pending)} variants. Next: review them "
                                   "in the preview grid.")

    def get_urls(self):
        custom = [path("<int:kit_id>/preview/", self.guarded_view(self.preview_view, "view"),
                       name="creative_kit_preview"),
                  path("<int:kit_id>/step/<slug:step>/", self.guarded_view(self.step_view, "change"),
                       name="creative_kit_step"),
                  path("<int:kit_id>/layouts/", self.guarded_view(self.layouts_view, "view"),
                       name="creative_kit_layouts")]
        return custom + super().get_urls()

    def preview_view(self, request, kit_id: int):
        """All of a kit's variants as a grid of thumbnails, with the bulk review actions the user may run
        (each needs the same permission as on the variant list; 403 without it)."""
        kit = get_object_or_404(CreativeKit, pk=kit_id)
        variants = kit.variants.select_related("copy").order_by("status", "id")
        status = request.GET.get("status")
        if status:
            variants = variants.filter(status=status)
        variant_admin = self.admin_site._registry[StyleVariant]
        if request.method == "POST":
            action = request.POST.get("action", "")
            if action not in REVIEW_ACTIONS:
                self.message_user(request, f"Unknown action “{action}”.", messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            if not variant_admin.may_review(request, action):
                raise PermissionDenied
            chosen = kit.variants.filter(pk__in=request.POST.getlist("variant"))
            if action in CONFIRM_ACTIONS and request.POST.get("confirm") != "yes":
                return confirm_page(self, request, chosen, action, field="variant")
            bulk_review(self, request, chosen, action, REVIEW_ACTIONS[action][0])
            return HttpResponseRedirect(request.get_full_path())
        context = {**self.admin_site.each_context(request), "kit": kit, "variants": variants,
                   "title": f"Preview: {kit}", "opts": self.model._meta, "status": status,
                   "actions": [(a, d) for a, (d, _) in REVIEW_ACTIONS.items() if variant_admin.may_review(request, a)]}
        return render(request, "admin/creative/kit_preview.html", context)


    def layouts_view(self, request, kit_id: int):
        """Every layout template drawn with this kit's copy and art, and a template's JSON edited with a live
        preview; saving it (change permission) adds it to the designers' folder for every kit."""
        kit = get_object_or_404(CreativeKit.objects.select_related("placement"), pk=kit_id)
        source, errors, edited, saved = request.POST.get("spec", ""), {}, None, ""
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            edited, errors, spec = edited_preview(kit, source)
            if spec is not None and request.POST.get("save") == "yes":
                save_template(spec)
                saved = spec["name"]
                self.message_user(request, f"Template “{saved}” saved; layouts naming it use it from their next "
                                           "render.")
        context = {**self.admin_site.each_context(request), "kit": kit, "opts": self.model._meta,
                   "title": f"Layout templates: {kit}", "gallery": kit_gallery(kit), "edited": edited,
                   "errors": errors, "source": source, "problems": template_problems(),
                   "can_edit": self.has_change_permission(request)}
        return render(request, "admin/creative/layout_gallery.html", context, status=400 if errors else 200)


class MaterialAdmin(RoleAdmin):
    """Deleting a material retires (and keeps) its variants that served traffic; see services.materials."""

    form = TaggedMaterialForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "tags" in form.changed_data:
            # An operator's edit makes those groups manual: auto-tagging never overwrites them again.
            obj.tag_sources.update(manual_tag_sources(obj.tags))
            obj.save(update_fields=["tag_sources"])
        autotag(obj)
        if change:
            parts_changed(request, obj, form.changed_data)

    def get_deleted_objects(self, objs, request):
        """The confirmation page lists what the deletion really does: the material, its variants that never
        served (deleted with it), and those that did (retired and kept)."""
        deleted, perms_needed = [], set()
        counts = {self.opts.verbose_name_plural: 0}
        if not self.has_delete_permission(request):
            perms_needed.add(self.opts.verbose_name)
        for material in objs:
            plan = material_deletion_plan(material=material)
            counts[self.opts.verbose_name_plural] += 1
            entry = [f"variant {v} (never served: deleted)" for v in plan.delete[:50]]
            entry += [f"variant {v} ({v.status}: it has served traffic; retired and kept, not deleted)"
                      for v in plan.keep[:50]]
            deleted += [f"{self.opts.verbose_name}: {material}", entry]
            if plan.delete:
                counts["variants deleted"] = counts.get("variants deleted", 0) + len(plan.delete)
            if plan.keep:
                counts["variants retired and kept"] = counts.get("variants retired and kept", 0) + len(plan.keep)
        return deleted, counts, perms_needed, []

    def delete_model(self, request, obj):
        self._tell(request, material_delete(material=obj, by=request.user))

    def delete_queryset(self, request, queryset):
        for material in queryset:
            self._tell(request, material_delete(material=material, by=request.user))

    def _tell(self, request, outcome) -> None:
        self.message_user(request, outcome.summary(), messages.WARNING if outcome.kept_variants else messages.INFO)


COPY_TEMPLATE_CSV = ("headline,subline,cta,language,tag:appeal,tag:tone\r\n"
                     "Earn 4% on your savings,No fees; withdraw any time,Open now,en,benefit|urgency,friendly\r\n")


class CopyImportForm(forms.Form):
    kit = forms.ModelChoiceField(queryset=CreativeKit.objects.all())
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX with columns headline, subline, cta, language, "
                                     "and optional tag:<group> columns (values joined by |).")


@admin.register(CopyVariant)
class CopyVariantAdmin(MaterialAdmin):
    list_display = ("headline", "subline", "cta", "language", "kit", "tag_list", "sources")
    list_filter = ("language", "kit")
    search_fields = ("headline", "subline", "cta")
    actions = ["export_csv", "export_xlsx"]
    change_list_template = "admin/creative/copyvariant_changelist.html"

    @admin.display(description="tags")
    def tag_list(self, obj):
        return tags_summary(obj.tags)

    @admin.display(description="tag sources")
    def sources(self, obj):
        return ", ".join(f"{g}: {s.get('source')}" for g, s in sorted(obj.tag_sources.items()))

    def get_urls(self):
        custom = [path("import/", self.guarded_view(self.import_view, "add"), name="creative_copy_import"),
                  path("template.csv", self.guarded_view(self.template_view, "view"), name="creative_copy_template")]
        return custom + super().get_urls()

    def template_view(self, request):
        """A CSV with the import's columns and one example row, to fill in a spreadsheet."""
        response = HttpResponse(COPY_TEMPLATE_CSV, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="copy-variants-template.csv"'
        return response

    def import_view(self, request):
        form = CopyImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = copies_import(kit=form.cleaned_data["kit"], data=upload.read(), filename=upload.name)
            except ValidationError as exc:
                for message in exc.messages[:20]:
                    form.add_error("file", message)
            else:
                autotagging.tagger().copies_autotag(result.copies)  # one encoder batch for the whole file
                self.message_user(request, f"Imported {result.created} copies ({result.unchanged} already there).")
                return HttpResponseRedirect(reverse("admin:creative_copyvariant_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import copy variants",
                   "opts": self.model._meta}
        return render(request, "admin/creative/copy_import.html", context)

    def _export(self, queryset, fmt: str) -> HttpResponse:
        content_type = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
                        else "text/csv; charset=utf-8")
        response = HttpResponse(copies_export(copies=queryset.select_related("kit"), fmt=fmt),
                                content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="copies.{fmt}"'
        return response

    @admin.action(description="Export selected copies to CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return self._export(queryset, "csv")

    @admin.action(description="Export selected copies to XLSX", permissions=["view"])
    def export_xlsx(self, request, queryset):
        return self._export(queryset, "xlsx")


class ImageUploadForm(forms.Form):
    kit = forms.ModelChoiceField(queryset=CreativeKit.objects.all())


@admin.register(ImageMaterial)
class ImageMaterialAdmin(MaterialAdmin):
    list_display = ("preview", "kit", "source", "review", "width", "height", "tag_list")
    list_filter = ("source", "review", "kit")
    readonly_fields = ("provenance", "width", "height", "review")
    change_list_template = "admin/creative/imagematerial_changelist.html"

    def get_urls(self):
        custom = [path("upload/", self.guarded_view(self.upload_view, "add"), name="creative_image_upload")]
        return custom + super().get_urls()

    def upload_view(self, request):
        """Several images, or zips of them, into one kit; each checked alone (services.image_upload)."""
        from .services.image_upload import images_upload

        form = ImageUploadForm(request.POST or None, initial={"kit": request.GET.get("kit")})
        if request.method == "POST" and form.is_valid():
            files = request.FILES.getlist("files")
            if not files:
                form.add_error(None, "Choose one or more images (or zip archives of images).")
            else:
                result = images_upload(kit=form.cleaned_data["kit"], files=((f.name, f.read()) for f in files))
                for material in result.created:
                    autotag(material)
                self.message_user(request, f"Added {len(result.created)} image(s) to {form.cleaned_data['kit']}.",
                                  messages.SUCCESS if result.created else messages.WARNING)
                for problem in result.problems[:20]:
                    self.message_user(request, problem, messages.WARNING)
                if len(result.problems) > 20:
                    self.message_user(request, f"… and {len(result.problems) - 20} more refused.", messages.WARNING)
                return HttpResponseRedirect(reverse("admin:creative_imagematerial_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Upload many images",
                   "opts": self.model._meta}
        return render(request, "admin/creative/image_upload.html", context)

    @admin.display(description="preview")
    def preview(self, obj):
        return thumbnail(obj.file.url if obj.file else "")

    @admin.display(description="tags")
    def tag_list(self, obj):
        return tags_summary(obj.tags)


@admin.register(LayoutTemplate)
class LayoutTemplateAdmin(MaterialAdmin):
    form = LayoutForm
    list_display = ("name", "kit", "kind", "template", "button_color", "font_scale", "text_position")
    list_filter = ("kind", "kit")


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(f"{v.group.name}={v.value}", f"{v.group.name} = {v.value}")
                for v in TagValue.objects.select_related("group")]

    def queryset(self, request, queryset):
        if not self.value() or "=" not in self.value():
            return queryset
        group, value = self.value().split("=", 1)
        # Tags are JSON; filtering in Python keeps this portable across SQLite and PostgreSQL.
        ids = [pk for pk, tags in queryset.values_list("pk", "tags") if value in (tags or {}).get(group, [])]
        return queryset.filter(pk__in=ids)


class AuditInline(admin.TabularInline):
    model = VariantAuditEntry
    extra = 0
    can_delete = False
    fields = ("changed_at", "action", "from_value", "to_value", "changed_by", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def bulk_review(modeladmin, request, variants, action: str, description: str) -> None:
    """Apply a review action to variants and report what changed and the first refusals."""
    changed, errors = variants_bulk(variants=variants, action=action, by=request.user)
    modeladmin.message_user(request, f"{description}: {changed} variant(s) changed.")
    for error in errors[:10]:
        modeladmin.message_user(request, error, level=messages.WARNING)
    if len(errors) > 10:
        modeladmin.message_user(request, f"… and {len(errors) - 10} more refused.", level=messages.WARNING)


# The review actions (variant list and kit preview) and the permission each needs: approving is an edit,
# everything that changes what serves needs creative.publish_variant.
REVIEW_ACTIONS = {
    "approve": ("Approve", "change"),
    "approve_publish": ("Approve and publish", "publish"),
    "publish": ("Publish approved (make live)", "publish"),
    "pause": ("Pause", "publish"),
    "retire": ("Retire (stop for good; can be restored to paused)", "publish"),
    "restore": ("Restore retired to paused", "publish"),
    "approve_revision": ("Approve the new version (it serves from now on)", "publish"),
    "discard_revision": ("Discard the new version (keep serving the current one)", "change"),
    "pin": ("Pin (first in every bucket)", "publish"), "unpin": ("Unpin", "publish"),
    "block": ("Block (never served)", "publish"), "unblock": ("Unblock", "publish"),
}
CONFIRM_ACTIONS = {"retire"}


def confirm_page(modeladmin, request, variants, action: str, *, field: str):
    """The "are you sure?" page of an action that stops variants for good; it posts the same choice again."""
    context = {**modeladmin.admin_site.each_context(request), "opts": StyleVariant._meta,
               "title": f"{REVIEW_ACTIONS[action][0]}: are you sure?", "variants": list(variants[:200]),
               "action": action, "field": field, "description": REVIEW_ACTIONS[action][0],
               "post_action": request.POST.get("action", action)}
    return TemplateResponse(request, "admin/creative/confirm_review.html", context)


def _bulk_action(action: str, description: str, permission: str):
    def run(modeladmin, request, queryset):
        if action in CONFIRM_ACTIONS and request.POST.get("confirm") != "yes":
            return confirm_page(modeladmin, request, queryset, action, field="_selected_action")
        bulk_review(modeladmin, request, queryset, action, description)

    run.__name__ = f"bulk_{action}"
    return admin.action(description=description, permissions=[permission])(run)


@admin.register(StyleVariant)
class StyleVariantAdmin(RoleAdmin):
    list_display = ("preview", "variant_key", "placement", "status", "new_version", "pinned", "blocked", "tag_list")
    list_filter = ("status", "pinned", "blocked", "placement", TagFilter)
    search_fields = ("variant_key",)
    readonly_fields = ("large_preview", "revision", "status", "pinned", "blocked", "tags", "render_spec",
                       "rendered_image", "published_at", "copy", "image", "layout", "kit", "placement", "variant_key")
    fields = ("large_preview", "revision", "placement", "kit", "variant_key", "copy", "image", "layout", "status",
              "pinned", "blocked", "tags", "tag_overrides", "render_spec", "rendered_image", "published_at")
    inlines = [AuditInline]
    list_per_page = 60
    actions = [_bulk_action(a, d, p) for a, (d, p) in REVIEW_ACTIONS.items()] + ["render"]

    def has_add_permission(self, request):
        return False  # variants come from kits (generate combinations) or import_variants

    def has_publish_permission(self, request) -> bool:
        return request.user.has_perm("creative.publish_variant")

    def may_review(self, request, action: str) -> bool:
        return getattr(self, f"has_{REVIEW_ACTIONS[action][1]}_permission")(request)

    def get_deleted_objects(self, objs, request):
        return protect_served(super().get_deleted_objects(objs, request),
                              StyleVariant.objects.filter(pk__in=[o.pk for o in objs]))

    def get_urls(self):
        custom = [path("<int:variant_id>/actual-size/", self.guarded_view(self.actual_size_view, "view"),
                       name="creative_variant_actual_size")]
        return custom + super().get_urls()

    def actual_size_view(self, request, variant_id: int):
        """The variant at its placement's real size, in a phone frame (@2x) and pixel for pixel (1:1)."""
        variant = get_object_or_404(StyleVariant.objects.select_related("placement"), pk=variant_id)
        placement = variant.placement
        half_width, half_height = max(1, placement.width // 2), max(1, placement.height // 2)
        revision = (variant.pending_revision or {}).get("rendered_image")
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "variant": variant,
                   "placement": placement, "title": f"Actual size: {variant}", "half_width": half_width,
                   "half_height": half_height, "frame_width": max(half_width + 24, 320),
                   "revision_url": StyleVariant(rendered_image=revision).image_url if revision else ""}
        return render(request, "admin/creative/variant_actual_size.html", context)

    def save_model(self, request, obj, form, change):
        if "tag_overrides" in form.changed_data:
            variant_set_tag_overrides(variant=obj, overrides=form.cleaned_data["tag_overrides"] or {},
                                      by=request.user)
        else:
            super().save_model(request, obj, form, change)

    @admin.display(description="preview")
    def preview(self, obj):
        return thumbnail(obj.image_url)

    @admin.display(description="rendered (serving)")
    def large_preview(self, obj):
        if not obj.pk:
            return "—"
        return format_html('{}<p><a class="button" href="{}">Open at actual size (phone frame)</a></p>',
                           thumbnail(obj.image_url, height=200),
                           reverse("admin:creative_variant_actual_size", args=[obj.pk]))

    @admin.display(description="new version")
    def new_version(self, obj):
        return "awaiting approval" if obj.pending_revision else ""

    @admin.display(description="new version awaiting approval")
    def revision(self, obj):
        revision = obj.pending_revision or {}
        if not revision.get("rendered_image"):
            return "none"
        url = StyleVariant(rendered_image=revision["rendered_image"]).image_url
        return format_html('{}<p>{}. The version above keeps serving until this one is approved (action '
                           '“Approve the new version”).</p>', thumbnail(url, height=200), revision.get("reason", ""))

    @admin.display(description="tags")
    def tag_list(self, obj):
        return format_html_join(" ", '<code>{}={}</code>', ((g, "|".join(v)) for g, v in sorted(obj.tags.items())))

    @admin.action(description="Render (again): live ones get a new version to approve", permissions=["change"])
    def render(self, request, queryset):
        outcomes = variants_rerender(variants=queryset.select_related("copy", "image", "layout", "placement"),
                                     by=request.user, reason="rendered again from the variant list")
        self.message_user(request, f"Rendered: {outcomes_summary(outcomes)}.")


@admin.register(VariantAuditEntry)
class VariantAuditEntryAdmin(RoleAdmin):
    """The record of who changed what: readable by everyone who may view it, changed or deleted by nobody.
    Entries outlive their variant (the foreign key is SET_NULL), so deleting a kit or a variant that never
    served does not need, and does not take, any audit entry."""

    list_display = ("changed_at", "variant_label", "action", "from_value", "to_value", "changed_by", "note")
    list_filter = ("action",)
    search_fields = ("variant_label",)
    readonly_fields = ("variant", "variant_label", "action", "from_value", "to_value", "changed_by", "changed_at",
                       "note")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
