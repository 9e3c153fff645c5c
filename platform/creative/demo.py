"""The catalogue part of `manage.py demo`: placements, kits, copy, layouts, composed variants."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from .demo_context import DemoContext
from .models import CopyVariant, CreativeKit, LayoutTemplate, Placement, ServingMode, StyleVariant
from .services.combination import kit_combine
from .services.rendering import variant_render
from .services.variants import variant_publish
from .taxonomy import manual_tag_sources

DEMO_ADMIN = ("admin", "kaleido-demo")

COPIES = [
    # (headline, subline, cta, language). No copy states a count it cannot back ("12,000 people joined today"
    # written by hand would be a false claim in a financial product): social proof states Kaleido's own count of
    # the offer's conversions in the last day when there are at least 1,000, and its static line otherwise
    # (creative.dynamic_copy; filled per rank call).
    ("Gold Savings Plan: 4.5% a year", "Grow your savings with no fees", "Start saving", "en"),
    ("{conversions_24h|floor=1000} people chose Gold Savings today || Savers like you choose Gold Savings",
     "See why your neighbours like it", "Join them", "en"),
    ("Only 3 days left: bonus rate", "Open before Sunday and earn 0.5% extra", "Claim bonus", "en"),
    ("Backed by a licensed bank", "Your deposit is protected up to 500,000", "Learn more", "en"),
    ("Put spare cash to work", "Move money in and out any time", "Open plan", "en"),
    ("稳健理财，年化4.5%", "零手续费，随存随取", "立即开通", "zh"),
    ("今日已有{conversions_24h|floor=1000}人选择黄金储蓄 || 大家都在选的黄金储蓄", "看看大家为什么选择黄金储蓄", "一起加入", "zh"),
    ("限时3天 加息0.5%", "周日前开通即享额外收益", "马上领取", "zh"),
    ("持牌银行 安心之选", "存款保障高达50万元", "了解详情", "zh"),
    ("新人专享红包 最高88元", "首次存入即可领取现金红包", "领红包", "zh"),
]

BANNER_LAYOUTS = [
    # name, kind, button colour, font scale, text position, background style, tags
    ("Full image, blue button", "single_image_text", "#1F6FEB", 1.0, "left", "image",
     {"layout": ["single"], "button_color": ["blue"], "font_scale": ["regular"], "text_position": ["left"]}),
    ("Full image, red button, large type", "single_image_text", "#E8322E", 1.25, "left", "image",
     {"layout": ["single"], "button_color": ["red"], "font_scale": ["large"], "text_position": ["left"]}),
    ("Grid, red button", "grid", "#E8322E", 1.0, "left", "solid",
     {"layout": ["grid"], "button_color": ["red"], "font_scale": ["regular"], "text_position": ["left"]}),
    ("Grid, blue button, large type", "grid", "#1F6FEB", 1.25, "left", "solid",
     {"layout": ["grid"], "button_color": ["blue"], "font_scale": ["large"], "text_position": ["left"]}),
]
CARD_LAYOUTS = [
    ("Image left, gold button", "left_image", "#C9A227", 1.0, "left", "gradient",
     {"layout": ["left_image"], "button_color": ["gold"], "font_scale": ["regular"], "text_position": ["right"]}),
    ("List, green button", "list", "#1E9E5A", 1.0, "left", "solid",
     {"layout": ["list"], "button_color": ["green"], "font_scale": ["regular"], "text_position": ["right"]}),
]

PLACEMENTS = [
    # slug, name, width, height, surface, layouts, cap
    ("wealth-home-banner", "Wealth home banner", 750, 300, "banner", BANNER_LAYOUTS, 240),
    ("wealth-tab-card", "Wealth tab card", 343, 160, "card", CARD_LAYOUTS, 200),
]


@transaction.atomic
def seed_catalogue(ctx: DemoContext) -> None:
    """Two placements, each with a kit of 10 copies (en + zh) and its layouts. Safe to re-run."""
    for slug, name, width, height, surface, layouts, cap in PLACEMENTS:
        placement, _ = Placement.objects.get_or_create(
            slug=slug, defaults={"name": name, "width": width, "height": height, "surface": surface,
                                 "default_mode": ServingMode.RANDOM},
        )
        kit, created = CreativeKit.objects.get_or_create(
            placement=placement, name=f"{name}: Gold Savings", defaults={"offer_name": "Gold Savings Plan",
                                                                         "max_variants": cap})
        if created:
            for headline, subline, cta, language in COPIES:
                CopyVariant.objects.create(kit=kit, headline=headline, subline=subline, cta=cta, language=language,
                                           tags={"language": [language]},
                                           tag_sources=manual_tag_sources(["language"]))
            for lname, kind, button, scale, position, background, tags in layouts:
                LayoutTemplate.objects.create(
                    kit=kit, name=lname, kind=kind, button_color=button, font_scale=scale, text_position=position,
                    background_style=background, background_color="#F6F2E8", tags=tags,
                    tag_sources=manual_tag_sources(tags),
                )
        ctx.placements.append(placement)
        ctx.kits.append(kit)
    ctx.say(f"Catalogue: {len(ctx.placements)} placements, {len(ctx.kits)} kits, "
            f"{sum(k.copies.count() for k in ctx.kits)} copies, {sum(k.layouts.count() for k in ctx.kits)} layouts.")


def compose_variants(ctx: DemoContext) -> None:
    """Combine each kit, render every variant, publish them and set the control design."""
    for kit in ctx.kits:
        result = kit_combine(kit=kit)
        pending = StyleVariant.objects.filter(kit=kit).select_related("copy", "image", "layout", "placement")
        rendered = 0
        for variant in pending:
            if not variant.rendered_image:
                variant_render(variant=variant)
                rendered += 1
            if variant.status in ("draft", "approved"):
                variant_publish(variant=variant)
        placement = kit.placement
        if placement.control_variant_id is None:
            placement.control_variant = StyleVariant.objects.filter(kit=kit).order_by("id").first()
            placement.save(update_fields=["control_variant"])
        live = StyleVariant.objects.filter(placement=placement, status="live").count()
        ctx.say(f"{placement.slug}: {result.created} new combinations ({result.excluded} excluded by rules), "
                f"{rendered} rendered at {placement.width}×{placement.height}, {live} live variants.")


def print_access(ctx: DemoContext) -> None:
    from access.services import api_key_create

    username, password = DEMO_ADMIN
    user_model = get_user_model()
    if not user_model.objects.filter(username=username).exists():
        user_model.objects.create_superuser(username, "admin@example.com", password)
    issued = api_key_create(name="demo BFF", scopes=["rank", "events", "analytics:read"])
    ctx.say("")
    ctx.say(f"Admin:      {ctx.base_url}/admin/   (user '{username}', password '{password}')")
    ctx.say(f"Dashboard:  {ctx.base_url}/dashboard/")
    ctx.say(f"API docs:   {ctx.base_url}/api/docs/")
    ctx.say(f"Health:     {ctx.base_url}/healthz (alive)  {ctx.base_url}/readyz (ready, with each check)")
    ctx.say(f"Metrics:    {ctx.base_url}/metrics (Prometheus; loopback or KALEIDO_METRICS_TOKEN only)")
    ctx.say(f"API key (rank, events, analytics:read): {issued.secret}")
    ctx.say(f"Try it:     curl -s -X POST {ctx.base_url}/api/v1/rank -H 'Authorization: Api-Key {issued.secret}' "
            "-H 'Content-Type: application/json' "
            "-d '{\"placement\": \"wealth-home-banner\", \"user\": {\"id\": \"u-1\", \"features\": {\"age\": 27}}, \"k\": 3}'")
