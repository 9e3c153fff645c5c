import type { GalleryVariant } from "../api";
import { h, hasHan } from "../dom";
import { fmtInt, fmtPct } from "../format";
import { statusLabel, t } from "../i18n";
import type { PageContext } from "../main";
import { currentPlacement, empty, load, loading, openPage, placementSelect, select } from "../ui";

const STATUSES = ["live", "approved", "draft", "paused", "retired"];

export async function renderVariants(ctx: PageContext): Promise<void> {
  const page = await openPage(ctx, t("var.title"));
  if (!page) return;
  const { body, meta } = page;
  if (meta.placements.length === 0) {
    body.append(empty(t("var.empty")));
    return;
  }
  const placement = currentPlacement(ctx, meta);
  const status = ctx.params.get("status") ?? "";
  const tag = ctx.params.get("tag") ?? "";
  const q = ctx.params.get("q") ?? "";
  const sort = ctx.params.get("sort") ?? "ctr";
  const tagOptions = [{ value: "", label: t("common.all") }, ...meta.tag_groups.flatMap((g) => g.values.map((v) => ({ value: `${g.name}=${v}`, label: `${g.name} = ${v}` })))];
  const search = h("input", { type: "search", id: "variant-search", name: "q", value: q, placeholder: t("common.search"), "aria-label": t("common.search") });
  const form = h("form", {
    class: "toolbar",
    role: "search",
    onsubmit: (e: Event) => {
      e.preventDefault();
      ctx.setParams({ q: (search as HTMLInputElement).value.trim() });
    },
  },
    placementSelect(ctx, meta, placement, { tag: null }),
    select(t("common.status"), [{ value: "", label: t("common.all") }, ...STATUSES.map((s) => ({ value: s, label: statusLabel(s) }))], status, (v) => ctx.setParams({ status: v }), "status"),
    select(t("var.tag"), tagOptions, tag, (v) => ctx.setParams({ tag: v }), "tag"),
    select(t("var.sort"), [{ value: "ctr", label: t("var.sortCtr") }, { value: "impressions", label: t("var.sortImpressions") }, { value: "key", label: t("var.sortKey") }], sort, (v) => ctx.setParams({ sort: v === "ctr" ? null : v }), "sort"),
    h("label", { class: "field field--grow", for: "variant-search" }, h("span", { class: "field__label" }, t("common.search")), search));
  body.append(form);
  const list = h("div", {}, loading());
  body.append(list);

  const gallery = await load(ctx, list, ctx.api.variants({ placement, status, tag, q }));
  if (!gallery) return;
  const variants = sorted(gallery.variants, sort);
  list.append(h("p", { class: "muted", "data-testid": "variant-count" }, t("var.count", { n: fmtInt(variants.length) })));
  if (variants.length === 0) {
    list.append(empty(t("var.empty")));
    return;
  }
  // Hundreds of variants are common (10 copies × 10 images × 2 layouts): draw a page at a time.
  const grid = h("ul", { class: "gallery", "data-testid": "gallery" });
  list.append(grid);
  let shown = 0;
  const more = h("button", { type: "button", class: "btn btn--ghost more", "data-testid": "show-more" });
  const showMore = () => {
    grid.append(...variants.slice(shown, shown + PAGE_SIZE).map(tile));
    shown = Math.min(variants.length, shown + PAGE_SIZE);
    more.textContent = t("var.more", { n: fmtInt(variants.length - shown) });
    more.hidden = shown >= variants.length;
  };
  more.addEventListener("click", showMore);
  showMore();
  list.append(more);
}

const PAGE_SIZE = 48;

function sorted(variants: GalleryVariant[], sort: string): GalleryVariant[] {
  const copy = [...variants];
  if (sort === "impressions") copy.sort((a, b) => b.impressions - a.impressions);
  else if (sort === "key") copy.sort((a, b) => a.variant_key.localeCompare(b.variant_key));
  else copy.sort((a, b) => (a.ctr === null ? 1 : 0) - (b.ctr === null ? 1 : 0) || (b.ctr ?? 0) - (a.ctr ?? 0));
  return copy;
}

function tile(v: GalleryVariant): HTMLElement {
  const headlineLang = v.language || (hasHan(v.headline) ? "zh" : null);
  const image = v.image_url
    ? h("img", { class: "tile__img", src: v.image_url, alt: v.headline || v.variant_key, loading: "lazy", decoding: "async", lang: headlineLang })
    : h("div", { class: "tile__img tile__img--none" }, t("var.noImage"));
  const badges = [
    h("span", { class: `badge badge--${v.status}` }, statusLabel(v.status)),
    v.is_control ? h("span", { class: "badge badge--control" }, t("var.control")) : null,
    v.pinned ? h("span", { class: "badge" }, t("var.pinned")) : null,
    v.blocked ? h("span", { class: "badge badge--blocked" }, t("var.blocked")) : null,
  ];
  const tags = Object.entries(v.tags).flatMap(([g, values]) => values.map((value) => h("li", { class: "chip", title: g }, `${g}: ${value}`)));
  return h("li", { class: "tile", "data-variant-id": v.id, "data-variant-key": v.variant_key },
    image,
    h("div", { class: "tile__body" },
      h("div", { class: "tile__head" }, h("code", { class: "tile__key" }, v.variant_key), ...badges),
      v.headline ? h("p", { class: "tile__headline", lang: headlineLang }, v.headline) : null,
      h("dl", { class: "tile__stats" },
        h("div", {}, h("dt", {}, t("common.ctr")), h("dd", { "data-field": "ctr" }, fmtPct(v.ctr))),
        h("div", {}, h("dt", {}, t("common.impressions")), h("dd", { "data-field": "impressions" }, fmtInt(v.impressions))),
        h("div", {}, h("dt", {}, t("common.clicks")), h("dd", { "data-field": "clicks" }, fmtInt(v.clicks)))),
      tags.length ? h("ul", { class: "chips", "aria-label": t("var.tag") }, ...tags) : null));
}
