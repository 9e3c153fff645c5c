"""A tag picker for the admin: one list per tag group of the taxonomy instead of a JSON box.

It posts `<name>__<group>` values (and a `<name>__picker` marker); the field still receives the JSON of a
mapping group -> values, checked by taxonomy.validate_tags as before. A plain `<name>` value (JSON text, as a
script or an older form posts) is still accepted.
"""

from __future__ import annotations

import json

from django import forms
from django.utils.html import format_html, format_html_join


class TagPickerWidget(forms.Widget):
    def value_from_datadict(self, data, files, name):
        if name in data:
            return data.get(name)
        if f"{name}__picker" not in data:
            return None
        from .models import TagGroup

        picked = {}
        for group in TagGroup.objects.values_list("name", flat=True):
            values = [v for v in data.getlist(f"{name}__{group}") if v] if hasattr(data, "getlist") \
                else [data.get(f"{name}__{group}")] if data.get(f"{name}__{group}") else []
            if values:
                picked[group] = values
        return json.dumps(picked)  # as the JSON box posted it: the field parses and re-shows it the same way

    def value_omitted_from_data(self, data, files, name):
        return name not in data and f"{name}__picker" not in data

    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value or "{}")
            except ValueError:
                return {}
        return value if isinstance(value, dict) else {}

    def render(self, name, value, attrs=None, renderer=None):
        from .models import TagGroup

        current = self.format_value(value)
        summary = "; ".join(f"{g}={'|'.join(v)}" for g, v in sorted(current.items()) if v) or "no tags"
        rows = []
        for group in TagGroup.objects.prefetch_related("values").order_by("layer", "name"):
            chosen = set(current.get(group.name) or [])
            options = format_html_join("", '<option value="{}"{}>{}</option>', (
                (v.value, " selected" if v.value in chosen else "", v.value) for v in group.values.all()))
            if group.multi_valued:
                select = format_html('<select name="{}__{}" multiple size="3">{}</select>', name, group.name, options)
            else:
                select = format_html('<select name="{}__{}"><option value="">—</option>{}</select>',
                                     name, group.name, options)
            rows.append((group.name, select))
        body = format_html_join("", '<label style="display:block;margin:2px 0">{} {}</label>', rows)
        return format_html('<details class="tag-picker"><summary>{}</summary>'
                           '<input type="hidden" name="{}__picker" value="1">{}</details>', summary, name, body)
